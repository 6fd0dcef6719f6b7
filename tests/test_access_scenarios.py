"""End-to-end access scenarios through the public API: ``open_cohort(copy).session(…)``.

Each test works on a private copy of the tiny cohort (``cohort_copy``) because every session
writes audit entries. Consent changes, grant revocations and tampering are made with direct
SQL on the copy's ``registry.sqlite`` (what a steward's tool or an attacker would do), so these
tests depend on nothing but the session API and the registry schema. People and relationships
are found by SQL, never hard-coded.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import re
import sqlite3
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import workbench
from workbench import Research, Stewardship, Teaching, Treatment
from workbench.access.pseudonyms import PSEUDONYM_PATTERN, load_service_key, rotate_key
from workbench.errors import (
    AccessDenied,
    AuditIntegrityError,
    ConsentDenied,
    DisclosureRefused,
    InputError,
    KeyMissingError,
)

STEWARD = "steward.larsen"
GENE = "BRCA2"  # many variants carried at least 5 times in every view of the tiny cohort
PERSON_ID = re.compile(r"P\d{5}")
SF_CATEGORIES = ("cancer", "cardiovascular", "inborn_error_of_metabolism", "miscellaneous")


# -- helpers: the registry seen through SQL ------------------------------------------------------
def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(Path(path) / "registry.sqlite", isolation_level=None)


def sql(path: Path, statement: str, params=()) -> list[tuple]:
    with contextlib.closing(_connect(path)) as conn:
        return conn.execute(statement, params).fetchall()


def today(path: Path) -> str:
    return sql(path, "SELECT value FROM meta WHERE key = 'reference_date'")[0][0]


def change_consent(path: Path, person: str, *, opt_out=None, withdrawn=None, sf=None) -> None:
    """Append version n + 1 of ``person``'s consent, changing only what is given."""
    with contextlib.closing(_connect(path)) as conn:
        row = conn.execute(
            "SELECT version, signed_on, form_version, signed_by, secondary_findings, recontact, "
            "research_opt_out, withdrawn FROM consents WHERE person_id = ? "
            "ORDER BY version DESC LIMIT 1",
            (person,),
        ).fetchone()
        version, signed, form, by, sfs, recontact, oo, wd = row
        ref = conn.execute("SELECT value FROM meta WHERE key = 'reference_date'").fetchone()[0]
        conn.execute(
            "INSERT INTO consents (person_id, version, signed_on, form_version, signed_by, "
            "secondary_findings, recontact, research_opt_out, withdrawn, recorded_by, note) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                person,
                version + 1,
                max(signed, ref),
                form,
                by,
                sfs if sf is None else json.dumps(list(sf)),
                recontact,
                oo if opt_out is None else int(opt_out),
                wd if withdrawn is None else int(withdrawn),
                STEWARD,
                "scenario test: consent changed",
            ),
        )


def excluded_people(path: Path) -> set[str]:
    """People whose current consent keeps them out of research and teaching."""
    return {
        r[0]
        for r in sql(
            path,
            "SELECT person_id FROM consents c WHERE version = (SELECT max(version) FROM consents "
            "WHERE person_id = c.person_id) AND (research_opt_out = 1 OR withdrawn = 1)",
        )
    }


def members(path: Path, *datasets: str) -> set[str]:
    marks = ",".join("?" * len(datasets))
    return {
        r[0]
        for r in sql(
            path, f"SELECT person_id FROM dataset_members WHERE dataset_id IN ({marks})", datasets
        )
    }


def everyone(path: Path) -> list[str]:
    return [r[0] for r in sql(path, "SELECT person_id FROM samples ORDER BY person_id")]


def sex_of(path: Path) -> dict[str, str]:
    return dict(sql(path, "SELECT person_id, sex FROM samples"))


def pseudonym(path: Path, person: str, project: str) -> str:
    """What the service would call ``person`` in ``project`` (the test plays the keyholder)."""
    key = load_service_key(Path(path) / "service" / "project-pseudonym.key")
    return key.pseudonymiser().project_pseudonym(person, project)


