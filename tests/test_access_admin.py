"""Data-steward administration: append-only history, immediate effect, stewards only,
concurrent writers and a writer killed mid-transaction."""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench import Research, Stewardship, Teaching, Treatment, open_cohort
from workbench.access import admin
from workbench.access.disclosure import NATIONAL_ID_PATTERN
from workbench.access.policy import consent_filter, evaluate
from workbench.access.schema import connect, transaction
from workbench.errors import AccessDenied, InputError

REPO = Path(__file__).resolve().parents[1]
STEWARD = "steward.larsen"
TODAY = "2026-01-01"  # the tiny cohort's reference date


def _steward(path):
    return open_cohort(path, verify=False).session(user=STEWARD, purpose=Stewardship())


def _rows(path, sql, params=()):
    with contextlib.closing(sqlite3.connect(path / "registry.sqlite")) as conn:
        return conn.execute(sql, params).fetchall()


def _versions(path, person):
    return _rows(
        path,
        "SELECT version, form_version, withdrawn, note FROM consents WHERE person_id = ? "
        "ORDER BY version",
        (person,),
    )


def _audit(path):
    return _rows(path, "SELECT seq, user_id, action, query, decision, basis FROM audit_log")


def _verify_ok(path) -> dict:
    with contextlib.closing(_steward(path)) as s:
        report = s.audit_verify()
    assert report["ok"], report
    return report


# -- history --------------------------------------------------------------------------------


def test_record_consent_appends_a_full_version_and_keeps_the_old_ones(cohort_copy):
    before = _rows(cohort_copy, "SELECT * FROM consents WHERE person_id = 'P00003'")
    with contextlib.closing(_steward(cohort_copy)) as s:
        row = s.record_consent(
            "P00003", secondary_findings=["cardiovascular", "cancer"], signed_on=TODAY,
            note="guardian chose two categories",
        )  # fmt: skip
        history = s.consent_history("P00003")
    # The old version is untouched; the new one holds the full state.
    after = _rows(cohort_copy, "SELECT * FROM consents WHERE person_id = 'P00003'")
    assert after[: len(before)] == before
    assert row["version"] == len(before) + 1
    assert row["secondary_findings"] == ["cancer", "cardiovascular"]  # canonical order
    old = before[-1]
    # Fields not given carry over, the guardian's signature included.
    assert (row["signed_by"], row["form_version"]) == ("guardian", old[3])
    assert (row["recontact"], row["research_opt_out"]) == (bool(old[6]), bool(old[7]))
    assert row["recorded_by"] == STEWARD
    assert list(history.version) == list(range(1, row["version"] + 1))


