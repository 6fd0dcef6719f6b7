"""QC plots over the tables of :mod:`workbench.analysis.qc` (``ax=None`` in, ``ax`` out;
matplotlib is imported only when a plot is drawn)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError
from .plots import _axes

__all__ = [
    "plot_call_rate",
    "plot_het_vs_call_rate",
    "plot_hwe_qq",
    "plot_sex_check",
    "plot_titv",
]


def _need(table: pd.DataFrame, *columns):
    missing = [c for c in columns if c not in table]
    if missing:
        raise InputError(
            f"the table lacks column(s) {missing}; pass the result of variant_qc() or "
            "sample_qc() as appropriate"
        )


def plot_call_rate(table: pd.DataFrame, *, threshold: float | None = 0.95, bins=40, ax=None):
    """Histogram of ``call_rate`` (variants or samples), with the QC threshold marked."""
    _need(table, "call_rate")
    ax = _axes(ax)
    values = table["call_rate"].dropna()
    ax.hist(values, bins=bins, color="#4c72b0")
    if threshold is not None:
        n_fail = int((values < threshold).sum())
        ax.axvline(threshold, color="#c44e52", ls="--", label=f"{threshold} ({n_fail} below)")
        ax.legend(frameon=False)
    ax.set_xlabel("call rate")
    ax.set_ylabel("count")
    return ax


def plot_het_vs_call_rate(samples: pd.DataFrame, *, ax=None):
    """Heterozygosity against call rate per sample, outliers highlighted."""
    _need(samples, "call_rate", "heterozygosity", "outlier")
    ax = _axes(ax)
    out = samples["outlier"].astype(bool)
    ax.scatter(
        samples.loc[~out, "call_rate"],
        samples.loc[~out, "heterozygosity"],
        s=8,
        alpha=0.6,
        color="#4c72b0",
        label=f"pass ({int((~out).sum())})",
    )
    ax.scatter(
        samples.loc[out, "call_rate"],
        samples.loc[out, "heterozygosity"],
        s=24,
        color="#c44e52",
        marker="x",
        label=f"outlier ({int(out.sum())})",
    )
    ax.set_xlabel("call rate (autosomes)")
    ax.set_ylabel("heterozygosity (het / called)")
    ax.legend(frameon=False)
    return ax


def plot_titv(samples: pd.DataFrame, *, bins=40, ax=None):
    """Distribution of the per-sample transition/transversion ratio."""
    _need(samples, "ti_tv")
    ax = _axes(ax)
    values = samples["ti_tv"].dropna()
    ax.hist(values, bins=bins, color="#55a868")
    if len(values):
        ax.axvline(values.median(), color="k", ls=":", label=f"median {values.median():.3f}")
        ax.legend(frameon=False)
    ax.set_xlabel("Ti/Tv (alternate alleles per sample)")
    ax.set_ylabel("samples")
    return ax


def plot_sex_check(samples: pd.DataFrame, *, ax=None):
    """X inbreeding coefficient F per sample, grouped by registry sex, PLINK thresholds marked."""
    from .qc import F_FEMALE_MAX, F_MALE_MIN

    _need(samples, "x_f", "sex", "sex_check")
    ax = _axes(ax)
    sexes = samples["sex"].fillna("unknown").astype(str)
    labels = sorted(sexes.unique())
    rng = np.random.default_rng(0)  # jitter only spreads the points; it carries no data
    for i, label in enumerate(labels):
        sel = sexes == label
        bad = sel & (samples["sex_check"] != "ok")
        x = i + rng.uniform(-0.25, 0.25, int(sel.sum()))
        ax.scatter(x, samples.loc[sel, "x_f"], s=8, alpha=0.6, label=f"{label} ({int(sel.sum())})")
        if bad.any():
            xb = i + rng.uniform(-0.25, 0.25, int(bad.sum()))
            ax.scatter(xb, samples.loc[bad, "x_f"], s=30, marker="x", color="#c44e52")
    ax.axhline(F_MALE_MIN, color="grey", ls="--")
    ax.axhline(F_FEMALE_MAX, color="grey", ls="--")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_xlabel("registry sex (× = check not ok)")
    ax.set_ylabel("X chromosome F")
    ax.legend(frameon=False, loc="center right")
    return ax


def plot_hwe_qq(variants: pd.DataFrame, *, column: str = "hwe_p", ax=None):
    """QQ plot of HWE p-values (−log10 observed against expected under the null)."""
    _need(variants, column)
    ax = _axes(ax)
    p = np.sort(variants[column].dropna().to_numpy())
    p = p[p > 0] if (p > 0).any() else p
    n = len(p)
    if n:
        expected = -np.log10((np.arange(1, n + 1) - 0.5) / n)
        observed = -np.log10(np.clip(p, 1e-300, 1))
        ax.scatter(expected, observed, s=6, color="#8172b2")
        top = max(expected.max(), observed.max())
        ax.plot([0, top], [0, top], color="grey", ls="--")
    ax.set_xlabel("expected −log10 p")
    ax.set_ylabel(f"observed −log10 p ({column})")
    return ax
