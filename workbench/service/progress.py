"""A class's progress, kept by the data-access service under each learner's own identity.

Each attempt a learner makes at an exercise (the course modules' exercise widgets) goes to the
service, which records it under the identity of the token — on JupyterHub the learner's hub
identity — never under a name the request gives. The response is kept as a keyed digest
(HMAC-SHA256 under a key derived from the service's audit key), never in clear: a trainer can
see that two learners gave the same wrong answer, not what it was. A learner reads their own
attempts; a trainer (role ``trainer`` in the registry) reads the whole class's and may reset a
learner, whose attempts are then deleted.

Whether an attempt was right is the exercise widget's verdict, sent with it: the exercises are
formative, and a learner who wants to can claim a right answer. The ledger is a SQLite file in
the service's state folder (0600), apart from the cohort: it holds learners' data, not
patients'.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from ..errors import AccessDenied, InputError
from ..teach.progress import ATTEMPT_COLUMNS, ATTEMPTS_SCHEMA

__all__ = ["PROGRESS_FILE", "ProgressLedger", "progress_key"]

PROGRESS_FILE = "progress.sqlite"
#: Course and exercise ids: what the course bundles use (``genomic-medicine``, ``m1.q2``).
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


def progress_key(audit_key: bytes) -> bytes:
    """The key of the responses' digests, derived from the service's audit key."""
    return hmac.new(audit_key, b"cgw/progress-responses/v1", hashlib.sha256).digest()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ProgressLedger:
    """Every attempt of a class, one SQLite file of the service's.

    Parameters
    ----------
    path
        The ledger file (created 0600 on first use).
    key
        Digests the responses (:func:`progress_key`).
    clock
        The attempts' time stamps (the service's UTC clock).
    """

    def __init__(self, path: str | Path, key: bytes, *, clock: Callable[[], str] = _now):
        self.path = Path(path)
        self._key = key
        self._clock = clock
        self._lock = threading.Lock()  # one attempt numbered at a time

    @contextlib.contextmanager
    def _connect(self):
        if not self.path.exists():
            self.path.touch(mode=0o600)
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            conn.execute(ATTEMPTS_SCHEMA)
            yield conn
        finally:
            conn.close()

    def digest(self, response) -> str:
        """The response as the ledger keeps it: a keyed digest of its canonical JSON."""
        text = json.dumps(response, sort_keys=True, ensure_ascii=False, default=str)
        return "hmac:" + hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()[:16]

    def record(self, learner: str, *, course, exercise_id, response, correct) -> int:
        """Record one attempt of ``learner``; returns its number (1 for their first)."""
        for name, value in (("course", course), ("exercise_id", exercise_id)):
            if not isinstance(value, str) or not _ID.match(value):
                raise InputError(
                    f"{name} must be an id such as 'genomic-medicine' or 'm1.q2', got {value!r}"
                )
        if correct not in (True, False, None):
            raise InputError(f"correct must be true, false or null, got {correct!r}")
        digest = self.digest(response)
        with self._lock, self._connect() as conn, conn:
            (n,) = conn.execute(
                "SELECT COUNT(*) FROM attempts WHERE learner=? AND course=? AND exercise_id=?",
                (learner, course, exercise_id),
            ).fetchone()
            conn.execute(
                "INSERT INTO attempts VALUES (?, ?, ?, ?, ?, ?, ?)",
                (learner, course, exercise_id, n + 1, digest,
                 None if correct is None else int(correct), self._clock()),
            )  # fmt: skip
        return n + 1

    def attempts(self, learner: str | None = None) -> pd.DataFrame:
        """Attempts (columns :data:`~workbench.teach.progress.ATTEMPT_COLUMNS`), oldest first:
        one learner's, or (``None``) the class's."""
        where, params = ("WHERE learner = ?", (learner,)) if learner is not None else ("", ())
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT {', '.join(ATTEMPT_COLUMNS)} FROM attempts {where} "
                "ORDER BY learner, course, exercise_id, attempt",
                params,
            ).fetchall()
        frame = pd.DataFrame(rows, columns=list(ATTEMPT_COLUMNS))
        frame["correct"] = pd.Series(
            [None if v is None else bool(v) for v in frame["correct"]], dtype=object
        )
        return frame

    def reset(self, learner: str) -> int:
        """Delete every attempt of ``learner`` (a trainer's reset); returns how many."""
        with self._lock, self._connect() as conn, conn:
            return conn.execute("DELETE FROM attempts WHERE learner = ?", (learner,)).rowcount


def require_trainer(conn: sqlite3.Connection, user: str) -> None:
    """Refuse anyone whose registry role is not ``trainer``: a class's progress is theirs."""
    from ..access.policy import load_principal

    principal = load_principal(conn, user)
    if principal is None or principal.role != "trainer":
        raise AccessDenied(
            "only a trainer sees the class's progress or resets a learner; you see your own",
            reasons=("progress.trainers_only",),
        )
