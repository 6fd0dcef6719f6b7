"""The candidate browser, driven without a browser: set traits, click, read the model."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

import workbench
from workbench.errors import InputError
from workbench.interpret import interpret_case
from workbench.interpret.secondary import secondary_findings
from workbench.widgets.candidates import (
    ANY,
    CandidateBrowser,
    candidate_detail_html,
    filter_ranking,
    ranking_html,
)


@pytest.fixture(scope="module")
def case(tiny_cohort_path, tmp_path_factory):
    dest = tmp_path_factory.mktemp("widget") / "cohort"
    shutil.copytree(tiny_cohort_path, dest)
    cohort = workbench.open_cohort(dest, verify=False)
    cases = cohort.truth()["cases"]
    proband = cases[cases["mode"] == "x_linked"].proband_id.iat[0]
    with cohort.session(user="dr.jensen", purpose=workbench.Treatment(patient=proband)) as s:
        return interpret_case(s, proband), secondary_findings(s, proband)


RANKING = pd.DataFrame(
    {
        "rank": [1, 2, 3],
        "gene": ["SCN1A", "PAH", "SCN2A"],
        "inheritance": ["de_novo", "homozygous", "incomplete_penetrance"],
        "classification": ["Pathogenic", "Uncertain significance", "Likely pathogenic"],
    }
)


def test_filter_ranking():
    assert list(filter_ranking(RANKING).gene) == ["SCN1A", "PAH", "SCN2A"]
    assert list(filter_ranking(RANKING, mode="homozygous").gene) == ["PAH"]
    assert list(filter_ranking(RANKING, gene="scn").gene) == ["SCN1A", "SCN2A"]
    assert list(filter_ranking(RANKING, min_class="Likely pathogenic").gene) == ["SCN1A", "SCN2A"]
    assert list(filter_ranking(RANKING, min_class="Pathogenic", gene="SCN2").gene) == []
    with pytest.raises(InputError, match="min_class"):
        filter_ranking(RANKING, min_class="bad")


def test_browser_filters_selects_and_reports(case):
    result, secondary = case
    top = result.ranking.iloc[0]
    w = CandidateBrowser(result, secondary)
    assert w.selected.value == top.gene
    assert top.gene in w.table.value
    assert "Genotypes in the family" in w.detail.value and "ACMG/AMP criteria" in w.detail.value
    for person in result.family.person_id:
        assert person in w.detail.value  # the trio's genotypes

    w.gene.value = "ZZZ"
    assert "No candidate matches" in w.table.value
    assert w.selected.value is None and "No candidate selected" in w.detail.value
    w.gene.value = ""
    w.min_class.value = "Pathogenic"
    expected = filter_ranking(result.ranking, min_class="Pathogenic")
    assert list(w.shown.gene) == list(expected.gene)
    w.min_class.value = ANY
    w.mode.value = top.inheritance
    assert w.selected.value == top.gene

    assert w.report.value == ""
    w.report_button.click()
    assert "Genome sequencing report (draft)" in w.report.value
    assert secondary.sentence.split(";")[0] in w.report.value.replace("&#39;", "'")


def test_detail_and_table_html(case):
    result, _ = case
    gene = result.ranking.gene.iat[0]
    assert result.ranking.explanation.iat[0].split(".")[0] in candidate_detail_html(result, gene)
    with pytest.raises(InputError, match="not a candidate"):
        candidate_detail_html(result, "NOPE")
    assert ranking_html(result.ranking.iloc[0:0]).startswith("<p>No candidate")
    with pytest.raises(InputError, match="CaseInterpretation"):
        CandidateBrowser("not a case")


def test_missing_values_show_as_nothing_not_nan():
    from workbench.widgets.candidates import _e

    assert _e(float("nan")) == "" and _e(None) == "" and _e("p.(Arg1Ter)") == "p.(Arg1Ter)"
