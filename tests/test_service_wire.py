"""What crosses the wire between the data-access service and its clients (service.wire)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.errors import InputError
from workbench.service import wire


def test_plain_values_tables_arrays_and_bytes_arrive_as_they_left():
    table = pd.DataFrame({"person_id": ["P1", "P2"], "ac": [3, 7], "af": [0.1, None]})
    table.attrs["suppressed"] = 2
    value = {
        "table": table,
        "calls": np.array([[[0, 1], [1, 1]]], dtype=np.int8),
        "reads": {"R1": b"\x1f\x8b\x08gzipped", "R2": b""},
        "n": 3,
        "labels": ["a", None],
    }
    back = wire.loads(wire.dumps(value))
    pd.testing.assert_frame_equal(back["table"], table, check_dtype=False)
    assert back["table"].attrs == {"suppressed": 2}
    assert back["calls"].dtype == np.int8 and (back["calls"] == value["calls"]).all()
    assert back["reads"] == value["reads"]
    assert (back["n"], back["labels"]) == (3, ["a", None])


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"$bytes": "not base64!"}', "not base64"),
        (b'{"$ndarray": "AAAA"}', "not an array"),
        (b"{not json", "not JSON"),
        (b'{"$frame": {"columns": ["a"]}}', "not a table"),
    ],
)
def test_a_malformed_body_is_refused_with_the_reason(body, problem):
    with pytest.raises(InputError, match=problem):
        wire.loads(body)


def test_objects_that_are_not_plain_values_are_never_sent():
    with pytest.raises(InputError, match="cannot be sent"):
        wire.dumps({"x": object()})
    with pytest.raises(InputError, match="cannot be sent"):
        wire.dumps({"y": {1, 2}})
    with pytest.raises(InputError, match="Python objects cannot be sent"):
        wire.dumps({"calls": np.array([object()], dtype=object)})


def test_a_genotype_chunk_crosses_compressed_and_arrives_whole():
    # mostly reference alleles, as real calls are
    calls = (np.random.default_rng(1).random((1000, 300, 2)) < 0.05).astype(np.int8)
    body = wire.chunk_to_bytes(calls)
    assert len(body) < calls.nbytes / 2
    back = wire.chunk_from_bytes(body)
    assert back.dtype == np.int8 and back.shape == calls.shape and (back == calls).all()
    back[0, 0, 0] = -1  # the caller's own array, writable
    # the body is a Blosc-compressed .npy file: any reader of both formats reads it
    import io

    assert (np.load(io.BytesIO(wire._chunk_codec().decode(body))) == calls).all()
    # Malformed bodies are refused, never read past their end
    cut, padded = body[:-7], body + b"\x00" * 7
    for bad in (b"\x00" * 64, b"\x02", cut, padded, wire._chunk_codec().encode(b"x" * 300)):
        with pytest.raises(InputError, match="not a compressed genotype chunk"):
            wire.chunk_from_bytes(bad)
    with pytest.raises(InputError, match="Python objects cannot be sent"):
        wire.chunk_to_bytes(np.array([object()], dtype=object))
