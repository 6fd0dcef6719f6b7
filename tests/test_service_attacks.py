"""The data-access service against the attacks an ordinary account tried on the in-process mode.

Each test starts ``workbench service run`` on 127.0.0.1 in its own process, acts as a client
from this one (or, run as root, as another OS user) and checks that an attack of the issue "A
real trust boundary" is refused. Each protection was removed once to see its test fail.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import typing
from pathlib import Path

import pytest
import requests
from conftest import Service

import workbench
from workbench import Research, Stewardship, Teaching, Treatment
from workbench.access.pseudonyms import load_service_key
from workbench.errors import (
    AccessDenied,
    AuditIntegrityError,
    AuthenticationError,
    ConsentDenied,
    DisclosureRefused,
    InputError,
)
from workbench.service import init_state, open_state

pytestmark = pytest.mark.slow

GENE_REGION = ("chr1", 1, 300_000)
TOKEN = re.compile(r"cgw_[A-Za-z0-9_-]{20,}")
PERSON_ID = re.compile(r"\bP\d{5}\b")


def _registry(path: Path, statement: str, params=()):
    with contextlib.closing(sqlite3.connect(Path(path) / "registry.sqlite")) as conn:
        return conn.execute(statement, params).fetchall()


def _consenting_person(path: Path) -> str:
    return _registry(
        path,
        "SELECT person_id FROM consents c WHERE version = (SELECT max(version) FROM consents "
        "WHERE person_id = c.person_id) AND research_opt_out = 0 AND withdrawn = 0 "
        "ORDER BY person_id LIMIT 1",
    )[0][0]


# -- identity -------------------------------------------------------------------------------------
def test_no_token_an_unknown_one_or_none_at_all_is_refused(service):
    with pytest.raises(AuthenticationError):
        workbench.connect(service.url, token="cgw_" + "A" * 43)
    with pytest.raises(AuthenticationError):
        workbench.connect(service.url, token=service.tokens["student.ali"][:-1] + "x")
    for route in ("me", "cohort", "sessions"):
        r = requests.post(f"{service.url}/api/v1/{route}", data=b"{}", timeout=5)
        assert r.status_code == 401, route
        assert r.json()["reasons"] == ["auth.no_valid_token"]


def test_a_revoked_or_expired_token_stops_working_on_the_next_request(service):
    state = open_state(service.state_path)
    token_id, token = state.issue_token("teacher.berg", days=1)
    remote = workbench.connect(service.url, token=token)
    session = remote.session(purpose=Teaching())
    assert len(session.samples()) > 0
    state.revoke_token(token_id)
    with pytest.raises(AuthenticationError):
        session.samples()
    token_id, token = state.issue_token("teacher.berg", days=1)
    session = workbench.connect(service.url, token=token).session(purpose=Teaching())
    # a day later (the service's UTC clock): the token's expiry has passed
    with contextlib.closing(sqlite3.connect(service.state_path / "tokens.sqlite")) as conn:
        conn.execute(
            "UPDATE tokens SET expires_at = '2000-01-01T00:00:00Z' WHERE token_id = ?", (token_id,)
        )
        conn.commit()
    with pytest.raises(AuthenticationError):
        session.samples()


def test_tokens_are_kept_as_digests_never_in_clear(service):
    stored = (service.state_path / "tokens.sqlite").read_bytes()
    for token in service.tokens.values():
        assert token.encode() not in stored
        assert token[4:20].encode() not in stored


def test_identity_is_the_tokens_never_a_name_in_the_request(service):
    student = service.connect("student.ali")
    # the in-process API took any user name; the service answers as whom the token says
    with pytest.raises(InputError, match=r"signed in to the service as 'student\.ali'"):
        student.session(user="dr.jensen", purpose=Treatment(patient="P00003"))
    headers = {"Authorization": f"token {service.tokens['student.ali']}"}
    for extra in ({"user": "dr.jensen"}, {"clock": "2020-01-01T00:00:00Z"}):
        body = {"purpose": {"kind": "teaching", "sandbox": False}, **extra}
        r = requests.post(
            f"{service.url}/api/v1/sessions", data=json.dumps(body), headers=headers, timeout=5
        )
        assert r.status_code == 400 and "the service knows who you are" in r.json()["message"]
    # a student claiming a clinician's purpose is a student still
    with pytest.raises(AccessDenied):
        student.session(purpose=Treatment(patient="P00003")).samples()


def test_another_users_session_is_as_if_absent(service):
    teacher = service.connect("teacher.berg").session(purpose=Teaching())
    headers = {"Authorization": f"token {service.tokens['student.ali']}"}
    r = requests.post(
        f"{service.url}/api/v1/sessions/{teacher._key}/call/samples",
        data=b"{}",
        headers=headers,
        timeout=5,
    )
    assert r.status_code == 404
    assert "sample_id" not in r.text


HUB_TOKENS = {
    "hub-token-of-ali": "student.ali",
    "hub-token-of-berg": "teacher.berg",
    "hub-token-of-a-stranger": "mallory",
}


class _FakeHub(http.server.BaseHTTPRequestHandler):
    """A hub's ``GET /hub/api/user``: the owner of a known token, 403 for any other."""

    asked: typing.ClassVar[list[str]] = []  # the tokens it was asked about, in order

    def do_GET(self):
        token = self.headers.get("Authorization", "").removeprefix("token ")
        _FakeHub.asked.append(token)
        name = HUB_TOKENS.get(token)
        body = json.dumps({"name": name, "kind": "user"} if name else {"status": 403}).encode()
        self.send_response(200 if self.path == "/hub/api/user" and name else 403)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_hub_user_signs_in_as_themselves_and_nobody_else_does(cohort_copy, tmp_path):
    hub = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeHub)
    threading.Thread(target=hub.serve_forever, daemon=True).start()
    api = f"http://127.0.0.1:{hub.server_address[1]}/hub/api"
    running = Service(tmp_path, cohort_copy, hub_api_url=api)
    try:
        ali = workbench.connect(running.url, token="hub-token-of-ali")
        assert ali.user == "student.ali"
        with pytest.raises(AccessDenied):  # a student still: aggregates only
            ali.session(purpose=Teaching()).samples()
        with pytest.raises(AuthenticationError):  # the hub refuses the token
            workbench.connect(running.url, token="hub-token-forged")
        with pytest.raises(AuthenticationError):  # a hub user the registry does not know
            workbench.connect(running.url, token="hub-token-of-a-stranger")
        hub.shutdown()
        hub.server_close()
        with pytest.raises(AuthenticationError):  # hub down, answer not cached: fail closed
            workbench.connect(running.url, token="hub-token-of-someone-new")
    finally:
        running.stop()


