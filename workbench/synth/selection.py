"""Purifying selection on the simulated coding variants.

msprime's mutations are neutral. In real genomes selection removes most damaging alleles, and
the more damaging the allele, the rarer it stays: a typical genome carries about as many
missense as synonymous variants (10,000–12,000 peptide-altering sites; 1000 Genomes 2015,
Nature 526:68), where neutral mutation alone gives about 2.5 missense per synonymous one, and
only about 100–180 loss-of-function variants (MacArthur et al. 2012, Science 335:823; 1000
Genomes 2015), a few per cent of the neutral expectation. Rare variants are barely selected
yet: singletons keep close to their neutral share (the excess of rare missense and LoF
alleles of Tennessen et al. 2012, Science 337:64).

:func:`purify` keeps each simulated site in a coding transcript with a probability that
depends on the most severe consequence of its allele (:data:`RETENTION`) and on how many of the
simulated chromosomes carry it. This is selection applied after the fact, not a forward
simulation (an approximation: the genealogy around a removed allele stays neutral), and it
gives each class its published share per genome.
"""

from __future__ import annotations

import numpy as np
import tskit

from ..genome import gene_impact

__all__ = ["RETENTION", "purify"]

#: (impact class, derived allele frequency below) → probability that the site is kept. The
#: first matching row applies; classes missing here (LOW, MODIFIER) are always kept.
RETENTION: tuple[tuple[str, float, float], ...] = (
    ("HIGH", 0.001, 0.5),
    ("HIGH", 0.01, 0.15),
    ("HIGH", 1.0, 0.02),
    ("MODERATE", 0.001, 0.9),
    ("MODERATE", 0.01, 0.7),
    ("MODERATE", 1.0, 0.5),
)


def purify(
    ts: tskit.TreeSequence, reference, contig: str, *, rng: np.random.Generator
) -> tskit.TreeSequence:
    """Remove simulated coding sites as purifying selection would (see the module).

    ``ts`` holds every simulated chromosome of the contig (cohort and reference panel) with the
    reference base as each site's ancestral state; only sites with one mutation inside a
    transcript of ``reference`` are considered.
    """
    spans = sorted((t.start, t.end) for t in reference.transcripts if t.contig == contig)
    if not spans or ts.num_sites == 0:
        return ts
    starts = np.array([a for a, _ in spans])
    ends = np.maximum.accumulate(np.array([b for _, b in spans]))
    positions = ts.tables.sites.position.astype(np.int64) + 1
    k = np.searchsorted(starts, positions, side="right") - 1
    inside = (k >= 0) & (positions <= ends[np.maximum(k, 0)])
    candidates = set(np.flatnonzero(inside).tolist())
    n = ts.num_samples
    drop = []
    for tree in ts.trees():
        for site in tree.sites():
            if site.id not in candidates or len(site.mutations) != 1:
                continue
            m = site.mutations[0]
            impact = gene_impact(
                reference, contig, int(site.position) + 1, site.ancestral_state, m.derived_state
            )
            if impact not in ("HIGH", "MODERATE"):
                continue
            freq = tree.num_samples(m.node) / n
            keep = next(p for cls, below, p in RETENTION if cls == impact and freq < below)
            if rng.random() >= keep:
                drop.append(site.id)
    return ts.delete_sites(drop) if drop else ts
