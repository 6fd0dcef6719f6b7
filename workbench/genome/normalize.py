"""One spelling per variant: left-align and trim against the reference, as ``bcftools norm -f``.

A deletion or insertion inside a repeat can be written at any position of the repeat, and a
VCF record may carry extra padding bases on either side. :func:`normalize` gives the one
spelling every tool agrees on: alleles as short as possible (no shared trailing base, and a
shared leading base only as the anchor of an indel) and the variant shifted as far left as the
reference allows (Tan, Abecasis & Kang 2015, Algorithm 1; what ``bcftools norm -f`` and
``vt normalize`` do). The generator writes every variant this way, the annotator normalises
every input before annotating it, and knowledge tables are keyed on the normalised form, so a
VCF normalised by ``bcftools norm`` still finds its assertions.

Shifting one record at a time in Python is far cheaper than a round trip through bcftools per
record inside the annotator; ``tests/test_genome_normalize.py`` checks this implementation
against ``bcftools norm`` (pysam's) on generated repeats.

References
----------
Tan A, Abecasis GR, Kang HM (2015) Unified representation of genetic variants.
Bioinformatics 31:2202–2204.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import InputError
from .sparse import SparseSequence

__all__ = ["normalize"]


def normalize(
    fetch: str | SparseSequence | Callable[[int, int], str], pos: int, ref: str, alt: str
) -> tuple[int, str, str]:
    """The left-aligned, parsimonious spelling of a biallelic variant.

    Parameters
    ----------
    fetch
        The contig's sequence (a string or a
        :class:`~workbench.genome.sparse.SparseSequence`), or a function
        ``fetch(start0, end0)`` returning the bases ``[start0, end0)`` of the contig
        (0-based, end exclusive), e.g.
        ``lambda a, b: reference.fetch(contig, a, b)``.
    pos
        1-based position of the first base of ``ref``.
    ref, alt
        The alleles, upper case; ``ref`` must match the reference at ``pos``.

    Returns
    -------
    tuple of (int, str, str)
        ``(pos, ref, alt)``. A substitution (SNV or MNV) keeps only its changed span; an
        indel keeps one anchor base before it, as VCF requires. An allele equal to the
        reference comes back unchanged.

    Raises
    ------
    InputError
        When ``ref`` does not match the reference at ``pos``, or an allele is empty.
    """
    get = fetch if callable(fetch) else (lambda a, b: fetch[a:b])
    ref, alt = ref.upper(), alt.upper()
    if not ref or not alt:
        raise InputError(f"alleles must not be empty (VCF anchors indels), got {ref!r}>{alt!r}")
    if pos < 1:
        raise InputError(f"positions are 1-based, got {pos}")
    found = get(pos - 1, pos - 1 + len(ref)).upper()
    if len(found) < len(ref):
        raise InputError(
            f"REF {ref} at {pos} runs beyond the end of the contig; check the contig and the "
            "reference build"
        )
    if found != ref:
        raise InputError(
            f"REF {ref} does not match the reference at {pos} ({found or 'beyond the end'}); "
            "check the contig and the reference build"
        )
    if ref == alt:
        return pos, ref, alt
    # Algorithm 1: drop a shared last base; when an allele empties, extend both to the left.
    while True:
        if ref and alt and ref[-1] == alt[-1]:
            ref, alt = ref[:-1], alt[:-1]
        elif (not ref or not alt) and pos > 1:
            pos -= 1
            base = get(pos - 1, pos).upper()
            ref, alt = base + ref, base + alt
        else:
            break
    # Then drop shared first bases while both alleles keep at least one.
    while len(ref) > 1 and len(alt) > 1 and ref[0] == alt[0]:
        ref, alt, pos = ref[1:], alt[1:], pos + 1
    if not ref or not alt:  # an indel at the very start of the contig: anchor on the right
        base = get(pos - 1 + len(ref), pos + len(ref)).upper()
        ref, alt = ref + base, alt + base
    return pos, ref, alt
