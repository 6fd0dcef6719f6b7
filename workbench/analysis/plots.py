"""Plots for cohort analytics (``ax=None`` in, ``ax`` out)."""

from __future__ import annotations

import pandas as pd

__all__ = ["plot_consent_mix", "plot_pca"]


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4.5))
    return ax


def plot_pca(coords: pd.DataFrame, labels, *, x="PC1", y="PC2", explained=None, ax=None):
    """Scatter two principal components, one colour per label (e.g. population)."""
    ax = _axes(ax)
    labels = pd.Series(list(labels), index=coords.index)
    for label in sorted(labels.unique()):
        sel = labels == label
        ax.scatter(
            coords.loc[sel, x], coords.loc[sel, y], s=8, alpha=0.7, label=f"{label} ({sel.sum()})"
        )
    if explained is not None:
        i, j = int(x[2:]) - 1, int(y[2:]) - 1
        ax.set_xlabel(f"{x} ({explained[i]:.1%} of variance)")
        ax.set_ylabel(f"{y} ({explained[j]:.1%} of variance)")
    else:
        ax.set_xlabel(x)
        ax.set_ylabel(y)
    ax.legend(title=labels.name or None, markerscale=2, frameon=False)
    return ax


def plot_consent_mix(consents: pd.DataFrame, *, ax=None):
    """Bar chart of the current consent choices: secondary findings, recontact, research use."""
    import json

    ax = _axes(ax)
    n = len(consents)
    sf = consents.secondary_findings.map(
        lambda s: len(json.loads(s)) if isinstance(s, str) else len(s)
    )
    counts = {
        "secondary findings: all categories": int((sf == sf.max()).sum()) if n else 0,
        "secondary findings: some": int(((sf > 0) & (sf < sf.max())).sum()) if n else 0,
        "secondary findings: none": int((sf == 0).sum()),
        "agrees to recontact": int(consents.recontact.astype(bool).sum()),
        "research opt-out": int(consents.research_opt_out.astype(bool).sum()),
        "consent withdrawn": int(consents.withdrawn.astype(bool).sum()),
    }
    names = list(counts)[::-1]
    values = [counts[k] for k in names]
    bars = ax.barh(names, values, color="#4c72b0")
    ax.bar_label(bars, labels=[f"{v} ({v / max(n, 1):.0%})" for v in values], padding=3)
    ax.set_xlabel(f"people (of {n})")
    ax.set_xlim(0, max(n, 1) * 1.2)
    ax.set_title("Consent choices (current version per person)")
    return ax
