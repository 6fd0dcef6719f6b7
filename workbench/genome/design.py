"""Designing variants with a wanted consequence, to plant diagnoses in synthetic genomes.

:func:`design_variant` searches a gene's canonical transcript for a variant whose most severe
consequence (:func:`~workbench.genome.annotate.annotate`) is the one asked for.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from ..errors import InputError
from .annotate import CONSEQUENCES, _index, _Model, annotate
from .normalize import normalize
from .reference import Reference

__all__ = ["DESIGNABLE_EFFECTS", "design_variant"]

#: Consequences :func:`design_variant` can produce.
DESIGNABLE_EFFECTS: tuple[str, ...] = tuple(
    t
    for t in CONSEQUENCES
    if t
    not in (
        "transcript_ablation",
        "coding_sequence_variant",
        "non_coding_transcript_exon_variant",
        "non_coding_transcript_variant",
        "intergenic_variant",
        # Only an indel equivalent to a 5' UTR change retains a touched start codon.
        "start_retained_variant",
    )
)


def _vcf_snv(seq, g, base):
    return g, seq[g - 1], base


def _vcf_del(seq, a, b):
    """VCF record deleting genomic [a, b] (anchored on the base before)."""
    return a - 1, seq[a - 2 : b], seq[a - 2]


def _vcf_ins(seq, q, s):
    """VCF record inserting s between q-1 and q."""
    return q - 1, seq[q - 2], seq[q - 2] + s


def _positions(segments) -> list[int]:
    return [g for s, e in segments for g in range(s, e + 1)]


def _snv_sites(m: _Model, effect: str) -> list[int]:
    t = m.t
    cds = _positions(t.cds_segments())
    if not m.plus:
        cds = cds[::-1]  # transcript order
    if effect == "start_lost":
        return cds[:3]
    if effect in ("stop_lost", "stop_retained_variant"):
        return cds[-3:]
    if effect in ("synonymous_variant", "missense_variant", "stop_gained"):
        return cds[3:-3]
    if effect == "5_prime_UTR_variant":
        return _positions(t.utr5_segments())
    if effect == "3_prime_UTR_variant":
        return _positions(t.utr3_segments())
    kinds = {"splice_donor_variant": "D", "splice_acceptor_variant": "A"}
    if effect in kinds:
        return sorted({g for s, e, k in m.feats if k == kinds[effect] for g in range(s, e + 1)})
    if effect == "splice_region_variant":
        return sorted({g for s, e, k in m.feats if k == "R" for g in range(s, e + 1)})
    if effect == "intron_variant":
        return [g for s, e in m.introns for g in range(s + 8, e - 7)]
    return []


def _indel_candidate(m: _Model, effect: str, rng: np.random.Generator):
    seq = m.seq
    segs = [(s, e) for s, e in m.t.cds_segments()]
    # keep clear of the start and stop codons
    inner = []
    for s, e in segs:
        lo = s + 3 if s == m.t.cds_start else s
        hi = e - 3 if e == m.t.cds_end else e
        if hi - lo >= 6:
            inner.append((lo, hi))
    if not inner:
        return None
    weights = np.array([e - s + 1 for s, e in inner], dtype=float)
    s, e = inner[int(rng.choice(len(inner), p=weights / weights.sum()))]
    g = int(rng.integers(s + 1, e - 3))
    bases = "ACGT"
    if effect == "frameshift_variant":
        kind = int(rng.integers(0, 4))
        if kind < 2:
            return _vcf_del(seq, g, g + kind)
        return _vcf_ins(seq, g, "".join(bases[j] for j in rng.integers(0, 4, kind - 1)))
    if effect == "inframe_deletion":
        return _vcf_del(seq, g, g + 2)
    if effect == "inframe_insertion":
        return _vcf_ins(seq, g, "".join(bases[j] for j in rng.integers(0, 4, 3)))
    return None


def design_variant(
    reference: Reference,
    gene: str,
    effect: str,
    *,
    rng: np.random.Generator,
    taken: Collection[tuple[str, int]] = frozenset(),
) -> tuple[str, int, str, str]:
    """Find a variant whose most severe consequence on the gene's canonical transcript is
    ``effect``.

    Parameters
    ----------
    reference : Reference
    gene : str
        Gene symbol.
    effect : str
        One of :data:`DESIGNABLE_EFFECTS`.
    rng : numpy.random.Generator
        Chooses among the candidates; the same seed gives the same variant.
    taken : collection of (contig, pos)
        Positions that must not be used (by the variant's VCF position or any base of its
        REF allele).

    Returns
    -------
    tuple
        ``(contig, pos, ref, alt)``, VCF style (indels carry their anchor base), normalised
        (left-aligned and trimmed, as ``bcftools norm -f``).

    Raises
    ------
    InputError
        For an unknown gene or effect, or when no such variant is found (for example
        ``splice_donor_variant`` in a gene without introns, or every candidate is taken).
    """
    if not isinstance(rng, np.random.Generator):
        raise InputError("rng must be a numpy.random.Generator (numpy.random.default_rng(seed))")
    if effect not in DESIGNABLE_EFFECTS:
        hint = (
            " (it arises only from ambiguous 'N' alleles)"
            if effect == "coding_sequence_variant"
            else ""
        )
        raise InputError(
            f"cannot design a {effect!r} variant{hint}; choose one of "
            f"{', '.join(DESIGNABLE_EFFECTS)}"
        )
    g = reference.gene(gene)
    m = _index(reference).by_id[g.transcript.transcript_id]
    if not m.coding:
        raise InputError(
            f"cannot design a variant in {gene}: its transcript is non-coding "
            f"({g.transcript.biotype}); choose a protein-coding gene"
        )
    contig = g.contig
    taken = set(taken)

    def usable(pos: int, ref: str) -> bool:
        return all((contig, x) not in taken for x in range(pos, pos + len(ref)))

    def hits(pos, ref, alt) -> bool:
        for ann in annotate(reference, contig, pos, ref, alt):
            if ann.transcript == m.t.transcript_id:
                return ann.consequence == effect
        return False

    if effect in ("frameshift_variant", "inframe_deletion", "inframe_insertion"):
        for _ in range(400):
            cand = _indel_candidate(m, effect, rng)
            if cand is None:
                break
            # Planted variants are written as bcftools norm would write them, so a normalised
            # VCF still matches the truth and the knowledge tables.
            cand = normalize(m.seq, *cand)
            if usable(cand[0], cand[1]) and hits(*cand):
                return (contig, *cand)
    else:
        # Only where the reference has bases (a sparse genome reads N deep in its introns).
        sites = [x for x in _snv_sites(m, effect) if m.seq[x - 1] != "N"]
        if len(sites) > 400:
            sites = [sites[i] for i in sorted(rng.choice(len(sites), 400, replace=False))]
        pairs = [(site, b) for site in sites for b in "ACGT" if b != m.seq[site - 1]]
        for k in rng.permutation(len(pairs)):
            site, b = pairs[int(k)]
            cand = _vcf_snv(m.seq, site, b)
            if usable(cand[0], cand[1]) and hits(*cand):
                return (contig, *cand)
    raise InputError(
        f"found no free {effect} variant in {gene} ({m.t.transcript_id}); the gene may lack "
        "the feature (e.g. a suitable codon) or all candidate positions are taken — pick "
        "another gene or effect"
    )