def test_withdrawal_and_opt_out_are_new_versions(cohort_copy):
    with contextlib.closing(_steward(cohort_copy)) as s:
        s.set_research_opt_out("P00001", opt_out=True, signed_on="2025-12-01", note="register")
        s.set_research_opt_out("P00001", opt_out=False, signed_on="2025-12-02", note="lifted")
        w = s.withdraw_consent("P00001", signed_on="2025-12-03", note="by letter")
    rows = _versions(cohort_copy, "P00001")
    assert [r[0] for r in rows] == [1, 2, 3, 4]
    assert [r[2] for r in rows] == [0, 0, 0, 1]
    assert w["withdrawn"] and not w["recontact"]
    current = _rows(cohort_copy, "SELECT research_opt_out FROM consents WHERE person_id = 'P00001'")
    assert [r[0] for r in current] == [0, 1, 0, 0]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.withdraw_consent("P99999", signed_on=TODAY, note="x"), "unknown person"),
        (lambda s: s.withdraw_consent("P00001", signed_on="2026-02-30", note="x"),
         "signed_on must be an ISO date"),
        (lambda s: s.withdraw_consent("P00001", signed_on="2020-01-01", note="x"),
         "is before P00001's current consent"),
        (lambda s: s.record_consent("P00001", secondary_findings=["cancer", "eyes"],
                                    signed_on=TODAY, note="x"),
         "unknown secondary-findings category 'eyes'"),
        (lambda s: s.record_consent("P00001", secondary_findings="cancer", signed_on=TODAY,
                                    note="x"), "must be a list"),
        (lambda s: s.record_consent("P00001", recontact=True, signed_on=TODAY, note="x"),
         "nothing changed"),
        (lambda s: s.set_research_opt_out("P00010", opt_out=True, signed_on=TODAY, note="x"),
         "already on"),
        (lambda s: s.withdraw_consent("P00001", signed_on=TODAY, note="line\nbreak"),
         "one line"),
        (lambda s: s.withdraw_consent("P00001", signed_on=TODAY, note="cpr 010203-1234"),
         "national (CPR-shaped) id"),
        (lambda s: s.withdraw_consent("P00001", signed_on=TODAY),
         "missing a required argument: 'note'"),
        (lambda s: s.withdraw_consent("P00001", signed_on=TODAY, note="x", recorded_by="me"),
         "the session sets it"),
        (lambda s: s.grant_project(project_id="EPI-99", dataset_id="NGC-RD",
                                   user_id="lab.researcher", granted_on=TODAY,
                                   expires_on="2027-01-01"), "unknown project 'EPI-99'"),
        (lambda s: s.grant_project(project_id="EPI-7", dataset_id="NGC-XX",
                                   user_id="lab.researcher", granted_on=TODAY,
                                   expires_on="2027-01-01"), "unknown dataset 'NGC-XX'"),
        (lambda s: s.grant_project(project_id="EPI-7", dataset_id="NGC-REF",
                                   user_id="dr.jensen", granted_on=TODAY,
                                   expires_on="2027-01-01"), "must be a researcher"),
        (lambda s: s.grant_project(project_id="EPI-7", dataset_id="NGC-REF",
                                   user_id="lab.researcher", granted_on=TODAY,
                                   expires_on=TODAY), "must be after granted_on"),
        (lambda s: s.grant_project(project_id="EPI-7", dataset_id="NGC-RD",
                                   user_id="lab.researcher", granted_on=TODAY,
                                   expires_on="2027-01-01"), "already holds NGC-RD"),
        (lambda s: s.revoke_grant(project_id="ANC-3", dataset_id="NGC-REF",
                                  user_id="anc.researcher", revoked_on=TODAY),
         "already revoked on 2025-12-12"),
        (lambda s: s.revoke_grant(project_id="EPI-7", dataset_id="NGC-RD",
                                  user_id="lab.researcher", revoked_on="2030-01-01"),
         "is in force on 2030-01-01"),
    ],
)  # fmt: skip
def test_bad_requests_are_refused_clearly_audited_and_change_nothing(cohort_copy, call, message):
    consents = _rows(cohort_copy, "SELECT * FROM consents")
    grants = _rows(cohort_copy, "SELECT * FROM project_grants")
    with (
        contextlib.closing(_steward(cohort_copy)) as s,
        pytest.raises(InputError, match=re.escape(message)),
    ):
        call(s)
    assert _rows(cohort_copy, "SELECT * FROM consents") == consents
    assert _rows(cohort_copy, "SELECT * FROM project_grants") == grants
    last = _audit(cohort_copy)[-1]
    assert last[1] == STEWARD and last[4] == "deny"
    assert json.loads(last[5]) == ["request.invalid"]
    # Free-text notes never reach the log, nor does anything shaped like a national id.
    assert "note" not in json.loads(last[3])
    assert not NATIONAL_ID_PATTERN.search(last[3])


def test_a_national_id_typed_as_person_id_is_neither_echoed_nor_logged(cohort_copy):
    with contextlib.closing(_steward(cohort_copy)) as s, pytest.raises(InputError) as info:
        s.withdraw_consent("010203-1234", signed_on=TODAY, note="x")
    assert "010203" not in str(info.value)
    assert json.loads(_audit(cohort_copy)[-1][3])["person_id"] == "[national id removed]"