def test_guessing_tokens_is_slowed_and_cannot_flood_the_hub(cohort_copy, tmp_path):
    from workbench.service.app import SIGNIN_FAILURES_PER_MINUTE

    hub = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeHub)
    threading.Thread(target=hub.serve_forever, daemon=True).start()
    api = f"http://127.0.0.1:{hub.server_address[1]}/hub/api"
    running = Service(tmp_path, cohort_copy, hub_api_url=api)
    me = f"{running.url}/api/v1/me"

    def sign_in(token):
        return requests.get(me, headers={"Authorization": f"token {token}"}, timeout=5)

    try:
        assert sign_in("hub-token-of-ali").status_code == 200
        _FakeHub.asked.clear()
        for i in range(SIGNIN_FAILURES_PER_MINUTE):
            assert sign_in(f"guess-{i}").status_code == 401
        assert len(_FakeHub.asked) == SIGNIN_FAILURES_PER_MINUTE
        # From now on this address's guesses are answered 429, and the hub is not asked
        for i in range(5):
            r = sign_in(f"another-guess-{i}")
            assert r.status_code == 429 and r.headers["Retry-After"] == "60"
            assert r.json()["reasons"] == ["auth.too_many_failures"]
        assert sign_in("cgw_" + "B" * 43).status_code == 429
        assert len(_FakeHub.asked) == SIGNIN_FAILURES_PER_MINUTE
        # Tokens the service issued still work, and so does a hub answer it holds already;
        # a hub token it has not seen waits a minute (the price of not asking the hub)
        assert sign_in(running.tokens["steward.larsen"]).status_code == 200
        assert sign_in("hub-token-of-ali").json()["user"] == "student.ali"
        assert sign_in("hub-token-of-berg").status_code == 429
        with pytest.raises(AuthenticationError, match="too many failed sign-ins"):
            workbench.connect(running.url, token="hub-token-of-berg")
    finally:
        running.stop()
        hub.shutdown()
        hub.server_close()


