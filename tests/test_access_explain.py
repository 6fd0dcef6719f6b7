"""workbench.access.explain: consent in words, and access explained without telling secrets."""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3

import pandas as pd
import pytest

import workbench
from workbench.access.explain import (
    attempt,
    consent_history,
    consent_summary,
    explain_access,
    patients_of,
    view_overlap,
)
from workbench.access.policy import consent_filter, evaluate
from workbench.access.pseudonyms import load_service_key
from workbench.access.schema import connect
from workbench.access.session import PSEUDONYM_KEY_FILE, SERVICE_DIR
from workbench.access.store import CONSENT_COLUMNS, load_consent_history
from workbench.errors import AccessDenied, ConsentDenied, InputError

PERSON_ID = re.compile(r"P\d{5}")
PSEUDONYM = re.compile(r"k\d+-R[A-Z2-7]{16}")


def _version(v, day, *, sf=("cancer", "cardiovascular"), opt_out=False, withdrawn=False, note=""):
    return {
        "person_id": "P00042",
        "version": v,
        "signed_on": day,
        "form_version": "NGC-WGS-2.0",
        "signed_by": "self",
        "secondary_findings": tuple(sf),
        "recontact": True,
        "research_opt_out": opt_out,
        "withdrawn": withdrawn,
        "recorded_by": "steward.larsen",
        "note": note,
    }


def _history(*rows) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(CONSENT_COLUMNS))


@pytest.fixture
def cohort(cohort_copy):
    return workbench.open_cohort(cohort_copy)


def _registry(cohort):
    return connect(cohort.path / "registry.sqlite", readonly=True)


def _excluded_people(cohort, session) -> set[str]:
    """Who consent removes from the session's view (the test may know; the user may not)."""
    with contextlib.closing(_registry(cohort)) as conn:
        access = evaluate(conn, session.user, session.purpose, today=session.today)
        kept, _, _ = consent_filter(conn, access.people, session.purpose)
    return set(access.people) - set(kept)


# -- consent_summary ---------------------------------------------------------------------------
def test_consent_summary_lists_versions_and_current_opt_out():
    history = _history(
        _version(2, "2024-05-01", opt_out=True, note="registered research opt-out"),
        _version(1, "2023-01-10", note="initial written consent"),
    )
    s = consent_summary(history)
    assert s["person_id"] == "P00042"
    assert [v["version"] for v in s["versions"]] == [1, 2]  # oldest first, whatever the order
    assert [v["signed_on"] for v in s["versions"]] == ["2023-01-10", "2024-05-01"]
    assert s["current"]["version"] == 2 and s["current"]["research_opt_out"]
    assert any("opted out" in c for c in s["choices"])
    assert any("cancer, cardiovascular" in c for c in s["choices"])
    assert "Left out" in s["meaning"]["research"]
    assert "never affects care" in s["meaning"]["care"]
    assert "cancer, cardiovascular" in s["meaning"]["secondary_findings"]


def test_consent_summary_withdrawn_and_no_findings():
    s = consent_summary(
        _history(
            _version(1, "2023-01-10", sf=()),
            _version(2, "2024-01-10", sf=(), withdrawn=True, note="withdrew consent"),
        )
    )
    assert any("withdrawn" in c for c in s["choices"])
    assert "not even" in s["meaning"]["care"]
    assert s["meaning"]["secondary_findings"] == "None are reported."
    no_sf = consent_summary(_history(_version(1, "2023-01-10", sf=())))
    assert "none" in " ".join(no_sf["choices"])
    assert no_sf["meaning"]["secondary_findings"] == "No secondary findings are reported."


def test_consent_summary_rejects_bad_tables():
    with pytest.raises(InputError, match="one person"):
        consent_summary(_history())
    two = _history(_version(1, "2023-01-10"), {**_version(1, "2023-01-10"), "person_id": "P1"})
    with pytest.raises(InputError, match="2 people"):
        consent_summary(two)
    with pytest.raises(InputError, match="missing"):
        consent_summary(_history(_version(1, "2023-01-10")).drop(columns="withdrawn"))


