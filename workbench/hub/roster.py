"""A class's roster: who may sign in to the hub, as learner or trainer, each with a password.

The roster is one JSON file in the hub's state folder (0600, written atomically). A password is
made when someone is added (or reset) from the operating system's random source, shown once
to the trainer who hands it out, and kept only as an Argon2id hash (``argon2-cffi``, the
library jupyter-server hashes its own passwords with). A name is a user id the data-access
service knows as a principal (``student.ali``): the hub identity *is* the service identity.
"""

from __future__ import annotations

import csv
import json
import os
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..errors import InputError
from ..io import atomic_file

__all__ = ["ROLES", "ROSTER_FILE", "Roster"]

ROSTER_FILE = "roster.json"
#: Roles in a class: ``learner`` (answers exercises, sees their own progress) and ``trainer``
#: (sees the class's progress, resets a learner, starts and stops learners' servers).
ROLES = ("learner", "trainer")
_NAME = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
_HASHER = PasswordHasher()
#: A password of 12 characters from an alphabet without look-alikes (about 71 bits).
_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def _password() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(12))


class Roster:
    """The roster file of a hub's state folder."""

    def __init__(self, state: str | os.PathLike):
        self.path = Path(state) / ROSTER_FILE

    def __repr__(self) -> str:
        return f"Roster({str(self.path)!r})"

    # -- reading -----------------------------------------------------------------------------
    def _read(self) -> dict:
        if not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise InputError(f"{self.path} is not a roster ({e}); restore it from a copy") from e
        if not isinstance(data, dict):
            raise InputError(f"{self.path} is not a roster; restore it from a copy")
        return data

    def members(self) -> dict[str, str]:
        """``{name: role}`` of everyone on the roster."""
        return {name: entry["role"] for name, entry in sorted(self._read().items())}

    def role_of(self, name: str) -> str | None:
        entry = self._read().get(name)
        return None if entry is None else entry["role"]

    def check_password(self, name: str, password: str) -> bool:
        """Whether ``password`` is ``name``'s (False for anyone not on the roster)."""
        entry = self._read().get(name) if isinstance(name, str) else None
        if entry is None or not isinstance(password, str):
            return False
        try:
            return _HASHER.verify(entry["hash"], password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    # -- changing ----------------------------------------------------------------------------
    def _write(self, data: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(self.path, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.chmod(self.path, 0o600)

    def add(self, name: str, *, role: str = "learner") -> str:
        """Add ``name`` with ``role``; returns their password (shown once, kept hashed)."""
        return self.add_many([(name, role)])[name]

    def add_many(self, people) -> dict[str, str]:
        """Add several ``(name, role)`` at once (all or none); returns ``{name: password}``."""
        data = self._read()
        passwords = {}
        for name, role in people:
            _check(name, role)
            if name in data or name in passwords:
                raise InputError(
                    f"{name} is on the roster already; `workbench hub roster reset {name}` "
                    "gives them a new password"
                )
            passwords[name] = _password()
            data[name] = {
                "role": role,
                "hash": _HASHER.hash(passwords[name]),
                "added": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        self._write(data)
        return passwords

    def remove(self, name: str) -> None:
        data = self._read()
        if name not in data:
            raise InputError(f"{name} is not on the roster; see `workbench hub roster list`")
        del data[name]
        self._write(data)

    def reset(self, name: str) -> str:
        """A new password for ``name`` (the old one stops working); returns it."""
        data = self._read()
        if name not in data:
            raise InputError(f"{name} is not on the roster; see `workbench hub roster list`")
        password = _password()
        data[name]["hash"] = _HASHER.hash(password)
        self._write(data)
        return password

    def import_csv(self, path: str | os.PathLike) -> list[tuple[str, str, str]]:
        """Add everyone of a CSV with columns ``name`` and ``role`` (all or none); returns
        ``(name, role, password)`` of each."""
        people = self.read_csv(path)
        passwords = self.add_many(people)
        return [(name, role, passwords[name]) for name, role in people]

    @staticmethod
    def read_csv(path: str | os.PathLike) -> list[tuple[str, str]]:
        """``(name, role)`` of each row of a class's CSV (columns ``name`` and ``role``)."""
        path = Path(path)
        try:
            with open(path, encoding="utf-8", newline="") as f:
                rows = list(csv.DictReader(f))
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            raise InputError(f"cannot read {path} ({e}); give a CSV with name,role") from e
        if not rows or not {"name", "role"} <= set(rows[0]):
            raise InputError(f"{path} needs the columns name and role (learner or trainer)")
        return [((r["name"] or "").strip(), (r["role"] or "").strip()) for r in rows]


def _check(name, role) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InputError(
            f"{name!r} is not a roster name: 2–32 characters, lower-case letters, digits, "
            "'.', '_' or '-', starting with a letter (the service's user id, e.g. student.ali)"
        )
    if role not in ROLES:
        raise InputError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