def test_admin_functions_insist_on_a_transaction(cohort_copy):
    with contextlib.closing(connect(cohort_copy / "registry.sqlite")) as conn:
        with pytest.raises(InputError, match="inside a transaction"):
            admin.withdraw_consent(
                conn, person_id="P00001", recorded_by=STEWARD, signed_on=TODAY, note="x"
            )
        with transaction(conn):
            row = admin.withdraw_consent(
                conn, person_id="P00001", recorded_by=STEWARD, signed_on=TODAY, note="x"
            )
    assert row["version"] == 2
    with (
        contextlib.closing(connect(cohort_copy / "registry.sqlite")) as conn,
        transaction(conn),
        pytest.raises(InputError, match="unknown user 'nobody'"),
    ):
        admin.withdraw_consent(
            conn, person_id="P00002", recorded_by="nobody", signed_on=TODAY, note="x"
        )


# -- effects on sessions already open -------------------------------------------------------


def test_withdrawal_takes_effect_in_open_research_and_treatment_sessions(cohort_copy):
    cohort = open_cohort(cohort_copy, verify=False)
    research = cohort.session(user="lab.researcher", purpose=Research(project="EPI-7"))
    care = cohort.session(user="dr.jensen", purpose=Treatment(patient="P00001"))
    with contextlib.closing(connect(cohort_copy / "registry.sqlite", readonly=True)) as conn:
        access = evaluate(conn, "lab.researcher", Research(project="EPI-7"), today=TODAY)
        in_view, _, _ = consent_filter(conn, access.people, Research(project="EPI-7"))
    assert "P00001" in in_view
    label = research._labels(["P00001"])[0]
    before = research.samples()
    assert label in set(before.sample_id)
    assert "P00001" in set(care.samples().person_id)

    with contextlib.closing(_steward(cohort_copy)) as s:
        s.withdraw_consent("P00001", signed_on=TODAY, note="withdrew by letter")

    after = research.samples()
    assert label not in set(after.sample_id)
    assert len(after) == len(before) - 1
    # Withdrawal (unlike the research opt-out) removes the person from their own care too.
    assert "P00001" not in set(care.samples().person_id)
    assert "P00002" in set(care.samples().person_id)  # the rest of the family still is
    with pytest.raises(InputError, match="not among the people"):
        care.phenopacket("P00001")
    research.close()
    care.close()


def test_grants_and_care_relationships_take_effect_and_keep_history(cohort_copy):
    cohort = open_cohort(cohort_copy, verify=False)
    research = cohort.session(user="lab.researcher", purpose=Research(project="EPI-7"))
    n = len(research.samples())
    datasets = [r[0] for r in _rows(cohort_copy, "SELECT dataset_id FROM project_grants "
                                    "WHERE project_id = 'EPI-7'")]  # fmt: skip
    with contextlib.closing(_steward(cohort_copy)) as s:
        for d in datasets:
            (revoked,) = s.revoke_grant(
                project_id="EPI-7", dataset_id=d, user_id="lab.researcher", revoked_on=TODAY
            )
            assert revoked["revoked_on"] == TODAY
    with pytest.raises(AccessDenied) as info:
        research.samples()
    assert "research.grant_revoked" in info.value.reasons
    with contextlib.closing(_steward(cohort_copy)) as s:
        s.grant_project(project_id="EPI-7", dataset_id="EPI-DS", user_id="lab.researcher",
                        granted_on=TODAY, expires_on="2027-01-01")  # fmt: skip
    assert 0 < len(research.samples()) <= n
    rows = _rows(
        cohort_copy,
        "SELECT dataset_id, revoked_on, granted_by FROM project_grants "
        "WHERE project_id = 'EPI-7' AND dataset_id = 'EPI-DS' ORDER BY granted_on",
    )
    assert rows == [("EPI-DS", TODAY, STEWARD), ("EPI-DS", None, STEWARD)]
    research.close()

    # Care relationships (plain admin functions; the schema lets only `until` be filled in).
    conn = connect(cohort_copy / "registry.sqlite")
    with transaction(conn):
        admin.add_care_relationship(conn, user_id="dr.hansen", person_id="P00001", since=TODAY)
    care = cohort.session(user="dr.hansen", purpose=Treatment(patient="P00001"))
    assert list(care.samples().person_id) == ["P00001"]
    with transaction(conn):
        with pytest.raises(InputError, match="already cares for"):
            admin.add_care_relationship(conn, user_id="dr.hansen", person_id="P00001", since=TODAY)
        with pytest.raises(InputError, match="must be a clinician"):
            admin.add_care_relationship(conn, user_id=STEWARD, person_id="P00001", since=TODAY)
        admin.end_care_relationship(conn, user_id="dr.hansen", person_id="P00001", until=TODAY)
        with pytest.raises(InputError, match="no open care relationship"):
            admin.end_care_relationship(conn, user_id="dr.hansen", person_id="P00001", until=TODAY)
    conn.close()
    assert list(care.samples().person_id) == ["P00001"]  # ended today: today still counts
    care.today = "2026-01-02"  # decide as of tomorrow
    with pytest.raises(AccessDenied):
        care.samples()
    care.close()


