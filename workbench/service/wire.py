"""How session results cross the wire between the service and its clients.

A session's inputs and outputs are plain values — str, numbers, lists, dicts, numpy arrays and
pandas tables — so they travel as JSON with two tagged forms:

* ``{"$ndarray": <base64 .npy>}`` for an array (``numpy.save`` with ``allow_pickle=False``, so
  reading one never runs code);
* ``{"$frame": {...}}`` for a table: its columns as lists, their dtypes, the index when it is
  not the default, and ``attrs`` (where a result says, for instance, how many were suppressed);
* ``{"$bytes": <base64>}`` for bytes (a person's reads, gzipped FASTQ).

Genotype chunks, the bulk of what is read, skip JSON: a chunk is one ``.npy`` body compressed
with Blosc-LZ4 (``numcodecs``, zarr's own codecs), which shrinks genotype calls about tenfold
for a few milliseconds a chunk. Nothing is ever pickled in either direction.
"""

from __future__ import annotations

import base64
import io
import json
import math

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = [
    "array_from_bytes",
    "array_to_bytes",
    "chunk_from_bytes",
    "chunk_to_bytes",
    "decode",
    "dumps",
    "encode",
    "loads",
]

_MAX_DEPTH = 32


def array_to_bytes(a: np.ndarray) -> bytes:
    """An array as ``.npy`` bytes (no pickled objects: an object array is refused)."""
    if a.dtype.hasobject:
        raise InputError("an array of Python objects cannot be sent; send numbers or a table")
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def array_from_bytes(data: bytes) -> np.ndarray:
    """The array of ``.npy`` bytes; refuses object arrays."""
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise InputError(f"not an array in .npy form ({e})") from None


def _chunk_codec():
    from numcodecs import Blosc

    return Blosc(cname="lz4", clevel=1, shuffle=Blosc.NOSHUFFLE)


def chunk_to_bytes(a: np.ndarray) -> bytes:
    """A genotype chunk as a compressed ``.npy`` body (see the module docstring).

    The ``.npy`` header and the calls are laid out in one buffer, compressed once: no other
    copy of a chunk is made on its way out.
    """
    if a.dtype.hasobject:
        raise InputError("an array of Python objects cannot be sent; send numbers or a table")
    a = np.require(a, requirements="C")  # keeps a 0-d array 0-d
    header = io.BytesIO()  # magic, version 1.0 and the header, padded to 64 bytes
    np.lib.format.write_array_header_1_0(header, np.lib.format.header_data_from_array_1_0(a))
    head = header.getvalue()
    body = np.empty(len(head) + a.nbytes, dtype=np.uint8)
    body[: len(head)] = np.frombuffer(head, dtype=np.uint8)
    body[len(head) :] = a.reshape(-1).view(np.uint8)
    return bytes(_chunk_codec().encode(body))


def chunk_from_bytes(data: bytes) -> np.ndarray:
    """The array of a body from :func:`chunk_to_bytes`; :class:`InputError` when malformed.

    The calls are decompressed straight into the array returned (writable, no further copy).
    """
    try:
        if len(data) < 16:
            raise ValueError("shorter than a Blosc header")
        # Blosc's header: bytes 4–7 the size uncompressed, 12–15 compressed, which Blosc
        # trusts: a body cut short would be read past its end
        nbytes = int.from_bytes(data[4:8], "little")
        if int.from_bytes(data[12:16], "little") != len(data):
            raise ValueError("its length is not the one its header gives")
        raw = np.empty(nbytes, dtype=np.uint8)
        _chunk_codec().decode(data, out=raw)
        head = io.BytesIO(raw[: min(nbytes, 65_536)].tobytes())
        version = np.lib.format.read_magic(head)
        if version != (1, 0):
            raise ValueError(f".npy format {version} where 1.0 was expected")
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(head)
    except (RuntimeError, ValueError, TypeError) as e:
        raise InputError(f"not a compressed genotype chunk ({e})") from None
    if dtype.hasobject or fortran:
        raise InputError("not a compressed genotype chunk (objects or Fortran order)")
    count = math.prod(shape)
    values = raw[head.tell() :]
    if values.nbytes != count * dtype.itemsize:
        raise InputError("not a compressed genotype chunk (its size does not match its header)")
    return values.view(dtype).reshape(shape)


def _scalar(v):
    if isinstance(v, np.generic):
        v = v.item()
    if v is pd.NaT or v is pd.NA:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def encode(value, depth: int = 0):
    """``value`` as JSON-ready data (see the module docstring)."""
    if depth > _MAX_DEPTH:
        raise InputError("value nested too deeply to send")
    if isinstance(value, pd.DataFrame):
        index = (
            None
            if isinstance(value.index, pd.RangeIndex)
            else encode(
                {"name": value.index.name, "values": [_scalar(v) for v in value.index]}, depth + 1
            )
        )
        return {
            "$frame": {
                "columns": [str(c) for c in value.columns],
                "dtypes": [str(t) for t in value.dtypes],
                "data": [[_scalar(v) for v in value[c].tolist()] for c in value.columns],
                "index": index,
                "attrs": encode(dict(value.attrs), depth + 1),
            }
        }
    if isinstance(value, np.ndarray):
        return {"$ndarray": base64.b64encode(array_to_bytes(value)).decode("ascii")}
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise InputError("only str keys can be sent")
        return {k: encode(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v, depth + 1) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, str | bool | int | float):
        return value
    raise InputError(f"a {type(value).__name__} cannot be sent; send plain values")


def _column(values: list, dtype: str) -> pd.Series:
    if dtype == "bool":
        return pd.Series(values, dtype=bool)
    if dtype.startswith(("int", "uint", "float")):
        return pd.Series(values, dtype="float64" if None in values else dtype)
    return pd.Series(values, dtype=object)


def decode(data, depth: int = 0):
    """The value ``data`` (from :func:`encode`) stands for."""
    if depth > _MAX_DEPTH:
        raise InputError("value nested too deeply")
    if isinstance(data, dict):
        if set(data) == {"$ndarray"}:
            return array_from_bytes(_base64(data["$ndarray"]))
        if set(data) == {"$bytes"}:
            return _base64(data["$bytes"])
        if set(data) == {"$frame"}:
            f = data["$frame"]
            try:
                frame = pd.DataFrame(
                    {
                        c: _column(v, t)
                        for c, t, v in zip(f["columns"], f["dtypes"], f["data"], strict=True)
                    },
                    columns=f["columns"],
                )
                if f.get("index") is not None:
                    frame.index = pd.Index(f["index"]["values"], name=f["index"]["name"])
                frame.attrs.update(decode(f.get("attrs") or {}, depth + 1))
            except (KeyError, TypeError, ValueError) as e:
                raise InputError(f"not a table ({e})") from None
            return frame
        return {k: decode(v, depth + 1) for k, v in data.items()}
    if isinstance(data, list):
        return [decode(v, depth + 1) for v in data]
    return data


def _base64(text) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (TypeError, ValueError) as e:
        raise InputError(f"not base64 ({e})") from None


def dumps(value) -> bytes:
    """``value`` encoded, as UTF-8 JSON bytes."""
    return json.dumps(encode(value), ensure_ascii=False, allow_nan=False).encode("utf-8")


def loads(body: bytes):
    """The value of a JSON body written by :func:`dumps`; :class:`InputError` when malformed."""
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"the request body is not JSON ({e})") from None
    return decode(data)