def test_consent_summary_of_a_real_registry_person(cohort):
    patient = patients_of(cohort, user="dr.jensen")[0]
    with contextlib.closing(_registry(cohort)) as conn:
        s = consent_summary(load_consent_history(conn, person_id=patient))
    # the generator plants a research opt-out on a clinician's first proband
    assert s["current"]["research_opt_out"]
    assert json.dumps(s)  # plain JSON values


# -- consent_history ---------------------------------------------------------------------------
def test_consent_history_is_decided_and_audited(cohort):
    patient = patients_of(cohort, user="dr.jensen")[0]
    doctor = cohort.session(user="dr.jensen", purpose=workbench.Treatment(patient=patient))
    assert list(consent_history(doctor, patient).person_id.unique()) == [patient]
    with pytest.raises(ConsentDenied, match="not a patient"):
        consent_history(doctor, "P00004")  # someone else's patient
    researcher = cohort.session(user="lab.researcher", purpose=workbench.Research(project="EPI-7"))
    with pytest.raises(AccessDenied, match="treating clinician or a data steward"):
        consent_history(researcher, patient)
    steward = cohort.session(user="steward.larsen", purpose=workbench.Stewardship())
    assert len(consent_history(steward, "P00004")) >= 1
    log = steward.audit_log()
    seen = log[log.action == "consent_history"]
    assert list(seen.decision) == ["approve", "deny", "deny", "approve"]
    assert list(seen.user_id) == ["dr.jensen", "dr.jensen", "lab.researcher", "steward.larsen"]


def test_consent_history_from_a_connection_factory(cohort):
    factory = lambda: sqlite3.connect(cohort.path / "registry.sqlite")  # noqa: E731
    assert len(consent_history(factory, "P00001")) >= 1
    with pytest.raises(InputError, match="no consent"):
        consent_history(factory, "P99999")
    with pytest.raises(InputError, match="Session or a callable"):
        consent_history("registry.sqlite", "P00001")


# -- explain_access ----------------------------------------------------------------------------
def test_researcher_sees_approved_and_own_refused_datasets_and_a_count(cohort):
    s = cohort.session(user="lab.researcher", purpose=workbench.Research(project="EPI-7"))
    x = explain_access(s)
    assert x["outcome"] == "approve" and x["scope"] == "record"
    assert x["datasets"] == ["EPI-DS", "NGC-RD", "NORDIC-COLLAB"]
    refused = {r["dataset"]: r for r in x["refused_datasets"]}
    assert list(refused) == ["LEGACY-BIOBANK"]
    assert [q["code"] for q in refused["LEGACY-BIOBANK"]["reasons"]] == ["duo.obsolete_code"]
    excluded = _excluded_people(cohort, s)
    assert excluded  # the tiny cohort has opt-outs among EPI-7's datasets
    assert x["excluded_by_consent"] == len(excluded)
    assert x["people_in_view"] == len(s.samples())
    text = json.dumps(x)
    assert not PERSON_ID.search(text)
    assert not PSEUDONYM.search(text)
    key = load_service_key(cohort.path / SERVICE_DIR / PSEUDONYM_KEY_FILE)
    for label in key.pseudonymiser().project_pseudonyms(sorted(excluded), "EPI-7"):
        assert label not in text


def test_explanation_shows_only_the_users_own_grants(cohort):
    s = cohort.session(user="anc.researcher", purpose=workbench.Research(project="ANC-3"))
    x = explain_access(s)
    assert x["datasets"] == ["POP-ORIGINS"]
    refused = {r["dataset"]: [q["code"] for q in r["reasons"]] for r in x["refused_datasets"]}
    assert refused["NGC-REF"] == ["research.grant_revoked"]
    assert "NGC-RD" in refused  # HMB does not allow ancestry research
    assert "LEGACY-BIOBANK" not in json.dumps(x)  # lab.researcher's grant, not hers


