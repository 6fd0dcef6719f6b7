"""The registry's seal: edits made outside the data-access service are detected.

The audit chain proves what was *asked*; the decisions also rest on what the registry *says* —
consents, grants, principals, care relationships, dataset membership, the people themselves.
Whoever can write the registry file could give themselves a grant or hide a withdrawal, and
the decisions would follow. So the service seals the registry: a keyed digest (HMAC-SHA-256
under the service's audit key) of its schema (triggers included) and of every table but the
audit log, kept in the service's own state, outside the cohort. The service re-seals after each
change it makes itself (a steward's consent, opt-out or grant, each an audited call), and
checks the seal when a session opens and at every audit checkpoint: a mismatch means someone
else wrote, and every call is refused until a data steward has looked and re-sealed
(``workbench service seal``).

The digest reads every row (0.03 s for the teaching registry, 0.5 s for a national one of
60,000 people and 73,000 consent versions), which is
why it is not checked on every call: an edit is noticed at the next session opened or within
:data:`~workbench.access.session.CHECKPOINT_EVERY` calls.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
from pathlib import Path

from ..errors import AuditIntegrityError
from ..io import atomic_file

__all__ = ["SEAL_FILE", "Seal", "registry_digest"]

SEAL_FILE = "registry.seal"
#: Tables whose rows are the audit trail itself (chained and checkpointed on their own).
_UNSEALED = ("audit_log", "audit_checkpoints")


def registry_digest(conn: sqlite3.Connection) -> str:
    """SHA-256 of the registry's schema and of every row of every table but the audit log."""
    h = hashlib.sha256()
    schema = conn.execute(
        "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master "
        "WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
    ).fetchall()
    h.update(json.dumps(schema).encode())
    tables = [name for kind, name, _, _ in schema if kind == "table" and name not in _UNSEALED]
    for table in tables:
        h.update(f"\x00table {table}\x00".encode())
        n = len(conn.execute(f'SELECT * FROM "{table}" LIMIT 0').description)
        order = ", ".join(str(i) for i in range(1, n + 1))
        for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY {order}'):
            h.update(repr(row).encode())
            h.update(b"\n")
    return h.hexdigest()


class Seal:
    """The seal of one registry, kept in a secrets folder under a key only its holder has."""

    def __init__(self, path: str | os.PathLike, key: bytes):
        self.path = Path(path)
        self._key = key

    def _mac(self, digest: str) -> str:
        message = f"cgw/registry-seal/v1\x00{digest}".encode()
        return hmac.new(self._key, message, "sha256").hexdigest()

    def _write(self, record: dict) -> None:
        with atomic_file(self.path, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.chmod(self.path, 0o600)

    def _read(self) -> dict:
        try:
            record = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise AuditIntegrityError(
                f"the registry seal {self.path} is missing; a data steward must check the "
                "registry and seal it again (`workbench service seal`)"
            ) from None
        except ValueError:
            return {"broken": "the seal file is damaged"}
        return record if isinstance(record, dict) else {"broken": "the seal file is damaged"}

    def write(self, conn: sqlite3.Connection) -> None:
        """Seal the registry as it is now (after a change the holder made itself)."""
        self._write({"mac": self._mac(registry_digest(conn))})

    def broken(self) -> bool:
        """Whether an earlier check found the registry changed (cheap: reads the seal only)."""
        return "broken" in self._read()

    def mark_broken(self, reason: str) -> None:
        """Record that the registry can no longer be vouched for (every call stops)."""
        self._write({**self._read(), "broken": reason})

    def check(self, conn: sqlite3.Connection) -> bool:
        """Recompute the digest; when it differs, mark the seal broken and return False."""
        record = self._read()
        if "broken" in record:
            return False
        if hmac.compare_digest(str(record.get("mac")), self._mac(registry_digest(conn))):
            return True
        self._write({**record, "broken": "the registry differs from its seal"})
        return False
