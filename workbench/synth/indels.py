"""Small insertions and deletions among the simulated variants.

msprime mutates single nucleotides only. Real genomes carry about one small indel for every
eight to ten SNVs (1000 Genomes Project 2015, Nature 526:68: 4.1–5.0 million SNVs and about
0.5–0.6 million indels per genome), so :func:`add_indels` turns a share of the simulated
biallelic sites into indels that keep the site's genealogy: the same people carry them.

Length spectrum: about half of small indels are one base long and the frequency falls
steeply with length, with a bump at four bases from tetranucleotide repeats (Montgomery et al.
2013, Genome Res 23:749, Fig. 2). Deletions are a little more common than insertions (about
55:45 in the same data), and insertions are often duplications of the following bases.

In coding sequence purifying selection removes most frameshifts: among coding indels, in-frame
ones (a multiple of three bases) are enriched from about a quarter to about half (Montgomery
2013; gnomAD, Karczewski 2020). A frameshift drawn in a CDS is kept with probability
:data:`CODING_FRAMESHIFT_KEPT` and otherwise left as the SNV it was.

Every indel is written left-aligned and parsimonious (:func:`workbench.genome.normalize`), and
never overlaps another site.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tskit

from ..errors import InputError
from ..genome.normalize import normalize

__all__ = ["CODING_FRAMESHIFT_KEPT", "INDEL_LENGTHS", "INDEL_SHARE", "add_indels"]

#: Share of simulated biallelic sites turned into indels (before coding selection).
INDEL_SHARE = 0.11
#: Indel length → relative frequency (Montgomery et al. 2013, Fig. 2, rounded).
INDEL_LENGTHS = {1: 48, 2: 15, 3: 8, 4: 9, 5: 4, 6: 3, 7: 2, 8: 2, 9: 2, 10: 1, 12: 1, 15: 1}
DELETION_SHARE = 0.55
#: Probability that a frameshift drawn inside a CDS survives purifying selection.
CODING_FRAMESHIFT_KEPT = 0.3
_BASES = np.array(list("ACGT"))


def add_indels(
    ts: tskit.TreeSequence,
    sequence: str,
    *,
    rng: np.random.Generator,
    share: float = INDEL_SHARE,
    coding: Sequence[tuple[int, int]] = (),
) -> tskit.TreeSequence:
    """Turn about ``share`` of the biallelic sites of ``ts`` into small indels.

    Parameters
    ----------
    ts
        Tree sequence whose sites already carry the reference base as ancestral state.
    sequence
        The contig's reference sequence.
    rng
        Random generator (which sites, lengths, inserted bases).
    share
        Share of biallelic sites considered for conversion.
    coding
        0-based half-open CDS intervals of the contig (frameshift selection).
    """
    if not 0 <= share < 1:
        raise InputError(f"indel share must be in [0, 1), got {share}")
    tables = ts.dump_tables()
    sites, muts = tables.sites, tables.mutations
    n = sites.num_rows
    if n == 0 or share == 0:
        return ts
    positions = sites.position.astype(np.int64)
    ancestral = tskit.unpack_strings(sites.ancestral_state, sites.ancestral_state_offset)
    derived = tskit.unpack_strings(muts.derived_state, muts.derived_state_offset)
    per_site = np.bincount(muts.site, minlength=n)
    first_mutation = np.searchsorted(muts.site, np.arange(n))
    coding = sorted(coding)
    starts = np.array([a for a, _ in coding], dtype=np.int64)
    ends = np.array([b for _, b in coding], dtype=np.int64)
    lengths = np.array(list(INDEL_LENGTHS))
    weights = np.array(list(INDEL_LENGTHS.values()), dtype=float)
    weights /= weights.sum()

    breakpoints = ts.breakpoints(as_array=True)
    tree_of = np.searchsorted(breakpoints, positions, side="right")
    new_pos = positions.copy()
    last_end = -1  # end of the span of the last site written (0-based, exclusive)
    for s in np.flatnonzero((per_site == 1) & (rng.random(n) < share)):
        p = int(positions[s])
        if p <= last_end:
            continue
        size = int(rng.choice(lengths, p=weights))
        following = sequence[p + 1 : p + 1 + size]
        if len(following) < size or "N" in following or sequence[p] == "N":
            continue  # runs off the contig end or into unknown sequence
        if rng.random() < DELETION_SHARE:
            ref, alt = sequence[p] + following, sequence[p]
        else:
            dup = rng.random() < 0.5
            inserted = following if dup else "".join(rng.choice(_BASES, size))
            ref, alt = sequence[p], sequence[p] + inserted
        pos1, ref, alt = normalize(sequence, p + 1, ref, alt)
        a, b = pos1 - 1, pos1 - 1 + len(ref)
        if a <= last_end or _has_site(positions, a, b, skip=s):
            continue
        if tree_of[s] != np.searchsorted(breakpoints, a, side="right"):
            continue  # left-aligned across a recombination breakpoint: another genealogy
        if size % 3 and _overlaps(starts, ends, a, b) and rng.random() >= CODING_FRAMESHIFT_KEPT:
            continue
        new_pos[s] = a
        ancestral[s] = ref
        derived[first_mutation[s]] = alt
        last_end = b - 1
    sites.set_columns(
        position=new_pos.astype(np.float64),
        ancestral_state=sites.ancestral_state,
        ancestral_state_offset=sites.ancestral_state_offset,
        metadata=sites.metadata,
        metadata_offset=sites.metadata_offset,
    )
    sites.packset_ancestral_state(ancestral)
    muts.packset_derived_state(derived)
    tables.sort()
    tables.build_index()
    tables.compute_mutation_parents()
    return tables.tree_sequence()


def _has_site(positions: np.ndarray, a: int, b: int, *, skip: int) -> bool:
    """Whether a site other than ``skip`` lies in ``[a, b)``."""
    lo, hi = np.searchsorted(positions, [a, b])
    return any(k != skip for k in range(lo, hi))


def _overlaps(starts: np.ndarray, ends: np.ndarray, a: int, b: int) -> bool:
    """Whether ``[a, b)`` overlaps one of the (sorted) intervals."""
    k = np.searchsorted(starts, b)
    return bool(k and (ends[:k] > a).any())
