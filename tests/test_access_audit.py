"""The HMAC-chained audit log: appends in the caller's transaction, checkpoints, tampering."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from workbench.access.audit import (
    AuditEntry,
    AuditLog,
    entry_mac,
    load_audit_key,
    query_log,
    verify,
    write_audit_key,
)
from workbench.access.duo import combine, deny
from workbench.access.pseudonyms import ServiceKey
from workbench.access.schema import connect, create_schema, transaction
from workbench.errors import AuditIntegrityError, InputError, KeyMissingError

KEY = bytes(range(1, 33))
RING = {1: KEY}
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


class Clock:
    """A fake clock: each call is one minute later."""

    def __init__(self):
        self.n = 0

    def __call__(self):
        self.n += 1
        return T0 + dt.timedelta(minutes=self.n)


def _memory_registry() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    create_schema(conn, reference_date="2026-01-01")
    return conn


@pytest.fixture
def conn(tmp_path):
    c = connect(tmp_path / "registry.sqlite", create=True)
    create_schema(c, reference_date="2026-01-01")
    yield c
    c.close()


@pytest.fixture
def log(conn, tmp_path) -> AuditLog:
    return AuditLog(
        conn, key=KEY, key_version=1, checkpoint_path=tmp_path / "ext" / "cp.jsonl", clock=Clock()
    )


def _entry(i: int, **kw) -> AuditEntry:
    fields = {
        "user_id": "lab.researcher" if i % 2 else "dr.jensen",
        "purpose": {"kind": "research", "project": "EPI-7"}
        if i % 2
        else {"kind": "treatment", "patient": f"P{i:05d}"},
        "action": "allele_counts" if i % 2 else "phenopacket",
        "query": {"region": "chr2:166000000-166100000"} if i % 2 else {"patient": f"P{i:05d}"},
        "decision": "approve",
        "basis": ("duo.ds.same_disease",),
        "n_excluded": i % 3,
        "result_size": 10 * i,
    }
    fields.update(kw)
    return AuditEntry(**fields)


def _append(log: AuditLog, n: int, start: int = 1) -> None:
    for i in range(start, start + n):
        with transaction(log.conn):
            log.append(_entry(i))


def _verify(log: AuditLog, path=None):
    return verify(log.conn, key=RING, checkpoint_path=path or log.checkpoint_path)


def _unlock(conn: sqlite3.Connection) -> None:
    """What an attacker with file access does first: drop the guards."""
    for trigger in (
        "audit_log_no_update",
        "audit_log_no_delete",
        "audit_log_chain",
        "audit_checkpoints_no_delete",
        "audit_checkpoints_no_update",
        "audit_checkpoints_head",
    ):
        conn.execute(f"DROP TRIGGER {trigger}")
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("PRAGMA ignore_check_constraints = ON")


def _row(conn, seq) -> dict:
    cur = conn.execute("SELECT * FROM audit_log WHERE seq = ?", (seq,))
    return dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=True))


# -- the chain ----------------------------------------------------------------------------------


def test_empty_log_verifies(log):
    report = _verify(log)
    assert report.ok and report.entries == 0 and report.first_bad_seq is None


def test_chain_verifies_after_appends_and_checkpoints(log):
    _append(log, 5)
    cp = log.checkpoint()
    _append(log, 5, start=6)
    log.checkpoint()
    report = _verify(log)
    assert report.ok and report.entries == 10 and report.checkpoints == 2
    assert cp["head_seq"] == 5
    rows = log.conn.execute("SELECT seq, prev_mac, mac, at FROM audit_log ORDER BY seq").fetchall()
    assert [r[0] for r in rows] == list(range(1, 11))
    assert rows[0][1] == "0" * 64 and all(rows[i][1] == rows[i - 1][2] for i in range(1, 10))
    assert rows[0][3] == "2026-03-01T09:01:00.000000Z"
    lines = log.checkpoint_path.read_text().splitlines()
    assert [json.loads(x)["head_seq"] for x in lines] == [5, 10]
    assert log.conn.execute("SELECT count(*) FROM audit_checkpoints").fetchone()[0] == 2


def test_mac_covers_every_field(log):
    _append(log, 1)
    row = _row(log.conn, 1)
    assert entry_mac(KEY, row) == row["mac"]
    for field in ("at", "user_id", "purpose", "action", "query", "decision", "basis"):
        assert entry_mac(KEY, {**row, field: row[field] + " "}) != row["mac"]
    for field in ("seq", "key_version"):
        assert entry_mac(KEY, {**row, field: row[field] + 1}) != row["mac"]
    assert entry_mac(KEY, {**row, "n_excluded": None}) != row["mac"]
    assert entry_mac(bytes(32), row) != row["mac"]


def test_append_outside_a_transaction_is_refused(log):
    with pytest.raises(InputError, match="inside the transaction"):
        log.append(_entry(1))
    assert log.conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 0


def test_entry_from_decision_and_explicit_time(log):
    d = combine(deny("duo.obsolete_code", "old"), deny("duo.hmb.excludes_ancestry", "no"))
    e = AuditEntry.from_decision(
        d, user_id="anc.researcher", purpose={"project": "ANC-3"}, action="open_dataset",
        query={"dataset": "LEGACY-BIOBANK"}, at="2026-03-02T10:00:00+01:00",
    )  # fmt: skip
    with transaction(log.conn):
        row = log.append(e)
    assert row["decision"] == "deny" and row["at"] == "2026-03-02T09:00:00.000000Z"
    assert json.loads(row["basis"]) == ["duo.obsolete_code", "duo.hmb.excludes_ancestry"]
    with pytest.raises(InputError, match="timezone"):
        _entry(1, at=dt.datetime(2026, 1, 1, 9, 0))


# -- tampering ------------------------------------------------------------------------------------


@pytest.fixture
def ten(log) -> AuditLog:
    _append(log, 10)
    log.checkpoint()
    _unlock(log.conn)
    return log


def test_edited_entry_is_caught(ten):
    ten.conn.execute("UPDATE audit_log SET user_id = 'someone.else' WHERE seq = 4")
    r = _verify(ten)
    assert not r.ok and r.first_bad_seq == 4 and "altered" in r.problem


def test_edited_count_is_caught(ten):
    ten.conn.execute("UPDATE audit_log SET n_excluded = 0 WHERE seq = 7")
    assert _verify(ten).first_bad_seq == 7


def test_deleted_entry_is_caught(ten):
    ten.conn.execute("DELETE FROM audit_log WHERE seq = 4")
    r = _verify(ten)
    assert not r.ok and r.first_bad_seq == 4 and "missing" in r.problem


def test_deleted_and_renumbered_entry_is_caught(ten):
    ten.conn.execute("DELETE FROM audit_log WHERE seq = 4")
    for seq in range(5, 11):
        ten.conn.execute("UPDATE audit_log SET seq = seq - 1 WHERE seq = ?", (seq,))
    r = _verify(ten)
    assert not r.ok and r.first_bad_seq == 4


def test_inserted_entry_is_caught(ten):
    for seq in range(10, 3, -1):
        ten.conn.execute("UPDATE audit_log SET seq = seq + 1 WHERE seq = ?", (seq,))
    forged = {**_row(ten.conn, 3), "seq": 4, "prev_mac": _row(ten.conn, 3)["mac"]}
    forged["user_id"] = "ghost"
    forged["mac"] = entry_mac(b"\x00" * 32, forged)  # without the key, a guess
    cols = list(forged)
    ten.conn.execute(
        f"INSERT INTO audit_log ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
        [forged[c] for c in cols],
    )
    r = _verify(ten)
    assert not r.ok and r.first_bad_seq == 4


def test_reordered_entries_are_caught(ten):
    a, b = _row(ten.conn, 3), _row(ten.conn, 6)
    ten.conn.execute("UPDATE audit_log SET seq = -3 WHERE seq = 3")
    ten.conn.execute("UPDATE audit_log SET seq = 3 WHERE seq = 6")
    ten.conn.execute("UPDATE audit_log SET seq = 6 WHERE seq = -3")
    assert _row(ten.conn, 3)["mac"] == b["mac"] and _row(ten.conn, 6)["mac"] == a["mac"]
    r = _verify(ten)
    assert not r.ok and r.first_bad_seq == 3


def test_truncation_is_caught_only_thanks_to_the_checkpoint_file(ten, tmp_path):
    ten.conn.execute("DELETE FROM audit_log WHERE seq >= 8")
    ten.conn.execute("DELETE FROM audit_checkpoints")  # the attacker cleans the table too
    # The chain itself is intact: without the external file nothing looks wrong.
    assert _verify(ten, path=tmp_path / "no-such-file.jsonl").ok
    r = _verify(ten)
    assert not r.ok and r.first_bad_seq == 8 and "cut off" in r.problem
    with pytest.raises(AuditIntegrityError) as info:
        verify(ten.conn, key=RING, checkpoint_path=ten.checkpoint_path, strict=True)
    assert info.value.sequence == 8


def test_edited_checkpoint_line_is_caught(ten):
    line = json.loads(ten.checkpoint_path.read_text())
    line["head_seq"] = 9
    ten.checkpoint_path.write_text(json.dumps(line) + "\n")
    r = _verify(ten)
    assert not r.ok and "checkpoint line 1" in r.problem


def test_garbled_checkpoint_file_is_caught(ten):
    ten.checkpoint_path.write_text("not json\n")
    assert "malformed" in _verify(ten).problem


def test_deleted_checkpoint_file_is_caught_from_the_database_record(ten):
    ten.checkpoint_path.unlink()
    r = _verify(ten)
    assert not r.ok and "checkpoint file" in r.problem


def test_forged_chain_with_a_wrong_key_is_caught(ten):
    r = verify(ten.conn, key={1: bytes(32)}, checkpoint_path=ten.checkpoint_path)
    assert not r.ok and r.first_bad_seq == 1
    r = verify(ten.conn, key={2: KEY}, checkpoint_path=ten.checkpoint_path)
    assert not r.ok and "key version" in r.problem


def test_strict_verify_passes_silently_when_intact(log):
    _append(log, 3)
    assert verify(log.conn, key=RING, checkpoint_path=log.checkpoint_path, strict=True).ok


# -- the audit write and the access share one transaction ----------------------------------------


def _access_table(conn):
    conn.execute("CREATE TABLE demo_access (what TEXT NOT NULL)")


def test_access_and_audit_commit_together(log):
    _access_table(log.conn)
    with transaction(log.conn):
        log.conn.execute("INSERT INTO demo_access VALUES ('read P00001')")
        log.append(_entry(1))
    assert log.conn.execute("SELECT count(*) FROM demo_access").fetchone()[0] == 1
    assert log.conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 1


def test_audit_write_failure_rolls_back_the_access(log):
    _access_table(log.conn)
    _append(log, 2)
    log.conn.execute(
        "CREATE TRIGGER disk_full BEFORE INSERT ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'simulated failure'); END"
    )
    with pytest.raises(AuditIntegrityError) as info, transaction(log.conn):
        log.conn.execute("INSERT INTO demo_access VALUES ('read P00001')")
        log.append(_entry(3))
    assert info.value.sequence == 3
    assert log.conn.execute("SELECT count(*) FROM demo_access").fetchone()[0] == 0
    assert log.conn.execute("SELECT max(seq) FROM audit_log").fetchone()[0] == 2
    assert not log.conn.in_transaction


def test_database_check_violation_rolls_back_the_access(log):
    _access_table(log.conn)
    entry = _entry(1)
    # Defence in depth: should a bad value slip past AuditEntry's checks, the table's CHECK
    # constraint refuses it, and the access written in the same transaction is undone.
    object.__setattr__(entry, "decision", "maybe")
    with pytest.raises(AuditIntegrityError, match="CHECK"), transaction(log.conn):
        log.conn.execute("INSERT INTO demo_access VALUES ('read P00002')")
        log.append(entry)
    assert log.conn.execute("SELECT count(*) FROM demo_access").fetchone()[0] == 0
    assert log.conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 0


def test_closed_connection_fails_the_access(log, tmp_path):
    other = connect(tmp_path / "registry.sqlite", create=True)
    closed = AuditLog(other, key=KEY, key_version=1, checkpoint_path=log.checkpoint_path)
    other.close()
    with pytest.raises(AuditIntegrityError, match="unusable"):
        closed.append(_entry(1))


# -- log injection -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"user_id": "alice\nseq=99 decision=approve"},
        {"action": "read\r"},
        {"user_id": "bob\x1b[2J"},
        {"action": "read\u2028approve"},
        {"user_id": "eve\u202egnp.exe"},
        {"query": {"patient": "P00001\napproved"}},
        {"purpose": {"project\n": "EPI-7"}},
        {"basis": ("duo.ok\x00",)},
        {"at": "2026-03-01T09:00:00+00:00\n"},
    ],
)
def test_log_injection_is_refused(fields):
    with pytest.raises(InputError, match=r"U\+|single-line|ISO"):
        _entry(1, **fields)


@pytest.mark.parametrize(
    "fields",
    [
        {"decision": "maybe"},
        {"n_excluded": -1},
        {"result_size": 1.5},
        {"basis": "duo.one_string"},
        {"user_id": ""},
        {"query": {"x": object()}},
    ],
)
def test_entry_fields_are_checked(fields):
    with pytest.raises(InputError):
        _entry(1, **fields)


# -- reading the log -----------------------------------------------------------------------------


def test_query_log_filters(log):
    _append(log, 6)  # odd: researcher on EPI-7; even: clinician on patient P0000i
    assert list(query_log(log.conn, user="dr.jensen")["seq"]) == [2, 4, 6]
    by_patient = query_log(log.conn, patient="P00004")
    assert list(by_patient["seq"]) == [4] and by_patient["query"][0] == {"patient": "P00004"}
    assert list(query_log(log.conn, purpose="EPI-7")["seq"]) == [1, 3, 5]
    assert list(query_log(log.conn, purpose={"kind": "treatment"})["seq"]) == [2, 4, 6]
    window = query_log(log.conn, since=T0 + dt.timedelta(minutes=2),
                       until="2026-03-01T09:05:00+00:00")  # fmt: skip
    assert list(window["seq"]) == [2, 3, 4]
    assert list(query_log(log.conn, since="2026-03-02")["seq"]) == []
    assert list(query_log(log.conn, until=dt.date(2026, 3, 2))["seq"]) == list(range(1, 7))
    everything = query_log(log.conn)
    assert list(everything.columns) == [
        "seq", "at", "user_id", "purpose", "action", "query", "decision", "basis",
        "n_excluded", "result_size", "key_version",
    ]  # fmt: skip
    assert everything["basis"][0] == ["duo.ds.same_disease"]


def test_query_log_binds_values(log):
    _append(log, 2)
    assert query_log(log.conn, user="x' OR '1'='1").empty
    assert query_log(log.conn, patient="%").empty
    with pytest.raises(InputError, match="simple names"):
        query_log(log.conn, purpose={"kind') OR 1=1 --": "x"})
    with pytest.raises(InputError, match="since"):
        query_log(log.conn, since="yesterday")


# -- keys -----------------------------------------------------------------------------------------


def test_audit_key_file_and_rotation(tmp_path, conn):
    from workbench.access.pseudonyms import rotate_key

    path = tmp_path / "audit.key"
    write_audit_key(path)
    k1 = load_audit_key(path)
    cp = tmp_path / "cp.jsonl"
    log1 = AuditLog(conn, key=k1.key, key_version=k1.version, checkpoint_path=cp, clock=Clock())
    _append(log1, 2)
    rotate_key(path)
    k2 = load_audit_key(path)
    log2 = AuditLog(conn, key=k2.key, key_version=k2.version, checkpoint_path=cp, clock=Clock())
    _append(log2, 2, start=3)
    log2.checkpoint()
    assert verify(conn, key=k2, checkpoint_path=cp).ok  # retired key verifies old entries
    only_new = ServiceKey(version=2, key=k2.key)
    assert verify(conn, key=only_new, checkpoint_path=cp).first_bad_seq == 1
    # Someone holding only the retired key (a copy of the cohort's) appends after the rotation:
    # the entry verifies under that key, but keys never move backwards along the chain.
    _append(log1, 1, start=5)
    report = verify(conn, key=k2, checkpoint_path=cp)
    assert (report.ok, report.first_bad_seq) == (False, 5)
    assert "retired key version 1" in report.problem
    with pytest.raises(KeyMissingError):
        load_audit_key(tmp_path / "missing.key")


def test_audit_log_checks_its_key(conn, tmp_path):
    with pytest.raises(InputError, match="32 bytes"):
        AuditLog(conn, key=b"short", key_version=1, checkpoint_path=tmp_path / "c")
    log = AuditLog(conn, key=KEY, key_version=1, checkpoint_path=tmp_path / "c")
    assert KEY.hex() not in repr(log)
    with pytest.raises(InputError, match="empty"):
        log.checkpoint()


# -- properties ---------------------------------------------------------------------------------

_text = st.text(
    alphabet=st.characters(categories=("L", "N", "P", "S", "Zs")), min_size=1, max_size=12
)
_entries = st.builds(
    AuditEntry,
    user_id=_text,
    purpose=st.dictionaries(st.sampled_from(["kind", "project", "patient"]), _text, max_size=3),
    action=_text,
    query=st.dictionaries(_text, st.one_of(_text, st.integers(-5, 5)), max_size=3),
    decision=st.sampled_from(["approve", "deny", "abstain"]),
    basis=st.lists(_text, max_size=3).map(tuple),
    n_excluded=st.one_of(st.none(), st.integers(0, 50)),
    result_size=st.one_of(st.none(), st.integers(0, 10**6)),
)
_ops = st.lists(st.one_of(_entries, st.just("checkpoint")), min_size=1, max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=_ops)
def test_property_any_sequence_of_appends_and_checkpoints_verifies(ops):
    conn = _memory_registry()
    with tempfile.TemporaryDirectory() as d:
        log = AuditLog(conn, key=KEY, key_version=1, checkpoint_path=Path(d) / "cp.jsonl",
                       clock=Clock())  # fmt: skip
        n = 0
        for op in ops:
            if op == "checkpoint":
                if n:
                    log.checkpoint()
            else:
                with transaction(conn):
                    log.append(op)
                n += 1
        report = verify(conn, key=RING, checkpoint_path=log.checkpoint_path)
        assert report.ok and report.entries == n, report.problem
    conn.close()


_FIELDS = ("seq", "at", "user_id", "purpose", "action", "query", "decision", "basis",
           "n_excluded", "result_size", "key_version", "prev_mac", "mac")  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 5),
    target=st.integers(0, 4),
    field=st.sampled_from(_FIELDS),
    position=st.integers(0, 200),
    char=st.characters(min_codepoint=0x20, max_codepoint=0x7E),
    checkpoint=st.booleans(),
)
def test_property_a_single_byte_edit_never_verifies(n, target, field, position, char, checkpoint):
    conn = _memory_registry()
    with tempfile.TemporaryDirectory() as d:
        log = AuditLog(conn, key=KEY, key_version=1, checkpoint_path=Path(d) / "cp.jsonl",
                       clock=Clock())  # fmt: skip
        _append(log, n)
        if checkpoint:
            log.checkpoint()
        _unlock(conn)
        seq = target % n + 1
        old = _row(conn, seq)[field]
        if isinstance(old, str):
            i = position % len(old)
            assume(old[i] != char)
            new = old[:i] + char + old[i + 1 :]
        else:
            digits = str(old if old is not None else 0)
            i = position % len(digits)
            d_new = str((int(digits[i]) + 1 + position % 9) % 10)
            new = int(digits[:i] + d_new + digits[i + 1 :])
            assume(new != old)
        try:
            conn.execute(f"UPDATE audit_log SET {field} = ? WHERE seq = ?", (new, seq))
        except sqlite3.IntegrityError:
            assume(False)  # e.g. a seq edited into an existing seq: the edit is impossible
        report = verify(conn, key=RING, checkpoint_path=log.checkpoint_path)
        assert not report.ok
    conn.close()
