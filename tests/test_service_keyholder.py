"""The keyholder: identities held apart from the data-access service, in a process of their own.

The service decides who may re-identify (a treating clinician, their own patient, audited);
only the keyholder holds the national ids, answers the service alone, keeps the hospital's
ledger and limits how many a clinician may ask for in an hour.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3

import pytest
import requests
from click.testing import CliRunner
from conftest import Service, _free_port, run_until_healthy

from workbench import Research, Treatment
from workbench.cli import main
from workbench.errors import AccessDenied, ConsentDenied, KeyMissingError

pytestmark = pytest.mark.slow


def _national_ids(store) -> dict[str, str]:
    with contextlib.closing(sqlite3.connect(store)) as conn:
        return dict(conn.execute("SELECT person_id, national_id FROM identities"))


@pytest.fixture
def apart(cohort_copy, tmp_path):
    """A keyholder holding the tiny cohort's identities (two an hour), and a service asking it."""
    identities = _national_ids(cohort_copy / "keyholder" / "identity.sqlite")
    state, token_file = tmp_path / "keyholder", tmp_path / "service-to-keyholder.token"
    done = CliRunner().invoke(
        main,
        ["keyholder", "init", str(cohort_copy), "--state", str(state),
         "--token-out", str(token_file), "--max-per-hour", "2"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    url = f"http://127.0.0.1:{_free_port()}"
    keyholder = run_until_healthy(
        ["keyholder", "run", "--state", state, "--port", url.rsplit(":", 1)[1]],
        url,
        tmp_path / "keyholder.log",
    )
    token = token_file.read_text(encoding="utf-8").strip()
    service = Service(tmp_path / "svc", cohort_copy, keyholder_url=url, keyholder_token=token)
    yield service, keyholder, url, state, identities
    for process in (service.process, keyholder):
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


def test_the_keyholder_alone_holds_identities_and_answers_the_service_alone(apart, tmp_path):
    service, keyholder, url, state, identities = apart
    # The cohort the service reads holds no identities any more; the keyholder's state does
    assert not (service.cohort / "keyholder").exists()
    assert _national_ids(state / "identity.sqlite") == identities
    assert (tmp_path / "service-to-keyholder.token").stat().st_mode & 0o077 == 0
    clinician = service.connect("dr.jensen")
    patient = next(iter(clinician.worklist()))
    care = clinician.session(purpose=Treatment(patient=patient))
    assert care.reidentify(patient) == identities[patient]
    ledger = [json.loads(line) for line in (state / "ledger.jsonl").read_text().splitlines()]
    assert [(e["clinician"], e["person"], e["outcome"]) for e in ledger] == [
        ("dr.jensen", patient, "answered")
    ]
    # The service decides first: a researcher is refused there, and the keyholder never asked
    research = service.connect("lab.researcher").session(purpose=Research(project="EPI-7"))
    with pytest.raises(ConsentDenied):
        research.reidentify(patient)
    assert len((state / "ledger.jsonl").read_text().splitlines()) == 1
    # Nobody but the service gets an answer from the keyholder: not a user's token, not none
    body = json.dumps({"clinician": "dr.jensen", "person": patient})
    for headers in ({}, {"Authorization": f"token {service.tokens['dr.jensen']}"}):
        r = requests.post(f"{url}/api/v1/reidentify", data=body, headers=headers, timeout=5)
        assert r.status_code == 401 and identities[patient] not in r.text
    # Past the hourly limit the keyholder refuses, and says so in its ledger
    assert care.reidentify(patient) == identities[patient]
    with pytest.raises(AccessDenied) as refused:
        care.reidentify(patient)
    assert refused.value.reasons == ("reidentify.rate_limited",)
    assert json.loads((state / "ledger.jsonl").read_text().splitlines()[-1])["outcome"] == (
        "refused: hourly limit"
    )
    # Neither process logs a national id
    logs = (tmp_path / "keyholder.log").read_text() + service.log.read_text()
    assert not any(national in logs for national in identities.values())
    # A keyholder that is down: the request fails closed, with what to do
    keyholder.terminate()
    keyholder.wait(timeout=30)
    with pytest.raises(KeyMissingError, match="does not answer"):
        service.connect("dr.jensen").session(purpose=Treatment(patient=patient)).reidentify(patient)


def test_keyholder_init_refuses_twice_and_leaves_nothing_half_made(cohort_copy, tmp_path):
    runner = CliRunner()
    args = ["keyholder", "init", str(cohort_copy), "--state"]
    token = tmp_path / "token"
    assert (
        runner.invoke(main, [*args, str(tmp_path / "k1"), "--token-out", str(token)]).exit_code == 0
    )
    # The store has moved: a second keyholder finds nothing to hold, and writes no token
    again = runner.invoke(main, [*args, str(tmp_path / "k2"), "--token-out", str(tmp_path / "t2")])
    assert again.exit_code != 0 and "is missing" in again.output
    assert not (tmp_path / "k2").exists() and not (tmp_path / "t2").exists()
    # An existing token file is never overwritten
    taken = runner.invoke(main, [*args, str(tmp_path / "k3"), "--token-out", str(token)])
    assert taken.exit_code != 0 and "exists" in taken.output
    assert not (tmp_path / "k3").exists()
