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
    ("MODERATE", 1.0, 0.45),
)


def purify(
    ts: tskit.TreeSequence, reference, contig: str, *, rng: np.random.Generator
) -> tskit.TreeSequence:
    """Remove simulated coding sites as purifying selection would (see the module).

    ``ts`` holds every simulated chromosome of the contig (cohort and reference panel) with the
    reference base as each site's ancestral state; only sites with one mutation inside a
    transcript of ``reference`` are considered.
    """
    if ts.num_sites == 0:
        return ts
    starts, ends = _damage_intervals(reference, contig)
    if not len(starts):
        return ts
    tables = ts.tables
    positions = tables.sites.position.astype(np.int64) + 1
    ref_len = np.diff(tables.sites.ancestral_state_offset).astype(np.int64)
    # A site can be HIGH or MODERATE only if its REF span touches a coding base or a splice
    # site (and its anchor base, for an insertion beside one): the annotator runs on those only.
    k = np.searchsorted(ends, positions, side="left")
    touches = (k < len(ends)) & (starts[np.minimum(k, len(ends) - 1)] <= positions + ref_len - 1)
    n = ts.num_samples
    drop = []
    tree = ts.first()
    for site_id in np.flatnonzero(touches):
        site = ts.site(int(site_id))
        if len(site.mutations) != 1:
            continue
        m = site.mutations[0]
        impact = gene_impact(
            reference, contig, int(site.position) + 1, site.ancestral_state, m.derived_state
        )
        if impact not in ("HIGH", "MODERATE"):
            continue
        tree.seek(site.position)
        freq = tree.num_samples(m.node) / n
        keep = next(p for cls, below, p in RETENTION if cls == impact and freq < below)
        if rng.random() >= keep:
            drop.append(int(site_id))
    return ts.delete_sites(drop) if drop else ts


def _damage_intervals(reference, contig: str) -> tuple[np.ndarray, np.ndarray]:
    """Merged 1-based inclusive intervals where a variant can be HIGH or MODERATE: coding
    bases and the two splice-site bases beyond each exon boundary, each widened by one."""
    intervals = []
    for t in reference.transcripts:
        if t.contig != contig:
            continue
        if t.coding:
            intervals.extend((a - 1, b + 1) for a, b in t.cds_segments())
        for (_, end), (start, _) in zip(t.exons[:-1], t.exons[1:], strict=True):
            intervals.append((end, end + 3))
            intervals.append((start - 3, start))
    intervals.sort()
    starts: list[int] = []
    ends: list[int] = []
    for a, b in intervals:
        if ends and a <= ends[-1] + 1:
            ends[-1] = max(ends[-1], b)
        else:
            starts.append(a)
            ends.append(b)
    return np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64)
