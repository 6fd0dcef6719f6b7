"""The filtering funnel: how many variants and genes are left after each step of the filter.

A clinician reviewing a case should see why thousands of variants became a handful of
candidates. :func:`funnel` reads the table :func:`~workbench.interpret.filter.filter_variants`
returns (every variant the proband carries, kept or dropped with its reason) and counts what
is left after each step, in the filter's order:

========================  ================================================================
``carried``               every variant the proband carries (genes: the panel genes among
                          them)
``in a panel gene``       inside a gene of the analysed panels
``rare``                  at most the mode's population-frequency limit
``protein-altering``      rare, and annotated on the gene's transcript with an analysed
                          consequence
``fitting inheritance``   kept: the inheritance pattern of the gene's mode fits the family
========================  ================================================================

The calls carry no per-genotype quality (the synthetic VCF has no GQ or DP), so there is no
quality step; calling errors reach the funnel as they would a filter with no quality field.
The realism scorecard, the case review, the report and notebook 08 all take their figures
from here.
"""

from __future__ import annotations

import pandas as pd

from ..errors import require_columns

__all__ = ["FUNNEL_STEPS", "funnel", "plot_funnel", "reached_inheritance"]

#: The steps, in the filter's order.
FUNNEL_STEPS = (
    "carried",
    "in a panel gene",
    "rare",
    "protein-altering",
    "fitting inheritance",
)

# Reason prefixes (see :mod:`workbench.interpret.filter`) of the step that dropped a row.
_OUTSIDE = ("outside every panel gene",)
_CONSEQUENCE = ("consequence", "could not be annotated", "not on a transcript")
_FREQUENCY = ("allele frequency",)


def _steps(table: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Which rows are still in after the panel, frequency and consequence steps."""
    reason = table.reason.fillna("").astype(str)
    in_panel = ~reason.str.startswith(_OUTSIDE)
    rare = in_panel & ~reason.str.startswith(_FREQUENCY)
    return in_panel, rare, rare & ~reason.str.startswith(_CONSEQUENCE)


def reached_inheritance(table: pd.DataFrame) -> pd.Series:
    """Rows that passed the panel, frequency and consequence steps: rare, protein-altering
    variants in panel genes, the rows the inheritance step then judges (boolean mask)."""
    require_columns(table, "filter table", ("reason",))
    return _steps(table)[2]


def funnel(table: pd.DataFrame) -> pd.DataFrame:
    """Variants and genes left after each step: ``step, variants, genes`` in filter order.

    ``table`` is :attr:`FilterResult.table <workbench.interpret.filter.FilterResult>` (or any
    frame with ``variant_id``, ``gene``, ``kept`` and ``reason``). A variant counts once
    however many genes it touches; a gene counts when one of its rows is still in.
    """
    require_columns(table, "filter table", ("variant_id", "gene", "kept", "reason"))
    in_panel, rare, altering = _steps(table)
    kept = table.kept.fillna(False).astype(bool) & altering
    rows = []
    for step, mask in zip(FUNNEL_STEPS, (None, in_panel, rare, altering, kept), strict=True):
        part = table if mask is None else table[mask.to_numpy()]
        rows.append(
            {
                "step": step,
                "variants": int(part.variant_id.nunique()),
                "genes": int(part.gene.dropna().nunique()),
            }
        )
    return pd.DataFrame(rows, columns=["step", "variants", "genes"])


def plot_funnel(steps: pd.DataFrame, *, title: str | None = None, ax=None):
    """Variants and genes left after each step, as paired horizontal bars on a log scale.

    ``steps`` is :func:`funnel`'s output. Returns the matplotlib axes.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    require_columns(steps, "funnel", ("step", "variants", "genes"))
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 0.5 + 0.55 * len(steps)))
    y = np.arange(len(steps))[::-1]
    h = 0.38
    for offset, column, colour in ((h / 2, "variants", "#9ecae1"), (-h / 2, "genes", "#3182bd")):
        values = steps[column].to_numpy()
        # A bar of 0 cannot be drawn on a log axis; it is labelled 0 at the axis' start.
        bars = ax.barh(y + offset, np.maximum(values, 0.8), height=h, color=colour, label=column)
        for bar, v in zip(bars, values, strict=True):
            ax.annotate(
                f"{v:,}",
                (bar.get_width(), bar.get_y() + h / 2),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
            )
    ax.set_xscale("log")
    ax.set_xlim(0.8, max(2.0, float(steps[["variants", "genes"]].to_numpy().max())) * 4)
    ax.set_yticks(y, steps.step)
    ax.set_xlabel("left after the step (log scale)")
    ax.legend(loc="lower right", frameon=False, fontsize=8)
    if title:
        ax.set_title(title)
    return ax
