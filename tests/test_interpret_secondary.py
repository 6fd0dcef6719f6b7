"""Secondary findings: only through care, only in the categories the patient chose.

The tiny cohort plants one secondary finding in an adult. Here that adult becomes a patient
(a steward records the care relationship and the consent choices in a private copy), so the
same finding can be checked shown, declined and refused — in the table, the report and the
Phenopacket.
"""

from __future__ import annotations

import contextlib
import html as html_lib
import json
import shutil

import pytest
from google.protobuf import json_format

import workbench
from workbench.access.admin import add_care_relationship
from workbench.access.schema import connect, transaction
from workbench.interpret import interpret_case
from workbench.interpret.report import report_html, to_phenopacket
from workbench.interpret.secondary import (
    FINDING_COLUMNS,
    SecondaryFindings,
    findings_sentence,
    secondary_findings,
)

CLINICIAN = "dr.jensen"
STEWARD = "steward.larsen"


@pytest.fixture(scope="module")
def world(tiny_cohort_path, tmp_path_factory):
    dest = tmp_path_factory.mktemp("secondary") / "cohort"
    shutil.copytree(tiny_cohort_path, dest)
    cohort = workbench.open_cohort(dest, verify=False)
    planted = cohort.truth()["variants"]
    finding = planted[planted.category == "secondary"].iloc[0]
    person = finding.carriers.split(":")[0]
    with contextlib.closing(connect(dest / "registry.sqlite")) as conn, transaction(conn):
        today = conn.execute("SELECT value FROM meta WHERE key='reference_date'").fetchone()[0]
        add_care_relationship(conn, user_id=CLINICIAN, person_id=person, since=today)
    sf = cohort.knowledge.acmg_sf.set_index("gene").category
    return {"cohort": cohort, "person": person, "finding": finding, "category": sf[finding.gene]}


def set_choice(world, categories, day):
    steward = world["cohort"].session(user=STEWARD, purpose=workbench.Stewardship())
    steward.record_consent(
        world["person"],
        signed_on=day,
        secondary_findings=list(categories),
        note="patient changed the secondary-findings choice",
    )
    steward.close()


def care(world):
    return world["cohort"].session(
        user=CLINICIAN, purpose=workbench.Treatment(patient=world["person"])
    )


def everything_shown(world, categories, day):
    """Findings, report and phenopacket of the patient after choosing ``categories``."""
    set_choice(world, categories, day)
    with care(world) as s:
        found = secondary_findings(s, world["person"])
        case = interpret_case(s, world["person"])
        html = report_html(case, found)
        packet = json.dumps(json_format.MessageToDict(to_phenopacket(case, found)))
    return found, case, html, packet


def test_accepted_category_shows_the_finding_everywhere(world):
    found, case, html, packet = everything_shown(world, [world["category"]], "2026-01-01")
    f = world["finding"]
    assert found.status == "shown"
    assert list(found.table.columns) == list(FINDING_COLUMNS)
    row = found.table[found.table.gene == f.gene].iloc[0]
    assert row.position == f.position and row.classification in ("Pathogenic", "Likely pathogenic")
    assert "knowledge base" in row.source
    assert f.gene in html and html_lib.escape(f.hgvs_c) in html
    assert f.gene in packet and "secondary-findings" in packet
    assert f.gene not in set(case.ranking.gene)  # a secondary finding, not a primary one


def test_declined_patient_never_sees_the_finding(world):
    found, case, html, packet = everything_shown(world, [], "2026-01-01")
    f = world["finding"]
    assert found.status == "declined"
    assert found.table.empty
    assert found.suppressed >= 1  # withheld (the clinician may know how many, never which)
    assert "chose not to receive secondary findings" in html
    for text in (html, packet):
        assert f.gene not in text and str(f.position) not in text
        assert f.hgvs_c not in text and html_lib.escape(f.hgvs_c) not in text
    assert f.gene not in set(case.ranking.gene) and f.gene not in set(case.filtered.table.gene)


def test_other_category_only_is_none_found_and_silent(world):
    other = next(c for c in ("cancer", "cardiovascular", "miscellaneous") if c != world["category"])
    found, _, html, packet = everything_shown(world, [other], "2026-01-01")
    assert found.status == "none_found"
    assert "No pathogenic or likely pathogenic variant was found" in html
    assert world["finding"].gene not in html and world["finding"].gene not in packet


def test_research_session_is_refused_and_reported(world):
    s = world["cohort"].session(user="lab.researcher", purpose=workbench.Research(project="EPI-7"))
    found = secondary_findings(s, "anyone")
    s.close()
    assert found.status == "refused"
    assert "treating clinician" in found.message
    assert found.table.empty
    log = world["cohort"].session(user=STEWARD, purpose=workbench.Stewardship()).audit_log()
    refused = log[(log.action == "findings") & (log.decision == "deny")]
    assert len(refused) >= 1


def test_sentences_and_status_checks():
    assert "chose not to" in findings_sentence("declined", ())
    assert "cancer" in findings_sentence("shown", ("cancer",), 1)
    assert "treating clinician" in findings_sentence("refused", None)
    with pytest.raises(workbench.errors.InputError):
        findings_sentence("hidden", ())
    with pytest.raises(workbench.errors.InputError, match="cannot carry findings"):
        SecondaryFindings(
            person="P1",
            status="declined",
            table=__import__("pandas").DataFrame([dict.fromkeys(FINDING_COLUMNS, "x")]),
        )