def audit_rows(path: Path) -> list[dict]:
    with contextlib.closing(_connect(path)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM audit_log ORDER BY seq")]


def last_audit(path: Path) -> dict:
    row = audit_rows(path)[-1]
    row["basis"] = json.loads(row["basis"])
    row["query"] = json.loads(row["query"])
    return row


def verify_log(cohort) -> dict:
    with cohort.session(user=STEWARD, purpose=Stewardship()) as steward:
        return steward.audit_verify()


def raises_with(exc_type, code: str, call):
    """Run ``call``, expect ``exc_type`` carrying reason ``code``; return the exception."""
    with pytest.raises(exc_type) as info:
        call()
    assert code in info.value.reasons, info.value.reasons
    return info.value


@pytest.fixture
def cohort(cohort_copy):
    return workbench.open_cohort(cohort_copy)


def _research(cohort, project="EPI-7", user="lab.researcher"):
    return cohort.session(user=user, purpose=Research(project=project))


def _in_view_of_epi7(path: Path) -> list[str]:
    view = members(path, "EPI-DS", "NGC-RD", "NORDIC-COLLAB") - excluded_people(path)
    return sorted(view)


# -- consent changes take effect on the next call -------------------------------------------------
def test_withdrawal_mid_research_session_excludes_the_person_on_the_next_call(cohort):
    path = cohort.path
    session = _research(cohort)
    person = _in_view_of_epi7(path)[0]
    label = pseudonym(path, person, "EPI-7")
    before = session.samples()
    assert label in set(before.sample_id)
    n_excluded_before = last_audit(path)["n_excluded"]

    change_consent(path, person, withdrawn=True)

    after = session.samples()
    assert label not in set(after.sample_id)
    assert len(after) == len(before) - 1
    assert last_audit(path)["n_excluded"] == n_excluded_before + 1
    assert label not in session.genotypes(gene=GENE)["samples"]
    assert label not in set(session.phenotypes().sample_id)


def test_withdrawal_mid_treatment_session_excludes_the_patient(cohort):
    path = cohort.path
    clinician, patient = sql(
        path,
        "SELECT c.user_id, c.person_id FROM care_relationships c JOIN families f "
        "ON f.proband_id = c.person_id WHERE c.until IS NULL ORDER BY c.person_id LIMIT 1",
    )[0]
    session = cohort.session(user=clinician, purpose=Treatment(patient=patient))
    assert patient in set(session.samples().person_id)

    change_consent(path, patient, withdrawn=True)

    assert patient not in set(session.samples().person_id)
    assert patient not in session.genotypes(gene=GENE)["samples"]
    assert patient not in set(session.phenotypes().sample_id)


def test_research_never_sees_opted_out_people_and_audit_counts_not_names(cohort):
    path = cohort.path
    reach = members(path, "EPI-DS", "NGC-RD", "NORDIC-COLLAB")
    gone = reach & excluded_people(path)
    assert gone, "the tiny cohort plants opted-out people in the EPI-7 datasets"
    session = _research(cohort)
    labels_gone = {pseudonym(path, p, "EPI-7") for p in gone}

    table = session.samples()
    entry = last_audit(path)
    assert set(table.sample_id).isdisjoint(labels_gone)
    assert len(table) == len(reach - gone)
    assert entry["decision"] == "approve"
    assert entry["n_excluded"] == len(gone)
    assert {"consent.not_withdrawn", "consent.no_research_opt_out"} <= set(entry["basis"])
    text = json.dumps(audit_rows(path))
    assert not any(p in text for p in gone) and not any(s in text for s in labels_gone)

    assert set(session.genotypes(gene=GENE)["samples"]).isdisjoint(labels_gone)
    assert set(session.phenotypes().sample_id).isdisjoint(labels_gone)


def test_clinical_care_is_not_blocked_by_the_research_opt_out(cohort):
    path = cohort.path
    clinician, patient = sql(
        path,
        "SELECT r.user_id, r.person_id FROM care_relationships r "
        "JOIN families f ON f.proband_id = r.person_id "
        "JOIN consents c ON c.person_id = r.person_id "
        "WHERE r.until IS NULL AND c.research_opt_out = 1 AND c.withdrawn = 0 "
        "AND c.version = (SELECT max(version) FROM consents WHERE person_id = r.person_id) "
        "ORDER BY r.person_id LIMIT 1",
    )[0]
    care = cohort.session(user=clinician, purpose=Treatment(patient=patient))
    assert patient in set(care.samples().person_id)
    assert patient in care.genotypes(gene=GENE)["samples"]
    assert last_audit(path)["decision"] == "approve"
    # … while the same person stays out of teaching (every person is in its reach)
    teaching = cohort.session(user="teacher.berg", purpose=Teaching())
    assert pseudonym(path, patient, "teaching") not in set(teaching.samples().sample_id)


# -- care relationships ------------------------------------------------------------------------
def test_clinician_without_care_relationship_gets_the_same_answer_for_unknown_and_others(cohort):
    path = cohort.path
    others = sql(
        path,
        "SELECT person_id FROM care_relationships WHERE user_id <> 'dr.jensen' AND person_id "
        "NOT IN (SELECT person_id FROM care_relationships WHERE user_id = 'dr.jensen') LIMIT 1",
    )[0][0]
    answers = []
    for patient in (others, "P99999"):
        e = raises_with(
            AccessDenied,
            "treatment.no_care_relationship",
            lambda p=patient: cohort.session(user="dr.jensen", purpose=Treatment(patient=p)),
        )
        answers.append((str(e), e.reasons))
        entry = last_audit(path)
        assert entry["decision"] == "deny" and entry["user_id"] == "dr.jensen"
    assert answers[0] == answers[1]


def test_an_ended_care_relationship_gives_no_access(cohort):
    path = cohort.path
    clinician, patient = sql(
        path,
        "SELECT user_id, person_id FROM care_relationships r WHERE until IS NOT NULL AND NOT "
        "EXISTS (SELECT 1 FROM care_relationships o WHERE o.user_id = r.user_id "
        "AND o.person_id = r.person_id AND o.until IS NULL)",
    )[0]
    raises_with(
        AccessDenied,
        "treatment.no_care_relationship",
        lambda: cohort.session(user=clinician, purpose=Treatment(patient=patient)),
    )


def test_care_relationship_ending_mid_session_denies_the_next_call(cohort):
    path = cohort.path
    clinician, patient = sql(
        path,
        "SELECT c.user_id, c.person_id FROM care_relationships c JOIN families f "
        "ON f.proband_id = c.person_id WHERE c.until IS NULL ORDER BY c.person_id LIMIT 1",
    )[0]
    session = cohort.session(user=clinician, purpose=Treatment(patient=patient))
    session.samples()
    sql(
        path,
        "UPDATE care_relationships SET until = date(?, '-1 day') WHERE user_id = ? "
        "AND until IS NULL",
        (today(path), clinician),
    )
    raises_with(AccessDenied, "treatment.no_care_relationship", session.samples)
    assert last_audit(path)["decision"] == "deny"


def test_reidentification_only_for_the_clinicians_own_patient(cohort):
    path = cohort.path
    clinician, patient = sql(
        path,
        "SELECT c.user_id, c.person_id FROM care_relationships c JOIN families f "
        "ON f.proband_id = c.person_id WHERE c.until IS NULL ORDER BY c.person_id LIMIT 1",
    )[0]
    care = cohort.session(user=clinician, purpose=Treatment(patient=patient))
    national = care.reidentify(patient)
    assert re.fullmatch(r"\d{6}-\d{4}", national)
    assert national not in json.dumps(audit_rows(path))
    raises_with(ConsentDenied, "reidentify.not_own_patient", lambda: care.reidentify("P99999"))
    researcher = _research(cohort)
    raises_with(
        ConsentDenied,
        "reidentify.not_own_patient",
        lambda: researcher.reidentify(_in_view_of_epi7(path)[0]),
    )


# -- research projects end to end ------------------------------------------------------------------
def test_epi7_admits_matching_datasets_and_never_the_obsolete_one(cohort):
    path = cohort.path
    session = _research(cohort)
    decision = session.decision()
    assert decision["outcome"] == "approve"
    assert decision["datasets"] == ["EPI-DS", "NGC-RD", "NORDIC-COLLAB"]
    assert "research.committee_grant" in {r["code"] for r in decision["reasons"]}
    labels = set(session.samples().sample_id)
    admitted = _in_view_of_epi7(path)
    assert labels == {pseudonym(path, p, "EPI-7") for p in admitted}
    legacy_only = members(path, "LEGACY-BIOBANK") - members(
        path, "EPI-DS", "NGC-RD", "NORDIC-COLLAB"
    )
    assert legacy_only
    assert labels.isdisjoint({pseudonym(path, p, "EPI-7") for p in legacy_only})


def _copy_project(path: Path, project: str, datasets, *, ethics, commercial=0, like="EPI-7"):
    """A new project like ``like`` with grants to the same user for ``datasets`` only."""
    purpose, user = sql(
        path, "SELECT purpose, lead_user_id FROM projects WHERE project_id = ?", (like,)
    )[0]
    ref = today(path)
    sql(
        path,
        "INSERT INTO projects (project_id, title, purpose, commercial, ethics_approval_id, "
        "lead_user_id, approved_on) VALUES (?, 'scenario copy', ?, ?, ?, ?, date(?, '-30 days'))",
        (project, purpose, commercial, ethics, user, ref),
    )
    for d in datasets:
        sql(
            path,
            "INSERT INTO project_grants (project_id, dataset_id, user_id, granted_on, expires_on, "
            "revoked_on, granted_by) VALUES (?, ?, ?, date(?, '-10 days'), date(?, '+1 year'), "
            "NULL, ?)",
            (project, d, user, ref, ref, STEWARD),
        )
    return user


def test_obsolete_duo_code_is_refused(cohort):
    user = _copy_project(cohort.path, "LEG-1", ["LEGACY-BIOBANK"], ethics="H-1")
    raises_with(
        AccessDenied,
        "duo.obsolete_code",
        lambda: cohort.session(user=user, purpose=Research(project="LEG-1")),
    )
    assert last_audit(cohort.path)["decision"] == "deny"


def test_abstaining_dataset_is_admitted_only_through_the_committee_grant(cohort):
    path = cohort.path
    user = _copy_project(path, "NC-1", ["NORDIC-COLLAB"], ethics="H-99")
    session = cohort.session(user=user, purpose=Research(project="NC-1"))
    decision = session.decision()
    assert decision["datasets"] == ["NORDIC-COLLAB"]
    assert [r["code"] for r in decision["reasons"]] == ["research.committee_grant"]
    expected = members(path, "NORDIC-COLLAB") - excluded_people(path)
    assert set(session.samples().sample_id) == {pseudonym(path, p, "NC-1") for p in expected}


def test_abstaining_dataset_without_ethics_approval_is_refused(cohort):
    user = _copy_project(cohort.path, "NC-2", ["NORDIC-COLLAB"], ethics=None)
    raises_with(
        AccessDenied,
        "research.no_ethics_approval",
        lambda: cohort.session(user=user, purpose=Research(project="NC-2")),
    )


def test_commercial_project_is_refused_non_commercial_dataset(cohort):
    path = cohort.path
    session = _research(cohort, "PHARMA-1", "industry.researcher")
    assert session.decision()["datasets"] == ["NGC-REF"]
    labels = set(session.samples().sample_id)
    rd_only = members(path, "NGC-RD") - members(path, "NGC-REF")
    assert labels.isdisjoint({pseudonym(path, p, "PHARMA-1") for p in rd_only})
    assert len(labels) == len(members(path, "NGC-REF") - excluded_people(path))
    user = _copy_project(path, "PH-2", ["NGC-RD"], ethics="H-2", commercial=1, like="PHARMA-1")
    raises_with(
        AccessDenied, "duo.ncu", lambda: cohort.session(user=user, purpose=Research(project="PH-2"))
    )


def test_expired_grant_is_denied(cohort):
    raises_with(
        AccessDenied,
        "research.grant_expired",
        lambda: _research(cohort, "METH-2", "meth.researcher"),
    )
    entry = last_audit(cohort.path)
    assert entry["decision"] == "deny" and entry["basis"] == ["research.grant_expired"]


def test_grant_revoked_mid_session_denies_the_next_call(cohort):
    path = cohort.path
    session = _research(cohort, "ANC-3", "anc.researcher")
    assert len(session.samples()) > 0
    sql(
        path,
        "UPDATE project_grants SET revoked_on = ? WHERE project_id = 'ANC-3' "
        "AND revoked_on IS NULL",
        (today(path),),
    )
    raises_with(AccessDenied, "research.grant_revoked", session.samples)
    assert last_audit(path)["decision"] == "deny"


# -- who is asking --------------------------------------------------------------------------------
def test_unknown_user_is_denied_and_audited(cohort):
    raises_with(
        AccessDenied,
        "access.unknown_user",
        lambda: cohort.session(user="mallory", purpose=Teaching()),
    )
    entry = last_audit(cohort.path)
    assert (entry["user_id"], entry["action"], entry["decision"]) == (
        "mallory",
        "open_session",
        "deny",
    )


def test_unregistered_researcher_is_denied(cohort):
    raises_with(
        AccessDenied,
        "research.not_registered",
        lambda: _research(cohort, "EPI-7", "new.researcher"),
    )


def test_student_gets_aggregates_but_not_records(cohort):
    session = cohort.session(user="student.ali", purpose=Teaching())
    for call in (session.samples, session.phenotypes, lambda: session.genotypes(gene=GENE)):
        raises_with(AccessDenied, "scope.aggregate_only", call)
        assert last_audit(cohort.path)["decision"] == "deny"
    counts = session.allele_counts(gene=GENE)
    assert len(counts) > 0 and "ac_all" in counts.columns
    sandbox = cohort.session(user="student.ali", purpose=Teaching(sandbox=True))
    assert len(sandbox.samples()) > 0


def test_student_without_accepted_terms_is_denied(cohort):
    raises_with(
        AccessDenied,
        "teaching.terms_not_accepted",
        lambda: cohort.session(user="student.mette", purpose=Teaching()),
    )


def test_trainer_reads_record_level_teaching_data_under_pseudonyms(cohort):
    path = cohort.path
    session = cohort.session(user="teacher.berg", purpose=Teaching())
    table = session.samples()
    assert all(PSEUDONYM_PATTERN.fullmatch(s) for s in table.sample_id)
    assert not PERSON_ID.search(table.to_csv())
    assert len(table) == len(set(everyone(path)) - excluded_people(path))
    calls = session.genotypes(gene=GENE)
    assert calls["calls"].shape[1] == len(table)


def test_steward_administers_but_never_reads_genotypes(cohort):
    steward = cohort.session(user=STEWARD, purpose=Stewardship())
    for call in (
        lambda: steward.genotypes(gene=GENE),
        steward.samples,
        steward.phenotypes,
        lambda: steward.allele_counts(gene=GENE),
    ):
        raises_with(AccessDenied, "scope.no_data_for_stewards", call)
    assert steward.audit_verify()["ok"]
    researcher = _research(cohort)
    raises_with(AccessDenied, "scope.stewards_only", researcher.audit_verify)
    raises_with(AccessDenied, "scope.stewards_only", researcher.audit_log)


# -- secondary findings ---------------------------------------------------------------------------
def _sf_carrier(cohort) -> tuple[str, str, str]:
    """(person, gene, ACMG SF category) of someone carrying a P/LP variant in an SF gene."""
    k = cohort.knowledge
    category = k.acmg_sf.set_index("gene").category
    asserted = k.assertions[
        k.assertions.classification.isin(["Pathogenic", "Likely pathogenic"])
        & k.assertions.gene.isin(category.index)
    ]
    for a in asserted.itertuples(index=False):
        variants = cohort.variants(contig=a.contig, region=(a.position, a.position))
        calls = np.asarray(
            cohort.genotypes(contig=a.contig, region=(a.position, a.position), dask=False)
        )
        for i, v in enumerate(variants.itertuples(index=False)):
            alts = v.alt.split(",")
            if v.ref == a.ref and a.alt in alts:
                carriers = np.where((calls[i] == alts.index(a.alt) + 1).any(axis=1))[0]
                if len(carriers):
                    return cohort.sample_ids[carriers[0]], a.gene, category[a.gene]
    raise AssertionError("the tiny cohort plants a P/LP variant in an ACMG SF gene")


def _care_for(path: Path, person: str, clinician: str = "dr.jensen") -> None:
    sql(
        path,
        "INSERT INTO care_relationships (user_id, person_id, since, until) "
        "VALUES (?, ?, date(?, '-7 days'), NULL)",
        (clinician, person, today(path)),
    )


def test_secondary_findings_declined_are_shown_nowhere(cohort):
    path = cohort.path
    person, gene, _ = _sf_carrier(cohort)
    _care_for(path, person)
    change_consent(path, person, sf=[])
    care = cohort.session(user="dr.jensen", purpose=Treatment(patient=person))
    shown = care.findings(person)
    assert shown.empty and shown.attrs["suppressed"] >= 1
    entry = last_audit(path)
    assert entry["action"] == "findings" and entry["decision"] == "approve"
    assert entry["n_excluded"] == shown.attrs["suppressed"] and entry["result_size"] == 0
    assert "findings.suppressed_by_consent" in entry["basis"]
    assert gene not in json.dumps(audit_rows(path))

    teaching = cohort.session(user="teacher.berg", purpose=Teaching())
    raises_with(
        ConsentDenied,
        "findings.treatment_only",
        lambda: teaching.findings(pseudonym(path, person, "teaching")),
    )
    researcher = _research(cohort)
    raises_with(ConsentDenied, "findings.treatment_only", lambda: researcher.findings("anyone"))


def test_secondary_findings_partially_chosen_show_only_those_categories(cohort):
    path = cohort.path
    person, gene, category = _sf_carrier(cohort)
    _care_for(path, person)
    care = cohort.session(user="dr.jensen", purpose=Treatment(patient=person))

    change_consent(path, person, sf=[c for c in SF_CATEGORIES if c != category])
    assert gene not in set(care.findings(person).gene)

    change_consent(path, person, sf=[category])
    shown = care.findings(person)
    assert gene in set(shown.gene)
    assert set(shown.sf_category) == {category}
    assert set(shown.classification) <= {"Pathogenic", "Likely pathogenic"}


# -- injection ------------------------------------------------------------------------------------
def test_sql_injection_in_values_returns_nothing_extra(cohort):
    path = cohort.path
    n_people = len(everyone(path))
    _research(cohort).samples()  # something in the log to leak
    steward = cohort.session(user=STEWARD, purpose=Stewardship())
    for filters in (
        {"user": "x' OR 1=1 --"},
        {"patient": "' OR '1'='1"},
        {"purpose": "x') OR 1=1 --"},
    ):
        assert steward.audit_log(**filters).empty
    raises_with(
        AccessDenied,
        "access.unknown_user",
        lambda: cohort.session(user="dr.jensen'--", purpose=Teaching()),
    )
    assert last_audit(path)["user_id"] == "dr.jensen'--"
    raises_with(
        AccessDenied,
        "treatment.no_care_relationship",
        lambda: cohort.session(user="dr.jensen", purpose=Treatment(patient="P00003' OR '1'='1")),
    )
    raises_with(
        AccessDenied,
        "research.unknown_project",
        lambda: _research(cohort, "EPI-7' OR '1'='1"),
    )
    trainer = cohort.session(user="teacher.berg", purpose=Teaching())
    with pytest.raises(InputError):
        trainer.genotypes(gene="BRCA2' OR '1'='1")
    with pytest.raises(InputError):
        trainer.genotypes(region=("chr1'; DROP TABLE samples; --", 1, 100))
    assert len(everyone(path)) == n_people
    assert verify_log(cohort)["ok"]


def test_sql_injection_in_column_names_is_an_input_error(cohort):
    path = cohort.path
    trainer = cohort.session(user="teacher.berg", purpose=Teaching())
    for by in ("population; DROP TABLE samples", "sex --", "person_id"):
        with pytest.raises(InputError):
            trainer.allele_counts(gene=GENE, by=by)
    steward = cohort.session(user=STEWARD, purpose=Stewardship())
    with pytest.raises(InputError):
        steward.audit_log(**{"user = '' OR 1=1 --": "x"})
    with pytest.raises(InputError):
        steward.audit_log(purpose={"kind') OR 1=1 --": "research"})
    assert sql(path, "SELECT count(*) FROM samples")[0][0] == len(everyone(path)) > 0


@pytest.mark.parametrize(
    "evil", ["dr.jensen\nseq=1 decision=approve", "x\x1b[2Jy", "a\u2028b", "ab\u202ecd", "a\rb"]
)
def test_log_injection_is_refused_and_the_log_stays_verifiable(cohort, evil):
    path = cohort.path
    with pytest.raises(InputError):
        cohort.session(user=evil, purpose=Teaching())
    steward = cohort.session(user=STEWARD, purpose=Stewardship())
    with pytest.raises(InputError):
        steward.audit_log(user=evil)
    clinician, patient = sql(
        path, "SELECT user_id, person_id FROM care_relationships WHERE until IS NULL LIMIT 1"
    )[0]
    care = cohort.session(user=clinician, purpose=Treatment(patient=patient))
    with pytest.raises(InputError):
        care.findings(evil)
    for row in audit_rows(path):
        for value in row.values():
            assert not (isinstance(value, str) and re.search(r"[\x00-\x1f\x7f\u2028\u202e]", value))
    assert verify_log(cohort)["ok"]


# -- differencing ----------------------------------------------------------------------------------
def _teaching_view(path: Path) -> list[str]:
    return sorted(set(everyone(path)) - excluded_people(path))


def test_differencing_one_withdrawal_between_identical_queries_is_refused(cohort):
    path = cohort.path
    student = cohort.session(user="student.ali", purpose=Teaching())
    first = student.allele_counts(gene=GENE)
    assert len(first) > 0
    change_consent(path, _teaching_view(path)[0], withdrawn=True)
    raises_with(
        DisclosureRefused, "disclosure.differencing", lambda: student.allele_counts(gene=GENE)
    )
    entry = last_audit(path)
    assert entry["decision"] == "deny" and "disclosure.differencing" in entry["basis"]
    # a new session of the same user and project remembers the earlier release
    again = cohort.session(user="student.ali", purpose=Teaching())
    raises_with(
        DisclosureRefused, "disclosure.differencing", lambda: again.allele_counts(gene=GENE)
    )


def test_differencing_inside_one_group_is_refused_even_when_the_total_moved_more(cohort):
    """One woman and five men leave: the totals differ by 6, the women's counts by one."""
    path = cohort.path
    student = cohort.session(user="student.ali", purpose=Teaching())
    first = student.allele_counts(gene=GENE, by="sex")
    assert student.export(first)["kind"] == "allele_counts"
    sexes = sex_of(path)
    view = _teaching_view(path)
    leaving = [p for p in view if sexes[p] == "female"][:1] + [
        p for p in view if sexes[p] == "male"
    ][:5]
    for p in leaving:
        change_consent(path, p, opt_out=True)
    raises_with(
        DisclosureRefused,
        "disclosure.differencing",
        lambda: student.allele_counts(gene=GENE, by="sex"),
    )


def test_differencing_between_groupings_of_the_same_view_is_refused(cohort):
    """By sex counts everyone; by population drops a group under 5: the difference is them."""
    path = cohort.path
    populations = dict(sql(path, "SELECT person_id, population FROM samples"))
    view = _teaching_view(path)
    by_population = pd.Series([populations[p] for p in view]).value_counts()
    assert len(by_population) == 2, "the tiny cohort has two populations"
    small = by_population.index[-1]
    # leave exactly 3 people of the smallest population in view (opt the others out)
    for p in [p for p in view if populations[p] == small][3:]:
        change_consent(path, p, opt_out=True)
    student = cohort.session(user="student.ali", purpose=Teaching())
    student.allele_counts(gene=GENE, by="sex")
    raises_with(
        DisclosureRefused,
        "disclosure.differencing",
        lambda: student.allele_counts(gene=GENE, by="population"),
    )


def test_differencing_is_remembered_when_the_cohort_is_opened_again(cohort):
    path = cohort.path
    first = cohort.session(user="student.ali", purpose=Teaching())
    first.export(first.allele_counts(gene=GENE))
    change_consent(path, _teaching_view(path)[0], withdrawn=True)
    reopened = workbench.open_cohort(path).session(user="student.ali", purpose=Teaching())
    raises_with(
        DisclosureRefused, "disclosure.differencing", lambda: reopened.allele_counts(gene=GENE)
    )


# -- pseudonyms and keys ---------------------------------------------------------------------------
def test_dictionary_attack_on_pseudonyms_without_the_key_finds_nothing(cohort):
    path = cohort.path
    labels = set(_research(cohort).samples().sample_id)
    assert labels and all(PSEUDONYM_PATTERN.fullmatch(s) for s in labels)
    bodies = {label.split("-R", 1)[1] for label in labels}
    guesses = [b"", b"secret", b"EPI-7", b"42", b"workbench", b"ngc", b"key", b"tiny"]
    candidates = set()
    for person in everyone(path) + [f"P{i:05d}" for i in range(61, 1000)]:
        for message in (person.encode(), f"EPI-7{person}".encode(), f"EPI-7\0{person}".encode()):
            digests = [hashlib.sha256(message).digest()]
            digests += [hmac.new(g, message, hashlib.sha256).digest() for g in guesses]
            for d in digests:
                candidates.add(base64.b32encode(d[:10]).decode())
                candidates.add(d.hex()[:16].upper())
    assert bodies.isdisjoint(candidates)
    assert not any(p in " ".join(labels) for p in everyone(path))


def test_pseudonyms_differ_across_projects_for_the_same_people(cohort):
    path = cohort.path
    both = sorted(
        (members(path, "NORDIC-COLLAB") & members(path, "NGC-REF")) - excluded_people(path)
    )
    assert both
    epi = set(_research(cohort).samples().sample_id)
    pharma = set(_research(cohort, "PHARMA-1", "industry.researcher").samples().sample_id)
    teaching = set(cohort.session(user="teacher.berg", purpose=Teaching()).samples().sample_id)
    assert epi.isdisjoint(pharma) and epi.isdisjoint(teaching) and pharma.isdisjoint(teaching)
    for p in both:  # the same person, in view of both projects, under unrelated names
        assert pseudonym(path, p, "EPI-7") in epi and pseudonym(path, p, "PHARMA-1") in pharma
    assert set(_research(cohort).samples().sample_id) == epi  # stable within a project


def test_key_rotation_gives_new_pseudonyms_and_retires_the_old(cohort):
    path = cohort.path
    old = set(_research(cohort).samples().sample_id)
    assert all(s.startswith("k1-") for s in old)
    assert rotate_key(path / "service" / "project-pseudonym.key") == 2
    new = set(_research(cohort).samples().sample_id)
    assert len(new) == len(old)
    assert all(s.startswith("k2-") for s in new)
    assert new.isdisjoint(old)
    assert verify_log(cohort)["ok"]


@pytest.mark.parametrize("name", ["project-pseudonym.key", "audit.key"])
@pytest.mark.parametrize("damage", ["missing", "truncated"])
def test_missing_or_broken_key_refuses_to_start_without_revealing_it(cohort, name, damage):
    path = cohort.path
    key_file = path / "service" / name
    secret = json.loads(key_file.read_text())["key"]
    if damage == "missing":
        key_file.unlink()
    else:
        key_file.write_text(
            json.dumps({"version": 1, "algorithm": "HMAC-SHA256", "key": secret[:40]})
        )
    n_entries = len(audit_rows(path))
    with pytest.raises(KeyMissingError) as info:
        cohort.session(user="teacher.berg", purpose=Teaching())
    message = str(info.value)
    assert secret[:16] not in message and secret[-16:] not in message
    assert len(audit_rows(path)) == n_entries


# -- the audit log --------------------------------------------------------------------------------
def _fill_log(cohort, n: int = 30) -> None:
    """Write ``n`` entries or more (checkpoints are written every 25)."""
    with cohort.session(user="teacher.berg", purpose=Teaching()) as session:
        for _ in range(n - 1):
            session.samples()


def _drop_audit_triggers(conn) -> None:
    for name in ("audit_log_no_update", "audit_log_no_delete", "audit_log_chain"):
        conn.execute(f"DROP TRIGGER {name}")


def _tamper(path: Path, kind: str) -> None:
    with contextlib.closing(_connect(path)) as conn:
        _drop_audit_triggers(conn)
        if kind == "edit":
            conn.execute("UPDATE audit_log SET user_id = 'someone.else' WHERE seq = 5")
        elif kind == "delete":
            conn.execute("DELETE FROM audit_log WHERE seq = 5")
        elif kind == "insert":
            prev = conn.execute("SELECT mac FROM audit_log WHERE seq = 4").fetchone()[0]
            conn.execute("UPDATE audit_log SET seq = seq + 1000000 WHERE seq >= 5")
            conn.execute("UPDATE audit_log SET seq = seq - 999999 WHERE seq > 1000000")
            conn.execute(
                "INSERT INTO audit_log SELECT 5, at, 'mallory', purpose, action, query, "
                "decision, basis, n_excluded, result_size, key_version, ?, ? "
                "FROM audit_log WHERE seq = 4",
                (prev, "ab" * 32),
            )
        elif kind == "reorder":
            conn.execute("UPDATE audit_log SET seq = 1000000 WHERE seq = 5")
            conn.execute("UPDATE audit_log SET seq = 5 WHERE seq = 6")
            conn.execute("UPDATE audit_log SET seq = 6 WHERE seq = 1000000")
        elif kind == "truncate":
            conn.execute("DELETE FROM audit_log WHERE seq > 10")
        elif kind in ("checkpoint", "checkpoint_file_lost"):
            pass
        else:  # pragma: no cover
            raise AssertionError(kind)
    if kind == "checkpoint_file_lost":
        (path / "service" / "audit-checkpoints.jsonl").unlink()
    if kind == "checkpoint":
        cp = path / "service" / "audit-checkpoints.jsonl"
        line = json.loads(cp.read_text().splitlines()[0])
        line["head_seq"] -= 1
        cp.write_text(json.dumps(line) + "\n")


@pytest.mark.parametrize(
    ("kind", "first_bad"),
    [
        ("edit", 5),
        ("delete", 5),
        ("insert", 5),
        ("reorder", 5),
        ("truncate", None),
        ("checkpoint", None),
        ("checkpoint_file_lost", None),
    ],
)
def test_audit_tampering_is_detected_by_a_steward(cohort, kind, first_bad):
    path = cohort.path
    _fill_log(cohort)
    assert verify_log(cohort)["ok"]
    assert (path / "service" / "audit-checkpoints.jsonl").read_text().strip()
    _tamper(path, kind)
    report = verify_log(cohort)
    assert not report["ok"]
    assert report["problem"]
    if first_bad is not None:
        assert report["first_bad_seq"] == first_bad
    if kind == "truncate":
        assert "cut off" in report["problem"]


def test_every_call_is_audited_allowed_or_denied(cohort):
    path = cohort.path
    n0 = len(audit_rows(path))
    student = cohort.session(user="student.ali", purpose=Teaching())
    student.allele_counts(gene=GENE)
    with pytest.raises(AccessDenied):
        student.samples()
    with pytest.raises(AccessDenied):
        student.findings("anyone")
    rows = audit_rows(path)[n0:]
    assert [(r["action"], r["decision"]) for r in rows] == [
        ("open_session", "approve"),
        ("allele_counts", "approve"),
        ("samples", "deny"),
        ("findings", "deny"),
    ]
    assert all(r["user_id"] == "student.ali" for r in rows)
    steward = cohort.session(user=STEWARD, purpose=Stewardship())
    assert len(steward.audit_log(user="student.ali")) == 4
    report = steward.audit_verify()
    assert report["ok"] and report["entries"] == len(audit_rows(path)) - 1


def test_audit_log_finds_every_access_to_one_patient(cohort):
    path = cohort.path
    clinician, patient = sql(
        path,
        "SELECT c.user_id, c.person_id FROM care_relationships c JOIN families f "
        "ON f.proband_id = c.person_id WHERE c.until IS NULL ORDER BY c.person_id LIMIT 1",
    )[0]
    care = cohort.session(user=clinician, purpose=Treatment(patient=patient))
    care.findings(patient)
    care.phenopacket(patient)
    steward = cohort.session(user=STEWARD, purpose=Stewardship())
    log = steward.audit_log(patient=patient)
    assert list(log.action) == ["findings", "phenopacket"]
    assert set(log.user_id) == {clinician}


def test_audit_write_failure_refuses_access_and_returns_nothing(cohort):
    path = cohort.path
    session = cohort.session(user="teacher.berg", purpose=Teaching())
    n = len(audit_rows(path))
    sql(
        path,
        "CREATE TRIGGER audit_broken BEFORE INSERT ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'disk full'); END",
    )
    for call in (session.samples, lambda: session.genotypes(gene=GENE), session.phenotypes):
        raises_with(AccessDenied, "audit.write_failed", call)
    raises_with(
        AccessDenied,
        "audit.write_failed",
        lambda: cohort.session(user="teacher.berg", purpose=Teaching()),
    )
    assert len(audit_rows(path)) == n
    sql(path, "DROP TRIGGER audit_broken")
    assert len(session.samples()) > 0
    assert verify_log(cohort)["ok"]


def test_closed_session_refuses_every_call(cohort):
    session = cohort.session(user="teacher.berg", purpose=Teaching())
    session.close()
    with pytest.raises(AccessDenied):
        session.samples()


# -- the airlock ----------------------------------------------------------------------------------
def test_aggregate_export_leaves_without_identifiers(cohort):
    session = cohort.session(user="teacher.berg", purpose=Teaching())
    out = session.export(session.allele_counts(gene=GENE))
    assert out["kind"] == "allele_counts" and out["data"]
    text = json.dumps(out)
    assert not PERSON_ID.search(text) and not PSEUDONYM_PATTERN.search(text)
    entry = last_audit(cohort.path)
    assert (entry["action"], entry["decision"]) == ("export", "approve")


def test_record_level_export_is_refused(cohort):
    path = cohort.path
    session = _research(cohort)
    for result in (session.samples(), session.genotypes(gene=GENE), session.phenotypes()):
        raises_with(
            DisclosureRefused, "disclosure.record_level", lambda r=result: session.export(r)
        )
        entry = last_audit(path)
        assert (entry["action"], entry["decision"]) == ("export", "deny")


def test_identifiers_in_export_are_refused(cohort):
    session = _research(cohort)
    label = session.samples().sample_id.iloc[0]
    for content, code in (
        ({"n": 12, "who": label}, "disclosure.pseudonym"),
        ({"n": 12, "who": "P00003"}, "disclosure.person_id"),
        ({"n": 12, "who": "010203-1234"}, "disclosure.national_id"),
    ):
        raises_with(DisclosureRefused, code, lambda c=content: session.export(c))


def test_export_of_objects_not_made_by_the_session_is_refused(cohort):
    teaching = cohort.session(user="teacher.berg", purpose=Teaching())
    counts = teaching.allele_counts(gene=GENE)
    edited = counts.copy()
    edited.loc[:, "ac_all"] = 7
    other = cohort.session(user="teacher.berg", purpose=Teaching())
    for result in (edited, pd.DataFrame({"n": [12]}), {"n": 12}):
        with pytest.raises(DisclosureRefused):
            teaching.export(result)
    with pytest.raises(DisclosureRefused):
        other.export(counts)
    assert teaching.export(counts)["kind"] == "allele_counts"


def test_export_releases_the_result_as_issued_not_as_edited_since(cohort):
    # The airlock judged a remembered copy but released the live object: edited after issue,
    # it carried a person's id out. Now the copy made at issue is what leaves.
    teaching = cohort.session(user="teacher.berg", purpose=Teaching())
    counts = teaching.allele_counts(gene=GENE)
    issued = counts.to_dict(orient="records")
    counts["who"] = "P00003"
    counts.loc[:, "ac_all"] = 1
    out = teaching.export(counts)
    assert out["data"] == issued
    assert "P00003" not in json.dumps(out)


def _exactly_recoverable(table: pd.DataFrame, other: pd.DataFrame) -> int:
    """Small counts a reader pins from one table's row and the other table's total."""
    found = 0
    for v in table.index.intersection(other.index):
        totals = {str(table.at[v, "ac_all"]), str(other.at[v, "ac_all"])} - {"*", "<5"}
        if not totals:
            continue
        cells = [table.at[v, c] for c in table.columns if c.startswith("ac_") and c != "ac_all"]
        hidden = [str(x) for x in cells if str(x) in ("*", "<5")]
        found += hidden == ["<5"]
    return found


def test_tables_by_sex_and_by_population_together_pin_no_small_count(cohort):
    # Each table alone was safe, but a variant's total hidden in one was shown in the other:
    # 135 of 1,752 masked small counts of the tiny cohort came back, one subtraction each.
    teaching = cohort.session(user="teacher.berg", purpose=Teaching())
    masked = recovered = 0
    for start in range(1, cohort.contigs["chr1"], 50_000):
        region = ("chr1", start, start + 49_999)
        by_sex = teaching.allele_counts(region=region, by="sex").set_index("variant")
        by_population = teaching.allele_counts(region=region, by="population").set_index("variant")
        for a, b in ((by_sex, by_population), (by_population, by_sex)):
            masked += int((a == "<5").sum().sum())
            recovered += _exactly_recoverable(a, b)
    assert masked > 100
    assert recovered == 0


def test_a_long_read_holds_no_write_lock_over_other_users(cohort):
    # A read computed under the registry's write lock made every other user's audited call
    # wait for it (a 10 s query blocked everyone's sessions).
    teacher = cohort.session(user="teacher.berg", purpose=Teaching())
    steward = cohort.session(user="steward.larsen", purpose=Stewardship())

    def compute(access, people):
        started = time.perf_counter()
        steward.consents()  # another user's audited call, while this read is computed
        return time.perf_counter() - started, len(people)

    waited = teacher._call("long_read", {}, compute, needs="aggregate")
    assert waited < 1.0
    assert list(steward.audit_log().action)[-2:] == ["consents", "long_read"]


def test_a_class_of_writers_queues_rather_than_timing_out(cohort):
    # 25 learners' audited calls at once on the teaching cohort: some waited past SQLite's
    # busy timeout for the write lock (its busy handler polls, unfairly) and were refused as
    # "could not be written to the audit log". Writers of one process now queue on a lock.
    # Here each session's busy timeout is cut to 1 ms, so any collision at SQLite's lock fails.
    import threading
    from concurrent.futures import ThreadPoolExecutor

    ready = threading.Barrier(12)

    def learner(_) -> int:  # a session of its own, on its own thread (as the service does)
        session = cohort.session(user="teacher.berg", purpose=Teaching())
        session._conn.execute("PRAGMA busy_timeout = 1")
        ready.wait()
        for _ in range(6):
            session.samples()
        return len(session.samples())

    with ThreadPoolExecutor(12) as pool:
        sizes = list(pool.map(learner, range(12)))
    assert len(set(sizes)) == 1 and sizes[0] > 0


def test_a_consent_change_while_a_read_is_computed_is_honoured(cohort):
    teacher = cohort.session(user="teacher.berg", purpose=Teaching())
    steward = cohort.session(user="steward.larsen", purpose=Stewardship())
    seen = []

    def compute(access, people):
        seen.append(list(people))
        if len(seen) == 1:  # the first person opts out while their data are being read
            steward.set_research_opt_out(
                people[0], opt_out=True, signed_on=steward.today, note="scenario test"
            )
        return list(people), len(people)

    out = teacher._call("read", {}, compute, needs="record")
    assert len(seen) == 2 and seen[0][0] not in out
    entry = last_audit(cohort.path)
    assert (entry["action"], entry["result_size"]) == ("read", len(out))


def test_a_result_counting_someone_who_has_since_opted_out_does_not_leave(cohort):
    # The count was lawful when made; released after the opt-out it would carry that
    # person's data out. Computing it again is refused too (differencing), so nothing leaves.
    teaching = cohort.session(user="teacher.berg", purpose=Teaching())
    steward = cohort.session(user=STEWARD, purpose=Stewardship())
    counts = teaching.allele_counts(gene=GENE)
    person = sorted(set(everyone(cohort.path)) - excluded_people(cohort.path))[0]
    steward.set_research_opt_out(person, opt_out=True, signed_on=steward.today, note="test")
    raises_with(
        DisclosureRefused,
        "disclosure.consent_changed_since_issue",
        lambda: teaching.export(counts),
    )


def test_the_release_history_is_held_under_the_audit_chain(cohort_copy):
    # Removing a count from the history would let a later near-identical count leave (the
    # differencing guard forgets it); the audit entries say how long the history was and
    # what its last line was, so any removal, edit or cut is found.
    cohort = workbench.open_cohort(cohort_copy)
    teacher = cohort.session(user="teacher.berg", purpose=Teaching())
    for gene in ("BRCA2", "SCN1A", "BRCA2"):
        teacher.allele_counts(gene=gene)
    steward = cohort.session(user="steward.larsen", purpose=Stewardship())
    assert steward.audit_verify()["ok"]
    path = cohort_copy / "service" / "releases-queries.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) >= 3

    def damaged(kept: list[str]) -> str:
        path.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
        report = steward.audit_verify()
        assert not report["ok"]
        return report["problem"]

    assert "does not follow" in damaged([lines[0], *lines[2:]])  # one taken out
    edited = json.loads(lines[-1]) | {"members": []}  # the last one emptied
    assert "not the release" in damaged([*lines[:-1], json.dumps(edited, sort_keys=True)])
    assert "cut off" in damaged(lines[:-1])
    assert "cut off" in damaged([])
    # … and whoever opens the cohort next is refused until the history is restored
    with pytest.raises(AuditIntegrityError, match="cut off"):
        workbench.open_cohort(cohort_copy).session(user="student.ali", purpose=Teaching())
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    assert (
        workbench.open_cohort(cohort_copy)
        .session(user="steward.larsen", purpose=Stewardship())
        .audit_verify()["ok"]
    )


def test_tables_over_overlapping_regions_show_each_variant_alike(cohort):
    # A variant in two tables (regions that overlap, by sex or by population) must be masked
    # the same way in both, or the two together would show what each hides.
    teaching = cohort.session(user="teacher.berg", purpose=Teaching())
    shared = recovered = 0
    for start in range(1, 300_000, 50_000):
        here = ("chr1", start, start + 49_999)
        shifted = ("chr1", start + 25_000, start + 74_999)
        for by in ("population", "sex"):
            a = teaching.allele_counts(region=here, by=by).set_index("variant").astype(str)
            b = teaching.allele_counts(region=shifted, by=by).set_index("variant").astype(str)
            common = a.index.intersection(b.index)
            shared += len(common)
            assert a.loc[common].equals(b.loc[common])
        other = teaching.allele_counts(region=shifted, by="sex").set_index("variant")
        recovered += _exactly_recoverable(
            teaching.allele_counts(region=here, by="population").set_index("variant"), other
        )
    assert shared > 100
    assert recovered == 0
