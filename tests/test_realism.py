"""The realism scorecard: figures next to published ranges, judged only on enough data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from workbench.cli import main
from workbench.realism import RANGES, SCORECARD_COLUMNS, format_scorecard, scorecard


@pytest.fixture(scope="module")
def card(tiny_cohort):
    return scorecard(tiny_cohort, funnel=True)


def test_every_published_range_has_a_row_and_a_source(card):
    assert list(card.columns) == list(SCORECARD_COLUMNS)
    assert len(card) == len(RANGES)
    assert set(card.status) <= {"inside", "outside", "not judged"}
    assert card.source.str.contains(r"\d{4}").all()  # every range names a dated source
    assert (card.low <= card.high).all()


def test_what_the_tiny_preset_can_show_is_inside_its_range(card):
    # The tiny preset (60 people, 0.8 Mb) is too small for most figures, and says so; the
    # ones it can show must be inside. Known gaps of the current genome model are named: too
    # few genes for the interpretation funnel, and the tiny preset's 20 genes crowded with
    # planted benign variants (coding variants per person above the scaled exome range).
    known_gaps = {
        "candidate genes per proband after the default trio filter (median)",
        "variant sites per person, in coding sequence",
    }
    judged = card[card.status != "not judged"]
    assert "share of small indels among a person's small variants outside coding sequence" in set(
        judged.figure
    )
    outside = set(judged.figure[judged.status == "outside"])
    assert outside <= known_gaps, outside
    reasons = card.detail[card.status == "not judged"]
    assert reasons.str.contains("needs|too few to judge").all()


def test_a_figure_outside_its_range_is_flagged(tiny_cohort, monkeypatch):
    import workbench.realism as realism

    # a cohort without indels: the scorecard must say so
    original = realism._Data.read

    def no_indels(cls, cohort, **kwargs):
        data = original.__func__(cls, cohort, **kwargs)
        data.is_indel = np.zeros_like(data.is_indel)
        return data

    monkeypatch.setattr(realism._Data, "read", classmethod(no_indels))
    card = scorecard(tiny_cohort, funnel=False)
    row = card.set_index("figure").loc[
        "share of small indels among a person's small variants outside coding sequence"
    ]
    assert row.status == "outside" and row.value == 0
    assert "[OUT] share of small indels" in format_scorecard(card)


def test_the_cli_prints_the_card_and_check_fails_on_a_figure_outside(tiny_cohort, tmp_path):
    runner = CliRunner()
    out = tmp_path / "card.tsv"
    result = runner.invoke(main, ["realism", str(tiny_cohort.path), "--quiet", "--tsv", str(out)])
    assert result.exit_code == 0, result.output
    assert "per person" in result.output and "per trio" in result.output
    table = pd.read_csv(out, sep="\t")
    assert list(table.columns) == list(SCORECARD_COLUMNS)
    checked = runner.invoke(main, ["realism", str(tiny_cohort.path), "--quiet", "--check"])
    assert (checked.exit_code == 1) == (table.status == "outside").any()


def test_a_cohort_without_its_answer_key_gets_one_clear_line(cohort_copy):
    (cohort_copy / "truth" / "de_novo.tsv").unlink()
    result = CliRunner().invoke(main, ["realism", str(cohort_copy), "--quiet"])
    assert result.exit_code != 0
    assert "de_novo.tsv is missing" in result.output
    assert "Traceback" not in result.output


def test_a_rare_event_rate_is_judged_by_its_sampling_interval():
    from types import SimpleNamespace

    from workbench.realism import _poisson_interval, _row

    data = SimpleNamespace(samples=[0] * 2000, coding_bp=0)
    exposure = 2 * 10e6 * 44  # 44 children, 10 Mb each, two haplotypes
    # 8 events: the point estimate (9.1e-9) lies below 1e-8, its interval reaches it
    eight = _poisson_interval(8, exposure)
    assert eight[0] < 8 / exposure < 1e-8 < eight[1]
    row = _row("de_novo_rate", 8 / exposure, data=data, interval=eight)
    assert row["status"] == "inside" and "95 % interval" in row["detail"]
    # 1 event in the same exposure: even the interval stays below the published range
    one = _poisson_interval(1, exposure)
    assert _row("de_novo_rate", 1 / exposure, data=data, interval=one)["status"] == "outside"


def test_person_counts_do_not_depend_on_the_chunk_of_variants(tiny_cohort):
    from workbench.realism import _Data, _person_counts

    data = _Data.read(tiny_cohort, max_unrelated=1_500, progress=False)
    whole, chunked = _person_counts(data), _person_counts(data, chunk=333)
    assert len(data.variants) > 3 * 333
    assert whole.keys() == chunked.keys()
    assert all((whole[k] == chunked[k]).all() for k in whole)
    assert (whole["coding"] > 0).all() and (whole["het"] > whole["hom"]).any()