# -- stewards only ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "purpose"),
    [
        ("dr.jensen", Treatment(patient="P00001")),
        ("lab.researcher", Research(project="EPI-7")),
        ("teacher.berg", Teaching()),
    ],
)
def test_non_stewards_are_denied_and_audited(cohort_copy, user, purpose):
    consents = _rows(cohort_copy, "SELECT * FROM consents")
    with contextlib.closing(open_cohort(cohort_copy, verify=False).session(
            user=user, purpose=purpose)) as s:  # fmt: skip
        with pytest.raises(AccessDenied) as info:
            s.withdraw_consent("P00001", signed_on=TODAY, note="not mine to record")
        assert "scope.stewards_only" in info.value.reasons
        with pytest.raises(AccessDenied):
            s.grant_project(project_id="EPI-7", dataset_id="NGC-REF", user_id="lab.researcher",
                            granted_on=TODAY, expires_on="2027-01-01")  # fmt: skip
    assert _rows(cohort_copy, "SELECT * FROM consents") == consents
    tail = _audit(cohort_copy)[-2:]
    assert [(r[1], r[2], r[4]) for r in tail] == [
        (user, "withdraw_consent", "deny"),
        (user, "grant_project", "deny"),
    ]
    assert json.loads(tail[0][3])["person_id"] == "P00001"
    with pytest.raises(AccessDenied, match="not a steward"):
        open_cohort(cohort_copy, verify=False).session(user=user, purpose=Stewardship())
    _verify_ok(cohort_copy)


# -- concurrency and crash safety -------------------------------------------------------------

_WRITER = """
import os, sys, time
import workbench
path, tag, own, shared, go = sys.argv[1:6]
s = workbench.open_cohort(path, verify=False).session(
    user="steward.larsen", purpose=workbench.Stewardship())
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.002)
for i in range(20):
    s.record_consent(own, form_version=f"{tag}-{i}", signed_on="2026-01-01", note=f"{tag} {i}")
    s.record_consent(shared, form_version=f"{tag}-{i}", signed_on="2026-01-01", note=f"{tag} {i}")
s.close()
"""


def _write_twenty(session, tag, own, shared):
    for i in range(20):
        for person in (own, shared):
            session.record_consent(
                person, form_version=f"{tag}-{i}", signed_on=TODAY, note=f"{tag} {i}"
            )


def _python(script: str, *args, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw,
    )  # fmt: skip


def _read_line(proc: subprocess.Popen, timeout: float = 60.0) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        proc.kill()
        pytest.fail("the child process did not report in time")
    line = proc.stdout.readline()
    if not line:
        pytest.fail(f"the child process ended early: {proc.stderr.read()}")
    return line.strip()


