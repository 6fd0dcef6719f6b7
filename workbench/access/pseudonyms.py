"""Project-specific pseudonyms from a keyed HMAC, and the versioned service key file.

A person's internal id is low-entropy (``P00042``: anyone can list all 100,000 candidates), so
hashing it without a secret is reversible by brute force. A pseudonym here is
HMAC-SHA256(key, domain ‖ project ‖ person): without the key nobody can compute or reverse it,
and because the project id is part of the message, the same person gets unrelated pseudonyms
in different projects — two projects' outputs cannot be joined on the pseudonym.

Pseudonym format: ``k<version>-R<16 base32 characters>``, e.g. ``k1-RJ5QXG2LMNOPQRS2T``. The
16 characters carry the first 80 bits of the HMAC; among 60,000 people the chance that any
two share a pseudonym is about n²/2⁸¹ ≈ 1.5e-15. The key version prefix says which key made
it, so after a rotation the service (which keeps retired keys) can still re-link old exports.

The key file (JSON, mode 0600, written atomically)::

    {"version": 2, "algorithm": "HMAC-SHA256", "key": "<64 hex digits>",
     "created_for": "synthetic cohort",
     "retired": [{"version": 1, "algorithm": "HMAC-SHA256", "key": "<hex>"}]}

The top-level fields are the current key (the shape :func:`workbench.access.store.
load_pseudonym_key` reads); ``retired`` lists earlier versions, oldest first.

References
----------
ENISA (2019) Pseudonymisation techniques and best practices, §5 (keyed hash functions).
RFC 2104, HMAC: keyed-hashing for message authentication.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError, KeyMissingError, OutputExistsError
from ..io import atomic_file

__all__ = [
    "KEY_ALGORITHM",
    "KEY_BYTES",
    "PSEUDONYM_DOMAIN",
    "PSEUDONYM_PATTERN",
    "Pseudonymiser",
    "ServiceKey",
    "load_service_key",
    "rotate_key",
    "write_service_key",
]

#: The only algorithm a key file may name.
KEY_ALGORITHM = "HMAC-SHA256"

#: Length of a newly drawn key (256 bits).
KEY_BYTES = 32

#: Domain-separation prefix of the HMAC message, so a pseudonym can never equal an HMAC the
#: same key computes for another purpose (audit MACs, for instance).
PSEUDONYM_DOMAIN = b"cgw/project-pseudonym/v1\0"

#: What a project pseudonym looks like (used by disclosure control to refuse them in exports).
PSEUDONYM_PATTERN = re.compile(r"k[1-9]\d*-R[A-Z2-7]{16}")

_DIGEST_BYTES = 10  # 80 bits -> 16 base32 characters, no padding
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")


def _check_id(value, *, name: str) -> bytes:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise InputError(
            f"{name} must be a non-empty id of letters, digits and . _ : - "
            f"(such as 'P00042' or 'EPI-7'), got {value!r}"
        )
    return value.encode("ascii")


def _check_key(key, version) -> None:
    if not isinstance(key, bytes | bytearray) or len(key) < KEY_BYTES:
        raise InputError(
            f"key must be at least {KEY_BYTES} bytes, got "
            f"{len(key) if isinstance(key, bytes | bytearray) else type(key).__name__}; "
            "load it with load_service_key()"
        )
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InputError(f"key version must be an int >= 1, got {version!r}")


class Pseudonymiser:
    """Turns internal person ids into project-specific pseudonyms with one versioned key.

    Parameters
    ----------
    key
        The secret HMAC key (at least 32 bytes). Never printed: ``repr`` shows the version.
    version
        The key's version (>= 1), written into every pseudonym as ``k<version>-``.
    """

    __slots__ = ("_key", "_version")

    def __init__(self, key: bytes, *, version: int):
        _check_key(key, version)
        self._key = bytes(key)
        self._version = version

    @property
    def version(self) -> int:
        """The key version."""
        return self._version

    def __repr__(self) -> str:
        return f"Pseudonymiser(version={self._version}, key=<hidden>)"

    def project_pseudonym(self, person_id: str, project_id: str) -> str:
        """The pseudonym of ``person_id`` in ``project_id``: ``k<version>-R<16 base32>``."""
        person = _check_id(person_id, name="person_id")
        project = _check_id(project_id, name="project_id")
        digest = hmac.new(
            self._key, PSEUDONYM_DOMAIN + project + b"\0" + person, hashlib.sha256
        ).digest()
        return f"k{self._version}-R" + base64.b32encode(digest[:_DIGEST_BYTES]).decode("ascii")

    def project_pseudonyms(self, person_ids, project_id: str) -> list[str]:
        """:meth:`project_pseudonym` for each id, in order."""
        return [self.project_pseudonym(p, project_id) for p in person_ids]


@dataclass(frozen=True)
class ServiceKey:
    """A key file's contents: the current key and the retired ones.

    ``repr`` never shows key bytes.
    """

    version: int
    key: bytes = field(repr=False)
    retired: Mapping[int, bytes] = field(default_factory=dict, repr=False)
    created_for: str = "synthetic cohort"

    @property
    def versions(self) -> dict[int, bytes]:
        """Every key by version (retired and current)."""
        return {**self.retired, self.version: self.key}

    def pseudonymiser(self, version: int | None = None) -> Pseudonymiser:
        """A :class:`Pseudonymiser` for the current key, or for a retired ``version``."""
        keys = self.versions
        v = self.version if version is None else version
        if v not in keys:
            raise KeyMissingError(
                f"expected key version {v} in the key file, found versions {sorted(keys)}; "
                "it was never issued or the file was replaced"
            )
        return Pseudonymiser(keys[v], version=v)


def _draw_key(rng) -> bytes:
    if rng is None:
        return secrets.token_bytes(KEY_BYTES)
    if not isinstance(rng, np.random.Generator):
        raise InputError(
            f"rng must be None (draw from the operating system) or a numpy.random.Generator, "
            f"got {type(rng).__name__}"
        )
    return rng.bytes(KEY_BYTES)


def _write(path: Path, record: dict) -> None:
    with atomic_file(path, "w", encoding="utf-8") as f:
        os.fchmod(f.fileno(), 0o600)
        json.dump(record, f, indent=2, sort_keys=True)
        f.write("\n")
    os.chmod(path, 0o600)


def _record(key: ServiceKey) -> dict:
    return {
        "version": key.version,
        "algorithm": KEY_ALGORITHM,
        "key": key.key.hex(),
        "created_for": key.created_for,
        "retired": [
            {"version": v, "algorithm": KEY_ALGORITHM, "key": k.hex()}
            for v, k in sorted(key.retired.items())
        ],
    }


def write_service_key(
    path, *, rng=None, created_for: str = "synthetic cohort", force: bool = False
) -> ServiceKey:
    """Draw a new key (version 1) and write it as a key file with mode 0600, atomically.

    Parameters
    ----------
    path
        The key file to create.
    rng
        ``None`` draws from the operating system (:func:`secrets.token_bytes`), as a real
        deployment must. A :class:`numpy.random.Generator` makes the key reproducible from a
        seed: acceptable for a synthetic teaching cohort only.
    created_for
        A note stored in the file.
    force
        Replace an existing file. Without it an existing key is never overwritten (doing so
        would orphan every pseudonym and audit MAC made with it).

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``force`` is false.
    """
    path = Path(path)
    if not isinstance(created_for, str) or not created_for.isprintable():
        raise InputError(f"created_for must be a one-line str, got {created_for!r}")
    if path.exists() and not force:
        raise OutputExistsError(
            path, hint="a key file is never overwritten silently; rotate_key() adds a version"
        )
    key = ServiceKey(version=1, key=_draw_key(rng), created_for=created_for)
    _write(path, _record(key))
    return key


def _parse_entry(entry, path: Path, where: str) -> tuple[int, bytes]:
    try:
        version, algorithm, hexkey = entry["version"], entry["algorithm"], entry["key"]
        key = bytes.fromhex(hexkey)
    except (KeyError, TypeError, ValueError):
        raise KeyMissingError(
            f"expected version, algorithm and a hex key for {where} in {path}, found a "
            "malformed record; restore the key file from its backup"
        ) from None
    if (
        algorithm != KEY_ALGORITHM
        or isinstance(version, bool)
        or not isinstance(version, int)
        or version < 1
        or len(key) < KEY_BYTES
    ):
        raise KeyMissingError(
            f"expected an {KEY_ALGORITHM} key of at least {KEY_BYTES} bytes with version >= 1 "
            f"for {where} in {path}, found something else; restore the key file from its backup"
        )
    return version, key


def load_service_key(path) -> ServiceKey:
    """Read a key file written by :func:`write_service_key` / :func:`rotate_key`.

    Raises
    ------
    KeyMissingError
        The file is absent, unreadable or malformed: refuse to work rather than guess. The
        message never contains key material.
    """
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KeyMissingError(
            f"expected a key file at {path}, found none; create it with write_service_key() "
            "or restore it (the service refuses to run without its key)"
        ) from None
    except (OSError, ValueError) as e:
        raise KeyMissingError(
            f"expected a JSON key file at {path}, could not read it ({type(e).__name__}); "
            "restore the key file from its backup"
        ) from None
    if not isinstance(record, dict):
        raise KeyMissingError(
            f"expected a JSON object in the key file {path}, found {type(record).__name__}; "
            "restore the key file from its backup"
        )
    version, key = _parse_entry(record, path, "the current key")
    retired_list = record.get("retired", [])
    if not isinstance(retired_list, list):
        raise KeyMissingError(
            f"expected 'retired' to be a list in {path}; restore the key file from its backup"
        )
    retired = {}
    for i, entry in enumerate(retired_list):
        v, k = _parse_entry(entry, path, f"retired key #{i + 1}")
        if v >= version or v in retired:
            raise KeyMissingError(
                f"expected retired key versions below the current version {version} and "
                f"distinct in {path}, found version {v}; restore the key file from its backup"
            )
        retired[v] = k
    created_for = record.get("created_for", "")
    return ServiceKey(
        version=version,
        key=key,
        retired=retired,
        created_for=created_for if isinstance(created_for, str) else "",
    )


def rotate_key(path, *, rng=None) -> int:
    """Replace the current key with a fresh one, keeping the old one; return the new version.

    New pseudonyms and MACs use the new key; the service keeps retired keys so it alone can
    re-link exports made before the rotation. The file is rewritten atomically (mode 0600).

    Raises
    ------
    KeyMissingError
        The key file is absent or malformed.
    """
    path = Path(path)
    old = load_service_key(path)
    new = ServiceKey(
        version=old.version + 1,
        key=_draw_key(rng),
        retired={**old.retired, old.version: old.key},
        created_for=old.created_for,
    )
    if new.key in new.retired.values():  # pragma: no cover - 2**-256
        raise KeyMissingError("drew a key equal to a retired one; rotate again")
    _write(path, _record(new))
    return new.version
