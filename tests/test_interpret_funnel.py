"""The filtering funnel a clinician follows (a real case's, in the report and the case review:
test_interpret_report.py)."""

from __future__ import annotations

import matplotlib
import pandas as pd
import pytest

from workbench.errors import InputError
from workbench.interpret.funnel import FUNNEL_STEPS, funnel, plot_funnel

matplotlib.use("Agg")


def _table():
    return pd.DataFrame(
        {
            "variant_id": ["v1", "v2", "v3", "v4", "v5", "v6", "v6", "v7"],
            "gene": ["A", "A", "B", None, "D", "E", "F", "E"],
            "kept": [False, True, False, False, False, True, False, False],
            "reason": [
                "consequence synonymous_variant (LOW impact) is not among the analysed classes",
                "",
                "allele frequency 0.2 (pooled) is above the dominant/X-linked limit 0.001",
                "outside every panel gene",
                "absent in the proband's affected sibling",
                "",
                "consequence intron_variant (MODIFIER impact) is not among the analysed classes",
                "could not be annotated: no sequence",
            ],
        }
    )


def test_the_funnel_counts_variants_and_genes_left_after_each_step():
    steps = funnel(_table())
    assert list(steps.step) == list(FUNNEL_STEPS)
    # v6 touches E and F and counts once; v4 lies outside every panel gene.
    # Frequency before consequence: v3 is common; v1, v7 and v6-in-F are rare but not altering.
    assert steps.variants.tolist() == [7, 6, 5, 3, 2]
    # carried A B D E F; rare: A, D, E, F; protein-altering: A (v2), D, E (v6); kept: A, E
    assert steps.genes.tolist() == [5, 5, 4, 3, 2]


def test_a_table_without_the_filter_columns_gets_one_clear_error():
    with pytest.raises(InputError, match=r"filter table lacks columns \['reason'\]"):
        funnel(_table().drop(columns="reason"))


def test_the_plot_draws_both_counts_for_every_step():
    steps = funnel(_table())
    ax = plot_funnel(steps, title="funnel")
    assert len(ax.patches) == 2 * len(FUNNEL_STEPS)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(FUNNEL_STEPS)
    assert {t.get_text() for t in ax.texts} >= {"7", "2"}
