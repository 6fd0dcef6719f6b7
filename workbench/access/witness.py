"""Signed checkpoints, copied to a witness the service can only append to.

The service's checkpoints (the audit chain's head every so many entries) are MAC-ed with its
audit key and kept in its state folder. Whoever controls that folder could still rewrite
them along with the database. So the service also signs each checkpoint with an Ed25519 key
(``cryptography``, the Python Cryptographic Authority's library) and appends it to a
**witness**: a file on other storage, or owned by another account, opened append-only (on
Linux ``chattr +a`` makes even the owner unable to rewrite it). Anyone holding only the
*public* key — an auditor, the hospital side — can then check, without any secret, that
every witnessed head is still in the registry's chain: a database restored from an older
copy, truncated or rewritten is found, and a forged witness line does not verify.

    workbench service witness-check COHORT --witness FILE --public-key HEX
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..errors import InputError, KeyMissingError

__all__ = [
    "SIGNING_KEY_FILE",
    "Witness",
    "WitnessReport",
    "check_witness",
    "sign",
    "verify_signature",
    "write_signing_key",
]

SIGNING_KEY_FILE = "checkpoint-signing.key"


def _canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def write_signing_key(path: str | os.PathLike) -> str:
    """Create an Ed25519 signing key from the OS random source (0600); return the public key
    as hex."""
    key = Ed25519PrivateKey.generate()
    path = Path(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"ed25519_private": key.private_bytes_raw().hex()}, f)
    return key.public_key().public_bytes_raw().hex()


def _load_signing_key(path: Path) -> Ed25519PrivateKey:
    try:
        raw = bytes.fromhex(json.loads(path.read_text(encoding="utf-8"))["ed25519_private"])
        return Ed25519PrivateKey.from_private_bytes(raw)
    except FileNotFoundError:
        raise KeyMissingError(f"the checkpoint signing key {path} is missing") from None
    except (ValueError, KeyError, TypeError):
        raise KeyMissingError(f"{path} is not a checkpoint signing key; restore it") from None


def sign(signing_key: str | os.PathLike, message: bytes) -> str:
    """The Ed25519 signature of ``message`` (hex) with the key at ``signing_key``."""
    return _load_signing_key(Path(signing_key)).sign(message).hex()


def verify_signature(public_key: str | None, message: bytes, signature: str | None) -> bool:
    """Whether ``signature`` (hex) is ``public_key``'s (hex) over ``message``."""
    try:
        verifier = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key or ""))
        verifier.verify(bytes.fromhex(signature or ""), message)
    except (ValueError, InvalidSignature):
        return False
    return True


class Witness:
    """Appends each checkpoint, signed, to ``path`` (opened with ``O_APPEND`` every time)."""

    def __init__(self, path: str | os.PathLike, signing_key: str | os.PathLike):
        self.path = Path(path)
        self._key = _load_signing_key(Path(signing_key))

    def __repr__(self) -> str:
        return f"Witness({str(self.path)!r})"

    def append(self, checkpoint: dict) -> None:
        line = {"checkpoint": checkpoint, "sig": self._key.sign(_canonical(checkpoint)).hex()}
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, _canonical(line) + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)


@dataclass(frozen=True)
class WitnessReport:
    """The result of :func:`check_witness`."""

    ok: bool
    lines: int
    problem: str | None = None


def check_witness(conn, path: str | os.PathLike, public_key: str) -> WitnessReport:
    """Check every witnessed checkpoint: signed by ``public_key`` and still in the chain.

    Needs no secret: the public key (hex) and read access to the registry.
    """
    try:
        verifier = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key))
    except ValueError:
        raise InputError("--public-key must be the 64 hex digits `service init` printed") from None
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no witness file at {path}; give the path set at `service init`")
    last = 0
    lines = path.read_text(encoding="utf-8").splitlines()
    for n, text in enumerate(lines, start=1):
        try:
            line = json.loads(text)
            checkpoint, sig = line["checkpoint"], bytes.fromhex(line["sig"])
            verifier.verify(sig, _canonical(checkpoint))
            seq, mac = int(checkpoint["head_seq"]), str(checkpoint["head_mac"])
        except InvalidSignature:
            return WitnessReport(False, len(lines), f"witness line {n} is not signed by the key")
        except (ValueError, KeyError, TypeError):
            return WitnessReport(False, len(lines), f"witness line {n} is not a checkpoint")
        if seq < last:
            return WitnessReport(False, len(lines), f"witness line {n} goes back in the chain")
        last = seq
        row = conn.execute("SELECT mac FROM audit_log WHERE seq = ?", (seq,)).fetchone()
        if row is None:
            return WitnessReport(
                False,
                len(lines),
                f"the log no longer holds entry {seq} (witness line {n}): cut off",
            )
        if row[0] != mac:
            return WitnessReport(
                False,
                len(lines),
                f"entry {seq} differs from witness line {n}: the log was replaced",
            )
    return WitnessReport(True, len(lines))