def test_two_writer_processes_lose_nothing(cohort_copy, tmp_path):
    # Two processes (this one and a child) write at the same moment: 20 versions each for
    # their own person and 20 each for one shared person.
    go = tmp_path / "go"
    shared, own = "P00020", {"A": "P00004", "B": "P00007"}
    start = {p: len(_versions(cohort_copy, p)) for p in [shared, *own.values()]}
    n_audit = len(_audit(cohort_copy))
    child = _python(_WRITER, cohort_copy, "B", own["B"], shared, go)
    here = _steward(cohort_copy)
    assert _read_line(child) == "ready"
    go.touch()
    _write_twenty(here, "A", own["A"], shared)
    here.close()
    _, err = child.communicate(timeout=120)
    assert child.returncode == 0, err

    for tag, person in own.items():
        rows = _versions(cohort_copy, person)
        assert [r[0] for r in rows] == list(range(1, start[person] + 21))
        assert [r[1] for r in rows[start[person] :]] == [f"{tag}-{i}" for i in range(20)]
    rows = _versions(cohort_copy, shared)
    assert [r[0] for r in rows] == list(range(1, start[shared] + 41))  # contiguous, no gap
    added = [r[1] for r in rows[start[shared] :]]
    for tag in own:  # each writer's versions all present, in its own order
        assert [f for f in added if f.startswith(tag)] == [f"{tag}-{i}" for i in range(20)]
    audit = _audit(cohort_copy)
    assert len(audit) == n_audit + 2 + 80  # two session openings, eighty writes
    assert sum(r[2] == "record_consent" and r[4] == "approve" for r in audit) == 80
    report = _verify_ok(cohort_copy)
    assert report["entries"] == n_audit + 83  # and the verifying session's opening


_HANGER = """
import sys, time
import workbench
from workbench.access.audit import AuditLog
s = workbench.open_cohort(sys.argv[1], verify=False).session(
    user="steward.larsen", purpose=workbench.Stewardship())
append = AuditLog.append
def append_then_hang(self, entry, *, conn=None):
    row = append(self, entry, conn=conn)
    if entry.action == "withdraw_consent":
        print("inside the transaction", flush=True)
        time.sleep(120)
    return row
AuditLog.append = append_then_hang
s.withdraw_consent("P00001", signed_on="2026-01-01", note="never committed")
print("committed", flush=True)
"""


def test_a_writer_killed_mid_transaction_leaves_a_sound_registry(cohort_copy):
    registry = cohort_copy / "registry.sqlite"
    consents = _versions(cohort_copy, "P00001")
    proc = _python(_HANGER, cohort_copy)
    try:
        assert _read_line(proc) == "inside the transaction"
        # The child holds the write lock with the consent and its audit entry written.
        with (
            contextlib.closing(connect(registry, busy_timeout_ms=0)) as other,
            pytest.raises(sqlite3.OperationalError, match="locked"),
        ):
            other.execute("BEGIN IMMEDIATE")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL

    with contextlib.closing(connect(registry)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert _versions(cohort_copy, "P00001") == consents  # the half-done version is absent
    assert not [r for r in _audit(cohort_copy) if r[2] == "withdraw_consent"]
    _verify_ok(cohort_copy)
    t0 = time.monotonic()
    with contextlib.closing(_steward(cohort_copy)) as s:
        row = s.withdraw_consent("P00001", signed_on=TODAY, note="recorded after the crash")
    assert time.monotonic() - t0 < 5  # no stale lock to wait out
    assert row["version"] == len(consents) + 1
    _verify_ok(cohort_copy)


def test_add_principal_checks_each_field_and_never_overwrites(cohort_copy):
    good = dict(
        user_id="student.vang",
        display_name="Mette Vang",
        role="student",
        affiliation="student@ku.dk",
        accepted_terms="workbench-teaching-terms-v1",
        accepted_on="2026-01-01",
    )
    with contextlib.closing(connect(cohort_copy / "registry.sqlite")) as conn:
        for change, message in [
            ({"user_id": "Student Vang"}, "lower-case letters"),
            ({"user_id": "student.ali"}, "is a principal already"),
            ({"role": "dean"}, "role must be one of"),
            ({"affiliation": "ku.dk"}, "role@organisation"),
            ({"display_name": "Mette\nVang"}, "display_name"),
            ({"accepted_on": None}, "go together"),
            ({"researcher_status_by": "self"}, "researcher_status_by"),
        ]:
            with pytest.raises(InputError, match=message), transaction(conn):
                admin.add_principal(conn, **{**good, **change})
        with transaction(conn):
            row = admin.add_principal(conn, **good)
        assert row["accepted_terms_by"] == "self"
    # a student with accepted teaching terms: the policy lets them in at once
    student = open_cohort(cohort_copy).session(user="student.vang", purpose=Teaching())
    assert student.decision()["outcome"] == "approve"
