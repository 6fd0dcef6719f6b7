"""workbench.widgets.access without a browser: set traits, click buttons, read the model."""

from __future__ import annotations

import contextlib
import re
import sqlite3

import ipywidgets as widgets
import pytest

import workbench
from workbench.access.explain import consent_summary, patients_of
from workbench.access.policy import consent_filter, evaluate
from workbench.access.pseudonyms import load_service_key
from workbench.access.schema import connect
from workbench.access.session import PSEUDONYM_KEY_FILE, SERVICE_DIR
from workbench.errors import AccessDenied, InputError
from workbench.widgets import AccessExplainer, ConsentPanel
from workbench.widgets.access import consent_html, error_line, explanation_html

PERSON_ID = re.compile(r"P\d{5}")


@pytest.fixture
def cohort(cohort_copy):
    return workbench.open_cohort(cohort_copy)


def _errors(widget) -> str:
    return "".join(o.get("text", "") for o in widget.errors.outputs)


def _factory(cohort):
    return lambda: sqlite3.connect(cohort.path / "registry.sqlite")


def _history_rows(cohort, person):
    with contextlib.closing(sqlite3.connect(cohort.path / "registry.sqlite")) as conn:
        return conn.execute(
            "SELECT version, signed_on FROM consents WHERE person_id = ? ORDER BY version",
            (person,),
        ).fetchall()


def _person_with_versions(cohort, n: int) -> str:
    with contextlib.closing(sqlite3.connect(cohort.path / "registry.sqlite")) as conn:
        return conn.execute(
            "SELECT person_id FROM consents GROUP BY person_id HAVING max(version) >= ? "
            "ORDER BY person_id LIMIT 1",
            (n,),
        ).fetchone()[0]


# -- ConsentPanel ----------------------------------------------------------------------------
def test_consent_panel_shows_current_opt_out_for_the_clinicians_patient(cohort):
    patient = patients_of(cohort, user="dr.jensen")[0]
    doctor = cohort.session(user="dr.jensen", purpose=workbench.Treatment(patient=patient))
    panel = ConsentPanel(doctor, patient)
    assert _errors(panel) == ""
    assert "Research use: opted out" in panel.view.value
    assert "(current)" in panel.view.value and "<caption>" in panel.view.value
    for _version, day in _history_rows(cohort, patient):
        assert day in panel.view.value
    assert panel.summary["current"]["research_opt_out"] is True


def test_consent_panel_shows_every_version_and_follows_the_person_field(cohort):
    person = _person_with_versions(cohort, 2)
    panel = ConsentPanel(_factory(cohort), "P00001")
    panel.person.value = person
    panel.show.click()
    rows = _history_rows(cohort, person)
    assert len(rows) >= 2
    assert [v["version"] for v in panel.summary["versions"]] == [v for v, _ in rows]
    for version, day in rows:
        assert f"<td>{day}</td>" in panel.view.value
        assert re.search(rf'<th scope="row">{version}( \(current\))?</th>', panel.view.value)
    assert panel.view.value.count("(current)") == 1


def test_consent_panel_shows_a_refusal_as_one_line(cohort):
    doctor_patient = patients_of(cohort, user="dr.jensen")[0]
    doctor = cohort.session(user="dr.jensen", purpose=workbench.Treatment(patient=doctor_patient))
    panel = ConsentPanel(doctor, doctor_patient)
    panel.person.value = "P00004"  # not in this care session
    panel.show.click()
    message = _errors(panel)
    assert message.startswith("ConsentDenied: ") and message.count("\n") == 1
    assert "Traceback" not in message
    assert panel.view.value == "" and panel.summary is None
    panel.person.value = doctor_patient
    panel.show.click()
    assert _errors(panel) == "" and panel.summary is not None


def test_consent_panel_controls_are_labelled_standard_widgets(cohort):
    panel = ConsentPanel(_factory(cohort), "P00001")
    assert isinstance(panel.person, widgets.Text) and panel.person.description
    assert isinstance(panel.show, widgets.Button) and panel.show.description
    assert panel.show.tooltip


