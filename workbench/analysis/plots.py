"""Plots for cohort analytics (``ax=None`` in, ``ax`` out)."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "plot_consent_mix",
    "plot_fst",
    "plot_kinship",
    "plot_ld_decay",
    "plot_pca",
    "plot_sfs",
]


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4.5))
    return ax


def plot_pca(
    coords: pd.DataFrame, labels, *, x="PC1", y="PC2", explained=None, title=None, ax=None
):
    """Scatter two principal components, one colour per label (population, region …).

    ``labels`` has one entry per row of ``coords``; its ``name`` titles the legend.
    """
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
    if title:
        ax.set_title(title)
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


def _heatmap(ax, values: pd.DataFrame, *, cmap, vmin, vmax, fmt, label):
    image = ax.imshow(values.to_numpy(dtype=float), cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_xticks(range(values.shape[1]), [str(c) for c in values.columns], rotation=45, ha="right")
    ax.set_yticks(range(values.shape[0]), [str(i) for i in values.index])
    for (i, j), v in np.ndenumerate(values.to_numpy(dtype=float)):
        if np.isfinite(v):
            dark = (v - vmin) / ((vmax - vmin) or 1) > 0.6
            ax.text(
                j,
                i,
                fmt.format(v),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if dark else "black",
            )
    ax.figure.colorbar(image, ax=ax, shrink=0.8, label=label)
    return ax


def plot_fst(fst: pd.DataFrame, *, ax=None):
    """Heatmap of pairwise Fst (:func:`~workbench.analysis.structure.pairwise_fst`)."""
    ax = _axes(ax)
    top = float(np.nanmax(fst.to_numpy(dtype=float))) if fst.size else 1.0
    _heatmap(ax, fst, cmap="Blues", vmin=0.0, vmax=top or 1.0, fmt="{:.3f}", label="Hudson Fst")
    ax.set_title("Differentiation between populations (Hudson Fst)")
    return ax


def plot_kinship(kinship: pd.DataFrame, *, labels=None, ax=None):
    """Heatmap of KING kinship among a few people (e.g. one family), values written in.

    ``labels`` optionally maps a sample id to a longer label (e.g. ``"P00003 proband"``).
    """
    ax = _axes(ax)
    shown = kinship.copy()
    if labels is not None:
        names = [f"{s} {labels.get(s, '')}".strip() for s in shown.index]
        shown.index, shown.columns = names, names
    _heatmap(ax, shown, cmap="Reds", vmin=0.0, vmax=0.5, fmt="{:.2f}", label="KING kinship")
    ax.set_title("Kinship (0.5 self, 0.25 parent–child / siblings, 0 unrelated)")
    return ax


def plot_sfs(spectrum: pd.DataFrame, *, bins: int = 20, ax=None):
    """Site frequency spectra (:func:`~workbench.analysis.structure.sfs`), one line per
    population: the share of its segregating sites in each of ``bins`` equal allele-frequency
    bins, so populations of different sizes compare directly.
    """
    ax = _axes(ax)
    for name, part in spectrum.groupby("population", sort=True):
        part = part[part.allele_count > 0]
        n = int(part.n_chromosomes.iloc[0])
        freq = part.allele_count / n
        top = float(freq.max()) if len(freq) else 1.0
        edges = np.linspace(0, top, bins + 1)
        which = np.clip(np.searchsorted(edges, freq, side="left") - 1, 0, bins - 1)
        counts = np.bincount(which, weights=part.sites, minlength=bins)
        share = counts / max(counts.sum(), 1)
        ax.plot((edges[:-1] + edges[1:]) / 2, share, marker=".", lw=1, label=f"{name} (n = {n})")
    ax.set_yscale("log")
    ax.set_xlabel("allele frequency in the population")
    ax.set_ylabel("share of segregating sites")
    ax.legend(frameon=False)
    ax.set_title("Site frequency spectrum")
    return ax


def plot_ld_decay(decay: pd.DataFrame, *, label=None, ax=None):
    """Mean r² by distance (:func:`~workbench.analysis.structure.ld_decay`)."""
    ax = _axes(ax)
    mid = (decay.distance_start + decay.distance_stop) / 2 / 1000
    ax.plot(mid, decay.mean_r2, marker="o", ms=3, label=label)
    ax.set_xlabel("distance between variants (kb)")
    ax.set_ylabel("mean r²")
    ax.set_ylim(bottom=0)
    ax.set_title("Decay of linkage disequilibrium")
    if label:
        ax.legend(frameon=False)
    return ax