def test_a_request_body_over_the_limit_is_refused_unread(service):
    from workbench.service.app import MAX_BODY_BYTES

    headers = {"Authorization": f"token {service.tokens['student.ali']}"}
    from workbench.access.policy import purpose_to_dict

    # A well-formed request, padded: read in full, it would open a session
    purpose = json.dumps(purpose_to_dict(Teaching())).encode()
    body = b'{"purpose": ' + purpose + b" " * MAX_BODY_BYTES + b"}"
    try:
        r = requests.post(f"{service.url}/api/v1/sessions", data=body, headers=headers, timeout=30)
        refused = r.status_code >= 400
    except requests.ConnectionError:  # the service closed the connection without reading on
        refused = True
    assert refused
    assert service.connect("student.ali").user == "student.ali"  # and it still serves others


def test_one_users_long_call_does_not_hold_up_anothers(service):
    # Served one call at a time, a class waited for whoever asked the longest question.
    teacher = service.connect("teacher.berg").session(purpose=Teaching())
    student = service.connect("student.ali").session(purpose=Teaching())
    done = {}

    def long_count():
        started = time.monotonic()
        teacher.allele_counts(region=("chr1", 1, 300_000), by="sex")  # ~1.5 s on tiny
        done["teacher"] = time.monotonic() - started

    worker = threading.Thread(target=long_count)
    worker.start()
    time.sleep(0.3)
    started = time.monotonic()
    student.decision()
    done["student"] = time.monotonic() - started
    worker.join()
    # served in turn, the student would wait out the rest of the teacher's call (~1.2 s)
    assert done["student"] < done["teacher"] / 4, done


# -- the clock and entitlements ------------------------------------------------------------------
def test_the_services_clock_decides_and_a_what_if_is_a_stewards_recorded_question(service):
    researcher = service.connect("lab.researcher")
    with pytest.raises(AccessDenied) as refused:
        researcher.session(purpose=Research(project="EPI-7"), today="2020-01-01")
    assert refused.value.reasons == ("clock.service_decides",)
    steward = service.connect("steward.larsen")
    what_if = steward.session(purpose=Stewardship(), today="2030-06-01")
    assert what_if.today == "2030-06-01"
    log = steward.session(purpose=Stewardship()).audit_log(user="steward.larsen")
    opened = log[log.action == "open_session"]
    assert {"today": "2030-06-01"} in list(opened["query"])