# -- AccessExplainer -------------------------------------------------------------------------
def test_explainer_for_a_researcher_shows_datasets_refusal_and_a_count_only(cohort):
    s = cohort.session(user="lab.researcher", purpose=workbench.Research(project="EPI-7"))
    explainer = AccessExplainer(s)
    explainer.refresh_button.click()
    html = explainer.view.value
    assert _errors(explainer) == ""
    for dataset in ("EPI-DS", "NGC-RD", "NORDIC-COLLAB"):
        assert dataset in html
    assert "LEGACY-BIOBANK: " in html and "obsolete" in html and "duo.obsolete_code" in html
    with contextlib.closing(connect(cohort.path / "registry.sqlite", readonly=True)) as conn:
        access = evaluate(conn, s.user, s.purpose, today=s.today)
        kept, n_excluded, _ = consent_filter(conn, access.people, s.purpose)
    excluded = sorted(set(access.people) - set(kept))
    assert n_excluded == len(excluded) > 0
    assert f"Excluded by consent: {n_excluded} (a count, never who)" in html
    assert not PERSON_ID.search(html)
    key = load_service_key(cohort.path / SERVICE_DIR / PSEUDONYM_KEY_FILE)
    for label in key.pseudonymiser().project_pseudonyms(excluded, "EPI-7"):
        assert label not in html


def test_explainer_for_a_student_says_aggregates_only(cohort):
    s = cohort.session(user="student.ali", purpose=workbench.Teaching())
    explainer = AccessExplainer(s)
    assert "aggregates only" in explainer.view.value
    assert explainer.explanation["scope"] == "aggregate"


def test_explainer_renders_a_denial_after_grants_are_revoked(cohort):
    s = cohort.session(user="lab.researcher", purpose=workbench.Research(project="EPI-7"))
    explainer = AccessExplainer(s)
    assert explainer.explanation["outcome"] == "approve"
    with contextlib.closing(connect(cohort.path / "registry.sqlite")) as conn, conn:
        conn.execute(
            "UPDATE project_grants SET revoked_on = ? WHERE user_id = 'lab.researcher'",
            (s.today,),
        )
    explainer.refresh_button.click()  # decided afresh: the revocation shows at once
    assert _errors(explainer) == ""
    assert ": deny</h4>" in explainer.view.value
    assert "was revoked" in explainer.view.value
    for dataset in ("EPI-DS", "NGC-RD", "NORDIC-COLLAB", "LEGACY-BIOBANK"):
        assert f"grant for {dataset} was revoked" in explainer.view.value  # every reason


def test_explainer_shows_a_callback_error_as_one_line(cohort):
    s = cohort.session(user="lab.researcher", purpose=workbench.Research(project="EPI-7"))
    explainer = AccessExplainer(s)
    s.close()
    explainer.refresh_button.click()
    message = _errors(explainer)
    assert message == "AccessDenied: this session is closed; open a new one\n"
    assert explainer.view.value == "" and explainer.explanation is None


# -- HTML builders -----------------------------------------------------------------------------
def test_html_builders_escape_and_check_input():
    assert error_line(AccessDenied("first line\nsecond line")) == "AccessDenied: first line"
    with pytest.raises(InputError):
        consent_html({"person_id": "P1"})
    with pytest.raises(InputError):
        explanation_html({})
    import pandas as pd

    from workbench.access.store import CONSENT_COLUMNS

    row = dict.fromkeys(CONSENT_COLUMNS, "x")
    row.update(
        person_id="P00001", version=1, secondary_findings=(), recontact=False,
        research_opt_out=False, withdrawn=False, note="<script>alert(1)</script>",
    )  # fmt: skip
    out = consent_html(consent_summary(pd.DataFrame([row])))
    assert "<script>" not in out and "&lt;script&gt;" in out
