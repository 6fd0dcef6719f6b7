"""The knowledge a filter reads: gene–disease panels, population-frequency lookups, and
where each panel gene lies on the genome.

Split from :mod:`workbench.interpret.filter`, which applies them to a family's variants.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from .. import hpo
from ..errors import InputError, require_columns

__all__ = [
    "GeneSpans",
    "frequency_index",
    "frequency_summary",
    "panel_genes",
    "panel_min_an",
    "panels_for_terms",
]

#: Modes of inheritance a gene–disease row may name.
MODES = ("AD", "AR", "XL")


def panel_genes(gene_disease: pd.DataFrame, *, panels=None) -> pd.DataFrame:
    """Rows of the gene–disease table on the chosen panels.

    Parameters
    ----------
    gene_disease
        ``knowledge/gene_disease.tsv`` (gene, disease_id, disease_name, mode, panels).
    panels
        ``None`` every gene; an iterable of panel names (``"epilepsy"``…) the genes on any of
        them.

    Returns
    -------
    pandas.DataFrame
        The rows kept, one per gene (the first disease row of a gene), sorted by gene.
    """
    require_columns(gene_disease, "gene_disease", ("gene", "disease_id", "disease_name", "mode"))
    table = gene_disease.sort_values("gene", kind="stable").drop_duplicates("gene")
    bad_modes = sorted(set(table["mode"]) - set(MODES))
    if bad_modes:
        raise InputError(f"gene_disease has modes {bad_modes}; expected AD, AR or XL")
    if panels is None:
        return table.reset_index(drop=True)
    if isinstance(panels, str):
        panels = [panels]
    wanted = set(panels)
    on = table["panels"].fillna("").astype(str).str.split(",")
    known = {p for names in on for p in names if p}
    unknown = sorted(wanted - known)
    if unknown:
        raise InputError(
            f"unknown panel(s) {unknown}; this cohort's panels are {sorted(known)}; "
            "pass panels=None for every gene"
        )
    mask = on.map(lambda names: bool(wanted & set(names)))
    return table[mask.to_numpy()].reset_index(drop=True)


def panels_for_terms(terms: Iterable[str], panel_roots: Mapping[str, Iterable[str]]) -> list[str]:
    """The panels whose HPO roots have one of the patient's observed terms at or below them.

    ``panel_roots`` is :data:`workbench.synth.knowledge.PANELS`. Unknown terms raise
    :class:`~workbench.errors.InputError` (checked with :func:`workbench.hpo.term`).
    """
    terms = list(terms)
    for t in terms:
        hpo.term(t)
    out = []
    for name, roots in panel_roots.items():
        if any(hpo.is_a(t, root) for t in terms for root in roots):
            out.append(name)
    return out


def panel_min_an(frequencies: pd.DataFrame, *, cap: int = 2000) -> int:
    """``min_an`` sized to a reference panel: ¾ of its largest population, at most ``cap``.

    gnomAD-style rules ask for ≥ 2,000 alleles before a population's frequency counts on its
    own; the synthetic panels hold at most 120 (tiny), 1,000 (teaching) or 2,000 (national)
    alleles per population, so the rule would never apply. Three quarters of the largest
    population's allele number keeps every full-size population (and the X chromosome,
    where men carry one allele) while leaving out a population sampled much more thinly.
    """
    cols = [c for c in frequencies.columns if c.startswith("an_")]
    if not cols:
        raise InputError("frequencies has no an_<POP> columns; pass population_frequencies")
    largest = int(frequencies[cols].to_numpy().max()) if len(frequencies) else 0
    return max(1, min(int(cap), math.floor(0.75 * largest)))


def frequency_index(
    frequencies: pd.DataFrame, positions=None
) -> dict[tuple[str, int, str, str], int]:
    """``(contig, position, ref, alt)`` → row number of the frequency table.

    ``positions`` (optional) restricts the index to rows at those positions: a proband's
    candidates touch a few thousand of an exome-scale table's million rows, and building the
    whole index costs seconds. Row numbers always count in the full table.
    """
    require_columns(frequencies, "frequencies", ("contig", "position", "ref", "alt"))
    rows = np.arange(len(frequencies))
    if positions is not None:
        wanted = np.unique(np.asarray(positions, dtype=np.int64))
        mask = np.isin(frequencies["position"].to_numpy(dtype=np.int64), wanted)
        frequencies, rows = frequencies[mask], rows[mask]
    # plain lists: iterating pandas columns element by element costs seconds on an exome panel
    keys = zip(
        frequencies["contig"].astype(str).tolist(),
        frequencies["position"].astype(np.int64).tolist(),
        frequencies["ref"].astype(str).tolist(),
        frequencies["alt"].astype(str).tolist(),
        strict=True,
    )
    return {key: i for key, i in zip(keys, rows.tolist(), strict=True)}


def frequency_summary(
    frequencies: pd.DataFrame, *, min_an: int, positions=None
) -> dict[tuple[str, int, str, str], tuple[float, float | None, str | None]]:
    """``(contig, position, ref, alt)`` → ``(af, popmax_af, popmax_population)``.

    ``af`` is the pooled frequency (0 without an ``an``/``af`` pair or with ``an`` 0);
    the popmax is the highest ``af_<POP>`` among populations with at least ``min_an``
    alleles (ties to the first population by name), ``None`` when none has. Computed for
    all rows at once; ``positions`` restricts it as in :func:`frequency_index`. A variant
    absent from the table has no key: its frequency is ``(0.0, None, None)``.
    """
    index = frequency_index(frequencies, positions)
    sub = frequencies.iloc[list(index.values())]
    n = len(sub)
    an = sub["an"].to_numpy(dtype=np.int64) if "an" in sub else np.zeros(n, np.int64)
    pooled = np.where(an > 0, sub["af"].to_numpy(dtype=float), 0.0) if "af" in sub else np.zeros(n)
    pops = sorted(c[3:] for c in sub.columns if c.startswith("af_") and f"an_{c[3:]}" in sub)
    if pops:
        af = sub[[f"af_{p}" for p in pops]].to_numpy(dtype=float)
        enough = sub[[f"an_{p}" for p in pops]].to_numpy(dtype=np.int64) >= min_an
        best = np.where(enough, af, -np.inf).argmax(axis=1)
        has = enough.any(axis=1)
        top = af[np.arange(n), best]
    else:
        best, has, top = np.zeros(n, int), np.zeros(n, bool), np.zeros(n)
    return {
        key: (float(pooled[j]), float(top[j]), pops[best[j]])
        if has[j]
        else (float(pooled[j]), None, None)
        for j, key in enumerate(index)
    }


class GeneSpans:
    """Which of a list of genes a variant's span overlaps, found by bisection.

    ``items`` are ``(payload, model)`` pairs whose ``model`` has ``contig``, ``start`` and
    ``end`` (1-based, inclusive), such as ``(gene_disease row, Gene)``. :meth:`overlapping`
    returns the pairs in their original order, as a scan of the whole list would, in time
    that grows with the genes found rather than with the whole list (an exome-scale panel
    holds thousands of genes and a proband tens of thousands of variants).
    """

    def __init__(self, items):
        self._items = list(items)
        by_contig: dict[str, list[int]] = {}
        for k, (_, model) in enumerate(self._items):
            by_contig.setdefault(str(model.contig), []).append(k)
        self._contigs = {}
        for contig, ks in by_contig.items():
            ks.sort(key=lambda k: self._items[k][1].start)
            starts = [self._items[k][1].start for k in ks]
            ends = np.array([self._items[k][1].end for k in ks])
            # the furthest end among the genes starting at or before each one
            self._contigs[contig] = (ks, starts, ends, np.maximum.accumulate(ends))

    def overlapping(self, contig: str, first: int, last: int) -> list:
        """The items whose gene overlaps positions ``first``–``last`` of ``contig``."""
        found = self._contigs.get(str(contig))
        if found is None:
            return []
        ks, starts, ends, reach = found
        hits = []
        j = bisect.bisect_right(starts, last) - 1
        while j >= 0 and reach[j] >= first:
            if ends[j] >= first:
                hits.append(ks[j])
            j -= 1
        return [self._items[k] for k in sorted(hits)]