def test_audit_times_are_the_services_clock(service):
    before = time.time()
    service.connect("teacher.berg").session(purpose=Teaching()).samples()
    at = _registry(service.cohort, "SELECT at FROM audit_log ORDER BY seq DESC LIMIT 1")[0][0]
    stamp = time.mktime(time.strptime(at[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    assert before - 5 <= stamp <= time.time() + 5


def test_a_student_cannot_switch_herself_into_the_sandbox(service):
    student = service.connect("student.ali")
    with pytest.raises(AccessDenied) as refused:
        student.session(purpose=Teaching(sandbox=True)).samples()
    assert "teaching.sandbox_not_granted" in refused.value.reasons
    with pytest.raises(AccessDenied):  # without the sandbox: aggregates only
        student.session(purpose=Teaching()).samples()
    open_state(service.state_path).entitle("student.ali", "teaching.sandbox")
    assert len(student.session(purpose=Teaching(sandbox=True)).samples()) > 0


# -- disclosure control for the population, not the caller -----------------------------------
def test_a_count_before_an_opt_out_and_one_after_it_cannot_both_leave(service):
    # The attack: a trainer counts everyone; the person opts out; a student counts again.
    # The difference of the two tables would be that person's genotypes.
    teacher = service.connect("teacher.berg").session(purpose=Teaching())
    before = teacher.allele_counts(region=GENE_REGION)
    assert len(before) > 0
    person = _consenting_person(service.cohort)
    steward = service.connect("steward.larsen").session(purpose=Stewardship())
    today = steward.today
    steward.set_research_opt_out(person, opt_out=True, signed_on=today, note="attack test")
    student = service.connect("student.ali").session(purpose=Teaching())
    with pytest.raises(DisclosureRefused) as refused:
        student.allele_counts(region=GENE_REGION)
    assert "disclosure.differencing" in refused.value.reasons


def test_a_release_history_cut_short_stops_the_service_at_its_next_start(service):
    # The same attack by someone holding the service's state folder: they empty the release
    # history before the service starts again, so the trainer's count is forgotten. The
    # audit entries vouch for the history's length and last line, so the service refuses.
    teacher = service.connect("teacher.berg").session(purpose=Teaching())
    teacher.allele_counts(region=GENE_REGION)
    person = _consenting_person(service.cohort)
    steward = service.connect("steward.larsen").session(purpose=Stewardship())
    steward.set_research_opt_out(person, opt_out=True, signed_on=steward.today, note="attack")
    service.stop()
    history = service.state_path / "secrets" / "releases-queries.jsonl"
    assert history.stat().st_size > 0
    history.write_text("")
    service.start()
    with pytest.raises(AuditIntegrityError, match="cut off"):
        service.connect("student.ali").session(purpose=Teaching()).allele_counts(region=GENE_REGION)


def test_a_genotype_read_stops_streaming_once_someone_in_it_opts_out(service):
    # The read was decided when it began; its chunks come later, one request each.
    teacher = service.connect("teacher.berg").session(purpose=Teaching())
    calls = teacher.genotype_view().genotypes(contig="chr1")  # decided and audited here
    steward = service.connect("steward.larsen").session(purpose=Stewardship())
    person = _consenting_person(service.cohort)
    steward.set_research_opt_out(person, opt_out=True, signed_on=steward.today, note="test")
    with pytest.raises(ConsentDenied) as refused:
        calls.values.compute()
    assert refused.value.reasons == ("consent.changed_since_view",)


def test_the_airlock_releases_what_it_issued_not_what_the_client_edited(service):
    teacher = service.connect("teacher.berg").session(purpose=Teaching())
    counts = teacher.allele_counts(region=GENE_REGION)
    issued = counts.to_dict(orient="records")
    counts["who"] = "P00003"
    out = teacher.export(counts)
    assert out["data"] == issued
    assert not PERSON_ID.search(json.dumps(out))
    with pytest.raises(DisclosureRefused):  # a table the service never issued
        teacher.export({"n": 12, "who": "P00003"})


def test_every_release_follows_and_records_the_services_disclosure_profile(cohort_copy, tmp_path):
    running = Service(tmp_path, cohort_copy, disclosure="opensafely")
    try:
        teacher = running.connect("teacher.berg").session(purpose=Teaching())
        table = teacher.allele_counts(region=GENE_REGION)
        cells = [v for c in table.columns if c.startswith("ac_") for v in table[c]]
        shown = [v for v in cells if not isinstance(v, str)]
        assert shown and all(v % 5 == 0 and v != 5 for v in shown)  # <= 7 redacted, then /5
        assert {v for v in cells if isinstance(v, str)} <= {"<8", "*"}
        assert table.attrs["disclosure_profile"] == "opensafely"
        released = teacher.export(table)
        assert "rounded to the nearest 5" in released["legend"]["rounding"]
        steward = running.connect("steward.larsen").session(purpose=Stewardship())
        log = steward.audit_log(user="teacher.berg")
        counted = log[log.action == "allele_counts"].iloc[-1]
        assert "disclosure.profile.opensafely" in counted["basis"]
    finally:
        running.stop()


# -- keys and the audit chain --------------------------------------------------------------------
def test_keys_are_the_services_not_the_cohorts(service):
    cohort = service.cohort
    for name in ("project-pseudonym.key", "audit.key"):
        assert (service.state_path / "secrets" / name).stat().st_mode & 0o077 == 0
    remote = service.connect("teacher.berg").session(purpose=Teaching())
    labels = set(remote.samples().sample_id)
    # the cohort folder's key (re-derivable from the seed) names no one the service shows
    seeded = load_service_key(cohort / "service" / "project-pseudonym.key").pseudonymiser()
    people = [r[0] for r in _registry(cohort, "SELECT person_id FROM samples")]
    assert labels.isdisjoint(seeded.project_pseudonyms(people, "teaching"))


def test_a_folder_attacker_holding_the_cohorts_key_cannot_rewrite_the_chain(service):
    from workbench.access.audit import entry_mac, load_audit_key

    service.connect("student.ali").session(purpose=Teaching()).allele_counts(region=GENE_REGION)
    # Turn the last entry into an innocent one, re-MAC it with the cohort folder's own key.
    cohort_key = load_audit_key(service.cohort / "service" / "audit.key")
    with contextlib.closing(sqlite3.connect(service.cohort / "registry.sqlite")) as conn:
        conn.row_factory = sqlite3.Row
        row = dict(conn.execute("SELECT * FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone())
        triggers = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"
        ).fetchall()
        for name, _ in triggers:
            conn.execute(f"DROP TRIGGER {name}")
        row.update(action="open_session", key_version=cohort_key.version)
        row["mac"] = entry_mac(cohort_key.key, row)
        conn.execute(
            "UPDATE audit_log SET action = ?, key_version = ?, mac = ? WHERE seq = ?",
            (row["action"], row["key_version"], row["mac"], row["seq"]),
        )
        for _, statement in triggers:
            conn.execute(statement)
        conn.commit()
    report = service.connect("steward.larsen").session(purpose=Stewardship()).audit_verify()
    assert not report["ok"] and report["first_bad_seq"] == row["seq"]


def test_a_registry_edited_outside_the_service_is_refused_until_a_steward_seals_it(service):
    teacher = service.connect("teacher.berg").session(purpose=Teaching())
    assert len(teacher.samples()) > 0
    # A student with write access to the file makes herself a trainer (record-level reads).
    with contextlib.closing(sqlite3.connect(service.cohort / "registry.sqlite")) as conn:
        conn.execute("UPDATE principals SET role = 'trainer' WHERE user_id = 'student.ali'")
        conn.commit()
    student = service.connect("student.ali")
    with pytest.raises(AccessDenied) as refused:
        student.session(purpose=Teaching()).samples()
    assert refused.value.reasons == ("integrity.registry_changed",)
    with pytest.raises(AccessDenied):  # everyone's calls stop, not only hers
        teacher.samples()
    steward = service.connect("steward.larsen").session(purpose=Stewardship())
    log = steward.audit_log(user="student.ali")
    assert list(log.decision)[-1] == "deny"
    with pytest.raises(AccessDenied):  # nothing is changed on top of an unexplained edit
        steward.set_research_opt_out(
            _consenting_person(service.cohort), opt_out=True, signed_on=steward.today, note="x"
        )
    steward.seal_registry(note="checked: student.ali's role change was approved by the trainer")
    assert len(teacher.samples()) > 0


def test_principals_and_care_change_through_the_service_as_audited_sealed_calls(service):
    # The legitimate way to change who may sign in and who cares for whom: a steward's calls,
    # each an entry of the audit chain and sealed by the service, so no one else's work stops.
    steward = service.connect("steward.larsen").session(purpose=Stewardship())
    steward.add_principal(
        user_id="student.vang",
        display_name="Mette Vang",
        role="student",
        affiliation="student@ku.dk",
        accepted_terms="workbench-teaching-terms-v1",
        accepted_on=steward.today,
    )
    _, token = open_state(service.state_path).issue_token("student.vang")
    learner = workbench.connect(service.url, token=token).session(purpose=Teaching())
    assert len(learner.allele_counts(region=GENE_REGION)) > 0
    patient = next(iter(service.connect("dr.jensen").worklist()))
    colleague = service.connect("dr.nielsen")
    assert patient not in colleague.worklist()
    steward.add_care_relationship(user_id="dr.nielsen", person_id=patient, since=steward.today)
    assert patient in colleague.worklist()
    assert colleague.session(purpose=Treatment(patient=patient)).samples() is not None
    actions = list(steward.audit_log(user="steward.larsen").action)
    assert {"add_principal", "add_care_relationship"} <= set(actions)
    assert steward.audit_verify()["ok"]
    # … and only a steward may make them
    with pytest.raises(AccessDenied):
        service.connect("dr.jensen").session(
            purpose=Treatment(patient=patient)
        ).add_care_relationship(user_id="dr.jensen", person_id=patient, since=steward.today)


def test_a_registry_restored_from_an_older_copy_stops_the_service(service):
    # With no key at all: keep a copy, let work go on, put the copy back. The chain in the
    # copy is intact; only the checkpoints kept in the service's state know it is old.
    teacher = service.connect("teacher.berg").session(purpose=Teaching())
    live = sqlite3.connect(service.cohort / "registry.sqlite")
    old = sqlite3.connect(":memory:")
    live.backup(old)
    for _ in range(30):  # past the next external checkpoint
        teacher.samples()
    old.backup(live)  # through SQLite itself, so the live file and its WAL agree
    live.close()
    with pytest.raises(AccessDenied) as refused:
        service.connect("student.ali").session(purpose=Teaching()).allele_counts(region=GENE_REGION)
    assert refused.value.reasons == ("integrity.registry_changed",)
    steward = service.connect("steward.larsen").session(purpose=Stewardship())
    report = steward.audit_verify()
    assert not report["ok"] and "cut off" in report["problem"]


def test_signed_checkpoints_on_a_witness_catch_a_rollback_with_the_public_key_only(
    cohort_copy, tmp_path
):
    from click.testing import CliRunner

    from workbench.cli import main

    witness = tmp_path / "elsewhere" / "checkpoints.witness"
    witness.parent.mkdir()
    running = Service(tmp_path, cohort_copy, witness=witness)
    live = sqlite3.connect(cohort_copy / "registry.sqlite")
    old = sqlite3.connect(":memory:")
    live.backup(old)
    try:
        teacher = running.connect("teacher.berg").session(purpose=Teaching())
        for _ in range(30):
            teacher.samples()
    finally:
        running.stop()

    def check():
        args = ["service", "witness-check", str(cohort_copy), "--witness", str(witness)]
        return CliRunner().invoke(main, [*args, "--public-key", running.state.public_key])

    done = check()
    assert done.exit_code == 0 and "intact: 1 signed checkpoint" in done.output
    signed = witness.read_text()
    witness.write_text(signed.replace('"head_seq":', '"head_seq":1', 1))  # a forged line
    done = check()
    assert done.exit_code == 1 and "not signed by the key" in done.output
    witness.write_text(signed)
    old.backup(live)  # the registry as it was before the 30 calls
    live.close()
    done = check()
    assert done.exit_code == 1 and "cut off" in done.output


def test_the_log_carries_no_token_person_id_or_handle(service):
    remote = service.connect("dr.jensen")
    patient = _registry(
        service.cohort,
        "SELECT person_id FROM care_relationships WHERE user_id = 'dr.jensen' LIMIT 1",
    )[0][0]
    session = remote.session(purpose=Treatment(patient=patient))
    assert patient in set(session.samples().person_id)
    with pytest.raises(InputError):
        session.phenopacket("P99999")
    text = service.stop()
    assert "Call" in text  # the route is logged …
    assert not TOKEN.search(text)  # … never a token,
    assert not PERSON_ID.search(text)  # a person's id
    assert session._key not in text  # or a session handle


# -- another OS user ------------------------------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_a_client_as_another_os_user_reads_through_the_service_but_not_the_files(service):
    # The deployment: the cohort and the service's state belong to the service's account.
    for path in (service.cohort, service.state_path):
        os.chmod(path, 0o700)
    # The interpreter lives under root's private home, so the client starts as root, makes
    # one call to load every module it needs, then drops to 'nobody' for good.
    script = (
        "import os, sys, workbench\n"
        "from workbench import Teaching\n"
        f"remote = workbench.connect({service.url!r}, token=sys.argv[1])\n"
        "remote.session(purpose=Teaching()).samples()\n"
        "os.setgroups([]); os.setgid(65534); os.setuid(65534)\n"
        "try:\n"
        f"    open({str(service.cohort / 'registry.sqlite')!r}, 'rb')\n"
        "    print('files readable')\n"
        "except PermissionError:\n"
        "    print('files closed')\n"
        "print('rows', len(remote.session(purpose=Teaching()).samples()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, service.tokens["teacher.berg"]],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.split("\n")
    assert lines[0] == "files closed"
    assert int(lines[1].split()[1]) > 0


def test_the_public_parts_are_served_and_nothing_else(service, monkeypatch, tmp_path):
    # A clinician's interpretation needs the reference genome and the knowledge bases, public
    # as GRCh38 and ClinVar are: the service serves those files, checked against its manifest.
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    headers = {"Authorization": f"token {service.tokens['student.ali']}"}
    listing = requests.get(f"{service.url}/api/v1/public", headers=headers, timeout=5).json()
    assert listing["files"] and all(
        n.startswith(("reference/", "knowledge/")) for n in listing["files"]
    )
    fasta = requests.get(
        f"{service.url}/api/v1/public/reference/genome.fa", headers=headers, timeout=5
    )
    assert fasta.content == (service.cohort / "reference" / "genome.fa").read_bytes()
    for name in (
        "registry.sqlite",
        "keyholder/identity.sqlite",
        "truth/cases.tsv",
        "reference/../registry.sqlite",
        "reference/%2e%2e/registry.sqlite",
        "knowledge/..",
        "phenopackets/x.json",
    ):
        r = requests.get(f"{service.url}/api/v1/public/{name}", headers=headers, timeout=5)
        assert r.status_code == 404, name
    r = requests.get(f"{service.url}/api/v1/public/reference/genome.fa", timeout=5)
    assert r.status_code == 401
    # … and a remote cohort reads them as the folder does, fetched once into the cache
    remote = service.connect("dr.jensen")
    local = workbench.open_cohort(service.cohort)
    assert remote.knowledge.gene_disease.equals(local.knowledge.gene_disease)
    assert remote.reference.contigs == local.reference.contigs
    assert remote.size == local.size
    (kept,) = (tmp_path / "cache" / "public").iterdir()
    # A kept copy altered since (a shared cache, a stray edit) is not believed: fetched afresh
    with open(kept / "knowledge" / "gene_disease.tsv", "a", encoding="utf-8") as f:
        f.write("FAKE1\tOMIM:999999\tA disease no one has\tAD\tepilepsy\n")
    again = service.connect("dr.jensen")
    assert again.knowledge.gene_disease.equals(local.knowledge.gene_disease)


def test_through_the_service_a_clinician_sees_their_own_worklist_only(service):
    from workbench.access.explain import patients_of, worklist
    from workbench.interpret.case import choose_case

    remote = service.connect("dr.jensen")
    local = workbench.open_cohort(service.cohort)
    assert remote.worklist() == worklist(local, user="dr.jensen")
    assert choose_case(remote) == choose_case(local, clinician="dr.jensen")
    with pytest.raises(InputError, match=r"signed in to the service as 'dr\.jensen'"):
        choose_case(remote, clinician="dr.hansen")
    with pytest.raises(InputError, match="your own worklist"):
        patients_of(remote, user="dr.hansen")
    assert service.connect("lab.researcher").worklist() == {}


def test_a_clinician_sequences_their_own_family_and_only_the_reads_leave(
    service, monkeypatch, tmp_path
):
    # Course modules 2–4 run the pipeline on a treatment session: the service simulates the
    # family's reads from genomes the kernel never holds, each sequencing audited.
    from workbench.interpret.case import choose_case
    from workbench.pipeline.compare import truth_table
    from workbench.synth.reads import simulate_reads

    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    remote = service.connect("dr.jensen")
    local = workbench.open_cohort(service.cohort, verify=False)
    _, proband = choose_case(remote)
    session = remote.session(purpose=Treatment(patient=proband))
    family = session.samples()
    genes = [g.symbol for g in remote.reference.genes[:2]]
    options = {"regions": genes, "depth": 8, "seed": 3, "progress": False}
    got = simulate_reads(
        session, person_ids=list(family.person_id), out_dir=tmp_path / "r", **options
    )
    made = simulate_reads(
        local, person_ids=list(family.person_id), out_dir=tmp_path / "l", **options
    )
    for person, (r1, r2) in got.items():
        assert r1.read_bytes() == made[person][0].read_bytes()
        assert r2.read_bytes() == made[person][1].read_bytes()
    regions = [(g.contig, g.start, g.end) for g in map(remote.reference.gene, genes)]
    members = list(family.person_id)
    assert truth_table(session, samples=members, regions=regions).equals(
        truth_table(local, samples=members, regions=regions)
    )
    # Nobody outside the session's view is sequenced, and an aggregate role reads no reads
    outsider = next(p for p in local.sample_ids if p not in members)
    with pytest.raises(InputError, match="not among the people this session may see"):
        session.reads(outsider, regions=genes, seed=3)
    # … nor can one caller make the service exhaust its memory: a request for millions of
    # read pairs is refused before anything is read or made, and the service serves on
    with pytest.raises(InputError, match="at most 500,000 are sequenced at a time"):
        session.reads(members[0], regions=genes, seed=3, depth=1e6)
    assert session.reads(members[0], regions=genes[:1], seed=3, depth=2)["R1"]
    # … and a malformed request is the client's mistake, said in one line
    with pytest.raises(InputError, match=r"unknown read option\(s\) colour"):
        session.reads(members[0], regions=genes, seed=3, colour="blue")
    with pytest.raises(InputError, match="reads: missing a required argument: 'seed'"):
        session.reads(members[0], regions=genes)
    students = service.connect("student.ali").session(purpose=Teaching())
    with pytest.raises(AccessDenied, match="counts and aggregates only"):
        students.reads(outsider, regions=genes, seed=3)
    with contextlib.closing(sqlite3.connect(service.cohort / "registry.sqlite")) as conn:
        rows = conn.execute(
            "SELECT user_id, decision, count(*) FROM audit_log WHERE action = 'reads' GROUP BY 1, 2"
        ).fetchall()
    assert sorted(rows) == [
        ("dr.jensen", "approve", len(members) + 1),
        ("dr.jensen", "deny", 3),
        ("student.ali", "deny", 1),
    ]


def test_setting_up_closes_the_cohort_to_other_accounts(cohort_copy, tmp_path):
    init_state(tmp_path / "state", cohort_copy)
    assert cohort_copy.stat().st_mode & 0o077 == 0
    for part in ("registry.sqlite", "genotypes.vcz", "truth", "keyholder"):
        assert (cohort_copy / part).stat().st_mode & 0o077 == 0, part
    calls = next((cohort_copy / "genotypes.vcz").rglob("*.json"), None) or next(
        p for p in (cohort_copy / "genotypes.vcz").rglob("*") if p.is_file()
    )
    assert calls.stat().st_mode & 0o077 == 0


def test_a_cohort_whose_manifest_was_rewritten_is_not_served(cohort_copy, tmp_path):
    # Replace a file and its checksum together: the manifest still matches the files, but it
    # is no longer the one the service signed.
    state = init_state(tmp_path / "state", cohort_copy)
    manifest = json.loads((cohort_copy / "manifest.json").read_text())
    pedigree = cohort_copy / "pedigree.ped"
    pedigree.write_text(pedigree.read_text().replace("\t2\n", "\t1\n", 1))
    from workbench.io import file_sha256

    manifest["files"]["pedigree.ped"] = file_sha256(pedigree)
    (cohort_copy / "manifest.json").write_text(json.dumps(manifest))
    assert workbench.open_cohort(cohort_copy).name  # consistent with itself …
    with pytest.raises(workbench.errors.CohortIntegrityError, match="not the manifest signed"):
        _ = open_state(state.path).cohort  # … but not what the service vouched for


def test_a_folder_linked_to_files_outside_the_cohort_is_refused(cohort_copy, tmp_path):
    # Every file of the manifest is in place and matches, but one folder is a link to a copy
    # elsewhere (which someone else controls): the cohort's files must be its own.
    elsewhere = tmp_path / "elsewhere"
    shutil.move(cohort_copy / "phenopackets", elsewhere)
    (cohort_copy / "phenopackets").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(workbench.errors.CohortIntegrityError, match="outside the cohort"):
        workbench.open_cohort(cohort_copy)


def test_service_refuses_to_set_up_inside_the_cohort_or_twice(cohort_copy, tmp_path):
    with pytest.raises(InputError, match="inside the cohort folder"):
        init_state(cohort_copy / "state", cohort_copy)
    init_state(tmp_path / "state", cohort_copy)
    with pytest.raises(workbench.errors.OutputExistsError):
        init_state(tmp_path / "state", cohort_copy)
    shutil.rmtree(tmp_path / "state")
