"""The tamper-evident audit log: an HMAC chain in ``audit_log``, checkpoints outside the database.

Every access (allowed or not) is recorded by :meth:`AuditLog.append` **inside the caller's
transaction**, so the access and its entry land together or not at all. Entry ``seq`` stores

    mac = HMAC-SHA256(key, canonical JSON of {seq, at, user_id, purpose, action, query,
                                              decision, basis, n_excluded, result_size,
                                              key_version, prev_mac})

where ``prev_mac`` is entry ``seq - 1``'s mac (64 zeros for the first). The key lives outside
the database (an audit key file, same format as the pseudonym service key), so someone who
can edit the database file cannot forge a chain. A chain alone cannot show that its tail was
cut off; :meth:`AuditLog.checkpoint` therefore appends ``(head seq, head mac, HMAC over both)``
to a JSON-lines file kept elsewhere (and to ``audit_checkpoints``), and :func:`verify`
compares the log with the last checkpoint.

What :func:`verify` detects, naming the first bad ``seq``: an edited field (the MAC fails), a
deleted entry (a gap in ``seq`` or a broken ``prev_mac`` link), an inserted or reordered entry
(MAC or link), a truncated tail (the log ends before the last checkpoint's head), and an
edited checkpoint line. It cannot detect a truncation after the last checkpoint, nor anything
done by someone holding the key.

Log injection: text fields must be single-line — control characters, line and paragraph
separators and invisible format characters (bidirectional overrides …) are refused with an
:class:`~workbench.errors.InputError`, including inside the JSON ``purpose`` and ``query``.

References
----------
Schneier B. & Kelsey J. (1999) Secure audit logs to support computer forensics. ACM TISSEC 2(2).
Crosby S. & Wallach D. (2009) Efficient data structures for tamper-evident logging.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import json
import os
import re
import sqlite3
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import AuditIntegrityError, InputError
from .duo import Decision
from .pseudonyms import ServiceKey, load_service_key, write_service_key
from .schema import AUDIT_DECISIONS, AUDIT_GENESIS_MAC

__all__ = [
    "AUDIT_KEY_FILE",
    "AuditEntry",
    "AuditLog",
    "VerifyReport",
    "entry_mac",
    "load_audit_key",
    "query_log",
    "verify",
    "write_audit_key",
]

#: Suggested file name of the audit key (kept apart from the registry and the pseudonym key).
AUDIT_KEY_FILE = "audit.key"

_ENTRY_DOMAIN = "cgw/audit-entry/v1"
_CHECKPOINT_DOMAIN = "cgw/audit-checkpoint/v1"

#: Columns of the ``audit_log`` table covered by the MAC, in order.
_FIELDS = (
    "seq",
    "at",
    "user_id",
    "purpose",
    "action",
    "query",
    "decision",
    "basis",
    "n_excluded",
    "result_size",
    "key_version",
    "prev_mac",
)
_COLUMNS = (*_FIELDS, "mac")
_QUERY_COLUMNS = tuple(f for f in _FIELDS if f != "prev_mac")  # what query_log shows
_AT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
_PATH_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _utc_now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


# -- keys -------------------------------------------------------------------------------------


def write_audit_key(path, *, rng=None, force: bool = False) -> ServiceKey:
    """Create an audit key file (same JSON format and 0600 mode as the pseudonym key).

    ``rng=None`` draws the key from the operating system; see
    :func:`workbench.access.pseudonyms.write_service_key`.
    """
    return write_service_key(path, rng=rng, created_for="synthetic cohort audit log", force=force)


def load_audit_key(path) -> ServiceKey:
    """Read an audit key file.

    Raises :class:`~workbench.errors.KeyMissingError` when it is absent or malformed.
    """
    return load_service_key(path)


def _key_ring(key) -> dict[int, bytes]:
    if isinstance(key, ServiceKey):
        return key.versions
    if isinstance(key, Mapping):
        ring = dict(key)
        if not all(
            isinstance(v, int) and not isinstance(v, bool) and isinstance(k, bytes)
            for v, k in ring.items()
        ):
            raise InputError("key must map int versions to bytes keys")
        return ring
    raise InputError(
        f"key must be a ServiceKey (load_audit_key) or a mapping version -> bytes, "
        f"got {type(key).__name__}"
    )


def _check_key(key, key_version) -> None:
    if not isinstance(key, bytes) or len(key) < 32:
        raise InputError("the audit key must be at least 32 bytes; load it with load_audit_key()")
    if isinstance(key_version, bool) or not isinstance(key_version, int) or key_version < 1:
        raise InputError(f"key_version must be an int >= 1, got {key_version!r}")


# -- entries ----------------------------------------------------------------------------------


def _unsafe_char(s: str) -> str | None:
    for ch in s:
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
            return f"U+{ord(ch):04X}"
    return None


def _check_text(value, *, name: str, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise InputError(f"audit field {name} must be a str, got {type(value).__name__}")
    if not value and not allow_empty:
        raise InputError(f"audit field {name} must not be empty")
    bad = _unsafe_char(value)
    if bad:
        raise InputError(
            f"audit field {name} contains the control or invisible character {bad}; "
            "log entries must be single-line plain text (log injection refused)"
        )
    return value


def _check_json_text(obj, *, name: str, depth: int = 0) -> None:
    if depth > 20:
        raise InputError(f"audit field {name} nests more than 20 levels deep")
    if isinstance(obj, str):
        _check_text(obj, name=name, allow_empty=True)
    elif isinstance(obj, bool) or obj is None or isinstance(obj, int):
        return
    elif isinstance(obj, float):
        if obj != obj or obj in (float("inf"), float("-inf")):
            raise InputError(f"audit field {name} holds a non-finite number")
    elif isinstance(obj, Mapping):
        for k, v in obj.items():
            if not isinstance(k, str):
                raise InputError(f"audit field {name} has a non-str key {k!r}")
            _check_text(k, name=f"{name} key", allow_empty=False)
            _check_json_text(v, name=name, depth=depth + 1)
    elif isinstance(obj, list | tuple):
        for v in obj:
            _check_json_text(v, name=name, depth=depth + 1)
    else:
        raise InputError(
            f"audit field {name} must hold JSON values (str, numbers, lists, dicts), "
            f"found {type(obj).__name__}"
        )


def _normalise_at(at) -> str:
    if isinstance(at, _dt.datetime):
        if at.tzinfo is None:
            raise InputError(f"audit time must be timezone-aware (UTC), got naive {at!r}")
        return at.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(at, str):
        _check_text(at, name="at")
        if _AT.fullmatch(at):
            return at
        try:
            parsed = _dt.datetime.fromisoformat(at)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return _normalise_at(parsed)
    raise InputError(
        f"audit time must be an aware datetime or an ISO-8601 time with a zone such as "
        f"'2026-01-01T09:00:00+00:00', got {at!r}"
    )


def _count(value, *, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"audit field {name} must be None or an int >= 0, got {value!r}")
    return value


@dataclass(frozen=True)
class AuditEntry:
    """One access to record. Validated on creation (log-injection and type checks).

    Attributes
    ----------
    user_id
        Who asked.
    purpose
        Why (JSON value, typically ``{"kind": "research", "project": "EPI-7"}``).
    action
        What was asked (``"allele_counts"``, ``"phenopacket"`` …).
    query
        The request's parameters (JSON value). May name the patient (a person id or a
        pseudonym) so :func:`query_log` can find every access to one person.
    decision
        ``"approve"``, ``"deny"`` or ``"abstain"``.
    basis
        Which rules admitted (or refused) the data: reason codes.
    n_excluded
        How many people were excluded (opted out, withdrawn …) — never who.
    result_size
        How many rows/records the answer held.
    at
        When (an aware datetime or ISO text); ``None`` lets :class:`AuditLog`'s clock fill it.
    """

    user_id: str
    purpose: object
    action: str
    query: object
    decision: str
    basis: tuple[str, ...] = ()
    n_excluded: int | None = None
    result_size: int | None = None
    at: object = None

    def __post_init__(self):
        _check_text(self.user_id, name="user_id")
        _check_text(self.action, name="action")
        _check_json_text(self.purpose, name="purpose")
        _check_json_text(self.query, name="query")
        if self.decision not in AUDIT_DECISIONS:
            raise InputError(
                f"audit decision must be one of {AUDIT_DECISIONS}, got {self.decision!r}"
            )
        if isinstance(self.basis, str):
            raise InputError("audit basis must be a list of reason codes, not one str")
        basis = tuple(self.basis)
        for b in basis:
            _check_text(b, name="basis")
        object.__setattr__(self, "basis", basis)
        _count(self.n_excluded, name="n_excluded")
        _count(self.result_size, name="result_size")
        if self.at is not None:
            object.__setattr__(self, "at", _normalise_at(self.at))

    @classmethod
    def from_decision(cls, decision: Decision, **fields) -> AuditEntry:
        """An entry whose ``decision`` and ``basis`` come from a :class:`Decision`."""
        if not isinstance(decision, Decision):
            raise InputError(f"decision must be a Decision, got {type(decision).__name__}")
        return cls(decision=decision.outcome, basis=decision.codes, **fields)


def entry_mac(key: bytes, row: Mapping) -> str:
    """The HMAC of one stored ``audit_log`` row (a mapping of the columns before ``mac``)."""
    message = {"domain": _ENTRY_DOMAIN, **{f: row[f] for f in _FIELDS}}
    return hmac.new(key, _canonical(message).encode("utf-8"), hashlib.sha256).hexdigest()


def _checkpoint_mac(key: bytes, record: Mapping) -> str:
    message = {
        "domain": _CHECKPOINT_DOMAIN,
        **{k: record[k] for k in ("at", "head_seq", "head_mac", "key_version")},
    }
    return hmac.new(key, _canonical(message).encode("utf-8"), hashlib.sha256).hexdigest()


# -- the log ----------------------------------------------------------------------------------


class AuditLog:
    """Appends HMAC-chained entries to a registry's ``audit_log`` and writes checkpoints.

    Parameters
    ----------
    conn
        A registry connection (:func:`workbench.access.schema.connect`).
    key, key_version
        The audit HMAC key (>= 32 bytes; :func:`load_audit_key`) and its version.
    checkpoint_path
        The JSON-lines checkpoint file, kept outside the database (ideally on other storage).
    clock
        Returns the current time (an aware datetime or ISO text); defaults to UTC now.
        Tests pass a fixed clock.
    on_checkpoint
        Called with each checkpoint record once it is written (the service's signed
        witness, :class:`workbench.access.witness.Witness`).
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        key: bytes,
        key_version: int,
        checkpoint_path,
        clock: Callable[[], object] | None = None,
        on_checkpoint: Callable[[dict], None] | None = None,
    ):
        if not isinstance(conn, sqlite3.Connection):
            raise InputError(f"conn must be a sqlite3.Connection, got {type(conn).__name__}")
        _check_key(key, key_version)
        if clock is not None and not callable(clock):
            raise InputError("clock must be a callable returning the current time")
        self.conn = conn
        self._key = key
        self.key_version = key_version
        self.checkpoint_path = Path(checkpoint_path)
        self._clock = clock or _utc_now
        self._on_checkpoint = on_checkpoint

    def __repr__(self) -> str:
        path = str(self.checkpoint_path)
        return f"AuditLog(key_version={self.key_version}, checkpoint_path={path!r})"

    def append(self, entry: AuditEntry, *, conn: sqlite3.Connection | None = None) -> dict:
        """Write ``entry`` as the next link of the chain, inside the caller's transaction.

        Parameters
        ----------
        entry
            What to record.
        conn
            The connection whose open transaction also holds the access being recorded;
            defaults to the log's own connection. It **must** be inside a transaction
            (``with workbench.access.schema.transaction(conn): …``) so that the access and its
            audit entry commit together.

        Returns
        -------
        dict
            The stored row (``seq``, ``at``, …, ``prev_mac``, ``mac``).

        Raises
        ------
        InputError
            ``conn`` is not inside a transaction, or the clock gives a bad time.
        AuditIntegrityError
            The database refused the entry; the caller's transaction must (and, when it uses
            ``transaction()``, will) roll back, so the access does not happen.
        """
        conn = self.conn if conn is None else conn
        if not isinstance(entry, AuditEntry):
            raise InputError(f"entry must be an AuditEntry, got {type(entry).__name__}")
        try:
            in_tx = conn.in_transaction
        except sqlite3.ProgrammingError as e:
            raise AuditIntegrityError(
                f"could not write the audit entry: the connection is unusable ({e}); "
                "the access must not happen"
            ) from e
        if not in_tx:
            raise InputError(
                "append() must run inside the transaction that performs the access; wrap both "
                "in `with transaction(conn):`"
            )
        at = entry.at if entry.at is not None else _normalise_at(self._clock())
        seq = None
        try:
            last = conn.execute(
                "SELECT seq, mac FROM audit_log ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            seq, prev_mac = (1, AUDIT_GENESIS_MAC) if last is None else (last[0] + 1, last[1])
            row = {
                "seq": seq,
                "at": at,
                "user_id": entry.user_id,
                "purpose": _canonical(entry.purpose),
                "action": entry.action,
                "query": _canonical(entry.query),
                "decision": entry.decision,
                "basis": _canonical(list(entry.basis)),
                "n_excluded": entry.n_excluded,
                "result_size": entry.result_size,
                "key_version": self.key_version,
                "prev_mac": prev_mac,
            }
            row["mac"] = entry_mac(self._key, row)
            conn.execute(
                f"INSERT INTO audit_log ({', '.join(_COLUMNS)}) "
                f"VALUES ({', '.join('?' for _ in _COLUMNS)})",
                [row[c] for c in _COLUMNS],
            )
        except sqlite3.Error as e:
            raise AuditIntegrityError(
                f"could not write audit entry {seq}: the database refused it ({e}); "
                "the access it records must not happen",
                sequence=seq,
            ) from e
        return row

    def checkpoint(self) -> dict:
        """Record the chain's head outside the database (and in ``audit_checkpoints``).

        Appends one JSON line ``{"at", "head_seq", "head_mac", "key_version", "mac"}`` to
        :attr:`checkpoint_path` and fsyncs it, then commits the same record to
        ``audit_checkpoints``. Runs in its own transaction unless the connection is already in
        one.

        Raises
        ------
        InputError
            The log is empty (nothing to checkpoint).
        """
        conn = self.conn
        own = not conn.in_transaction
        if own:
            conn.execute("BEGIN IMMEDIATE")
        try:
            head = conn.execute(
                "SELECT seq, mac FROM audit_log ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            if head is None:
                raise InputError("the audit log is empty; append an entry before a checkpoint")
            record = {
                "at": _normalise_at(self._clock()),
                "head_seq": head[0],
                "head_mac": head[1],
                "key_version": self.key_version,
            }
            record["mac"] = _checkpoint_mac(self._key, record)
            next_id = conn.execute(
                "SELECT coalesce(max(checkpoint_id), 0) + 1 FROM audit_checkpoints"
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO audit_checkpoints (checkpoint_id, at, head_seq, head_mac, "
                "key_version, mac) VALUES (?, ?, ?, ?, ?, ?)",
                (next_id, record["at"], record["head_seq"], record["head_mac"],
                 record["key_version"], record["mac"]),
            )  # fmt: skip
            _append_line(self.checkpoint_path, _canonical(record))
        except BaseException:
            if own:
                conn.execute("ROLLBACK")
            raise
        if own:
            conn.execute("COMMIT")
        if self._on_checkpoint is not None:
            self._on_checkpoint(record)
        return record


def _append_line(path: Path, line: str) -> None:
    new = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    if new:  # make the new directory entry durable too
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


# -- verification -----------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of :func:`verify`.

    Attributes
    ----------
    ok
        The chain and the checkpoints verify.
    entries
        Number of entries in ``audit_log``.
    first_bad_seq
        The first entry that fails (for a truncated tail: the first missing one), else None.
    problem
        One line saying what is wrong, else None.
    checkpoints
        Number of checkpoint lines read from the file.
    """

    ok: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str | None = None
    checkpoints: int = 0


def _read_checkpoints(path: Path) -> tuple[list[dict], str | None]:
    if not path.exists():
        return [], None
    records = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            rec = json.loads(line)
            if not isinstance(rec, dict) or set(rec) != {
                "at", "head_seq", "head_mac", "key_version", "mac"
            }:  # fmt: skip
                raise ValueError
        except ValueError:
            return records, f"checkpoint line {n} of {path.name} is malformed"
        records.append(rec)
    return records, None


def behind_last_checkpoint(conn: sqlite3.Connection, checkpoint_path) -> str | None:
    """Whether the log lost what its newest external checkpoint recorded (cheap).

    Reads only the checkpoint file's last line and one entry: a database restored from an
    older copy, or truncated, no longer holds the checkpointed head. Returns the problem, or
    ``None``. (:func:`verify` checks the whole chain.)
    """
    path = Path(checkpoint_path)
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 4096))
            lines = f.read().decode("utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return None
    if not lines or not lines[-1].strip():
        return None
    try:
        head = json.loads(lines[-1])
        seq, mac = int(head["head_seq"]), str(head["head_mac"])
    except (ValueError, KeyError, TypeError):
        return f"the last line of {path.name} is not a checkpoint"
    row = conn.execute("SELECT mac FROM audit_log WHERE seq = ?", (seq,)).fetchone()
    if row is None:
        return f"the log no longer holds entry {seq}, which a checkpoint recorded: it was cut off"
    if not hmac.compare_digest(str(row[0]), mac):
        return f"entry {seq} differs from what a checkpoint recorded: the log was replaced"
    return None


def verify(conn: sqlite3.Connection, *, key, checkpoint_path, strict: bool = False) -> VerifyReport:
    """Recompute the chain and compare it with the external checkpoints.

    Parameters
    ----------
    conn
        A registry connection (read-only is fine).
    key
        The audit key: a :class:`~workbench.access.pseudonyms.ServiceKey`
        (:func:`load_audit_key`; retired versions verify older entries) or a mapping
        version -> key bytes.
    checkpoint_path
        The JSON-lines file :meth:`AuditLog.checkpoint` writes. A missing file is fine only
        while ``audit_checkpoints`` is empty.
    strict
        Raise :class:`~workbench.errors.AuditIntegrityError` (with ``sequence`` = the first
        bad seq) instead of returning a failed report.
    """
    ring = _key_ring(key)
    report = _verify(conn, ring, Path(checkpoint_path))
    if strict and not report.ok:
        raise AuditIntegrityError(
            f"expected an intact audit log, found: {report.problem}; keep the database and "
            "checkpoint file as evidence and restore the log from a trusted copy",
            sequence=report.first_bad_seq,
        )
    return report


def _verify(conn, ring: dict[int, bytes], checkpoint_path: Path) -> VerifyReport:
    rows = conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM audit_log ORDER BY seq").fetchall()
    n = len(rows)
    checkpoints, cp_problem = _read_checkpoints(checkpoint_path)

    def bad(seq, problem):
        return VerifyReport(False, n, seq, problem, len(checkpoints))

    prev_mac = AUDIT_GENESIS_MAC
    newest = 0
    macs: dict[int, str] = {}
    for expected, values in enumerate(rows, start=1):
        row = dict(zip(_COLUMNS, values, strict=True))
        seq = row["seq"]
        if seq != expected:
            if isinstance(seq, int) and seq > expected:
                return bad(expected, f"entry {expected} is missing (the next entry is {seq})")
            return bad(expected, f"expected entry {expected}, found seq {seq!r}")
        if row["prev_mac"] != prev_mac:
            return bad(seq, f"entry {seq} does not link to entry {seq - 1} (prev_mac differs)")
        k = ring.get(row["key_version"])
        if k is None:
            return bad(seq, f"entry {seq} names key version {row['key_version']!r}, not held")
        # Keys only move forward: an entry under a retired key after a newer one was written
        # by someone holding the old key (a copy of the cohort's), not by the service.
        if isinstance(row["key_version"], int) and row["key_version"] < newest:
            return bad(
                seq,
                f"entry {seq} uses retired key version {row['key_version']} after version "
                f"{newest}: it was not written by the holder of the current key",
            )
        newest = max(newest, row["key_version"])
        if not isinstance(row["mac"], str) or not hmac.compare_digest(
            row["mac"].encode(), entry_mac(k, row).encode()
        ):
            return bad(seq, f"entry {seq} was altered (its MAC does not verify)")
        prev_mac = row["mac"]
        macs[seq] = row["mac"]

    if cp_problem:
        return bad(None, cp_problem)
    for i, cp in enumerate(checkpoints, start=1):
        k = ring.get(cp["key_version"])
        if k is None or not hmac.compare_digest(
            str(cp["mac"]).encode(), _checkpoint_mac(k, cp).encode()
        ):
            return bad(None, f"checkpoint line {i} was altered (its MAC does not verify)")
        head = cp["head_seq"]
        if not isinstance(head, int) or head > n:
            return bad(
                n + 1,
                f"the log ends at entry {n} but checkpoint line {i} recorded entry {head}: "
                "entries were cut off",
            )
        if macs.get(head) != cp["head_mac"]:
            return bad(head, f"entry {head} differs from what checkpoint line {i} recorded")

    db_heads = conn.execute("SELECT max(head_seq), count(*) FROM audit_checkpoints").fetchone()
    file_head = max((cp["head_seq"] for cp in checkpoints), default=0)
    if db_heads[1] and (db_heads[0] or 0) > file_head:
        return bad(
            None,
            f"the database records a checkpoint at entry {db_heads[0]} but the checkpoint file "
            f"{'is missing' if not checkpoints else f'stops at entry {file_head}'}: the file "
            "was truncated or replaced",
        )
    return VerifyReport(True, n, None, None, len(checkpoints))


# -- reading the log --------------------------------------------------------------------------


def _time_bound(value, *, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        return _normalise_at(value)
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
        try:
            return _normalise_at(value)
        except InputError:
            pass
    raise InputError(
        f"{name} must be a date, an aware datetime or ISO text such as '2026-01-01', got {value!r}"
    )


def query_log(
    conn: sqlite3.Connection,
    *,
    user: str | None = None,
    patient: str | None = None,
    purpose=None,
    since=None,
    until=None,
) -> pd.DataFrame:
    """Audit entries matching every given filter, oldest first.

    Parameters
    ----------
    user
        Exact ``user_id``.
    patient
        A person id or pseudonym appearing as a value anywhere in the entry's query JSON.
    purpose
        A str matching any value in the purpose JSON (``"EPI-7"``, ``"treatment"`` …), or a
        mapping whose keys (simple names) must all have the given top-level values.
    since, until
        Times (date, aware datetime or ISO text): ``since <= at < until``.

    Returns
    -------
    pandas.DataFrame
        Columns ``seq, at, user_id, purpose, action, query, decision, basis, n_excluded,
        result_size, key_version``; ``purpose``, ``query`` and ``basis`` parsed from JSON.
        Every value is bound as a parameter.
    """
    where: list[str] = []
    params: list = []
    if user is not None:
        where.append("user_id = ?")
        params.append(_check_text(user, name="user"))
    if patient is not None:
        where.append(
            "EXISTS (SELECT 1 FROM json_tree(audit_log.query) WHERE type = 'text' AND atom = ?)"
        )
        params.append(_check_text(patient, name="patient"))
    if isinstance(purpose, str):
        where.append(
            "EXISTS (SELECT 1 FROM json_tree(audit_log.purpose) WHERE type = 'text' AND atom = ?)"
        )
        params.append(_check_text(purpose, name="purpose"))
    elif isinstance(purpose, Mapping):
        for k, v in purpose.items():
            if not isinstance(k, str) or not _PATH_KEY.fullmatch(k):
                raise InputError(f"purpose filter keys must be simple names, got {k!r}")
            if not isinstance(v, str | int) or isinstance(v, bool):
                raise InputError(f"purpose filter values must be str or int, got {v!r}")
            where.append("json_extract(purpose, ?) = ?")
            params.extend([f"$.{k}", v])
    elif purpose is not None:
        raise InputError(f"purpose must be a str or a mapping, got {type(purpose).__name__}")
    lo = _time_bound(since, name="since")
    hi = _time_bound(until, name="until")
    if lo is not None:
        where.append("at >= ?")
        params.append(lo)
    if hi is not None:
        where.append("at < ?")
        params.append(hi)
    sql = f"SELECT {', '.join(_QUERY_COLUMNS)} FROM audit_log"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY seq"
    rows = conn.execute(sql, params).fetchall()
    df = pd.DataFrame.from_records(rows, columns=list(_QUERY_COLUMNS))
    for col in ("purpose", "query", "basis"):
        df[col] = [json.loads(s) for s in df[col]]
    return df