def test_student_sees_aggregates_only_and_count_after_a_query(cohort):
    s = cohort.session(user="student.ali", purpose=workbench.Teaching())
    x = explain_access(s)
    assert x["scope"] == "aggregate"
    assert x["scope_means"].startswith("aggregates only")
    assert x["people_in_view"] is None and x["excluded_by_consent"] is None
    s.allele_counts(gene="SCN1A")
    x = explain_access(s)
    assert x["excluded_by_consent"] == len(_excluded_people(cohort, s))
    assert any("Excluded by consent" in line for line in x["summary"])


def test_clinician_view_ignores_research_opt_out(cohort):
    patient = patients_of(cohort, user="dr.jensen")[0]
    s = cohort.session(user="dr.jensen", purpose=workbench.Treatment(patient=patient))
    x = explain_access(s)
    assert x["identifiers"].startswith("internal person ids")
    assert len(x["consent_rules"]) == 1 and "withdrew" in x["consent_rules"][0]
    assert x["people_in_view"] >= 1  # the opted-out patient stays in their own care view


def test_denied_purpose_explains_without_raising(cohort):
    s = cohort.session(user="lab.researcher", purpose=workbench.Research(project="EPI-7"))
    with contextlib.closing(connect(cohort.path / "registry.sqlite")) as conn, conn:
        conn.execute(
            "UPDATE project_grants SET revoked_on = ? WHERE user_id = 'lab.researcher'",
            (s.today,),
        )
    x = explain_access(s)
    assert x["outcome"] == "deny" and x["scope"] == "none"
    assert "research.grant_revoked" in {r["code"] for r in x["reasons"]}
    assert x["excluded_by_consent"] is None and x["datasets"] == []
    assert x["summary"][0].startswith("Access deny")


def test_explain_access_checks_its_argument():
    with pytest.raises(InputError, match="Session"):
        explain_access("lab.researcher")


# -- helpers -----------------------------------------------------------------------------------
def test_attempt_turns_refusals_into_reasons(cohort):
    s = cohort.session(user="student.ali", purpose=workbench.Teaching())
    value, reason = attempt(s.samples)
    assert value is None and "aggregates only" in reason and "scope.aggregate_only" in reason
    value, reason = attempt(lambda x: x + 1, 1)
    assert (value, reason) == (2, None)
    with pytest.raises(ZeroDivisionError):
        attempt(lambda: 1 / 0)


def test_view_overlap_counts_without_joinable_pseudonyms(cohort):
    a = cohort.session(user="lab.researcher", purpose=workbench.Research(project="EPI-7"))
    b = cohort.session(user="anc.researcher", purpose=workbench.Research(project="ANC-3"))
    o = view_overlap(a, b)
    assert o["in_a"] == len(a.samples()) and o["in_b"] == len(b.samples())
    assert 0 < o["in_both"] <= min(o["in_a"], o["in_b"])
    assert o["shared_labels"] == 0  # project pseudonyms cannot be joined
    assert all(isinstance(v, int) for v in o.values())


def test_patients_of_lists_own_probands_only(cohort):
    mine = patients_of(cohort, user="dr.jensen")
    assert mine and mine == sorted(mine)
    with contextlib.closing(_registry(cohort)) as conn:
        probands = {r[0] for r in conn.execute("SELECT proband_id FROM families")}
    assert set(mine) <= probands
    assert patients_of(cohort, user="lab.researcher") == []
    for p in mine:  # each opens a care session
        cohort.session(user="dr.jensen", purpose=workbench.Treatment(patient=p)).close()


def test_attempt_turns_a_disclosure_refusal_into_a_reason():
    import pandas as pd

    from workbench.access.disclosure import mask_counts
    from workbench.access.explain import attempt

    # a row whose shown total pins its small count: the airlock refuses, with reason objects
    table = pd.DataFrame({"a": [1, 5], "b": [5, 1], "t": [6, 6]})
    value, reason = attempt(mask_counts, table, count_columns=["a", "b"], total_column="t")
    assert value is None and "[disclosure.unprotectable]" in reason
