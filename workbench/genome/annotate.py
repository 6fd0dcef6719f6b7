"""Variant consequences and HGVS names against the synthetic gene models.

:func:`annotate` takes a VCF-style variant (1-based ``pos``, ``REF``, ``ALT``; SNV, MNV or
indel of any length) and returns one :class:`Annotation` per overlapping transcript, or a
single ``intergenic_variant`` annotation. Consequences are Sequence Ontology terms, ranked and
given impacts as Ensembl VEP does. :func:`design_variant` searches for a variant with a wanted
consequence in a gene, to plant disease variants.

Rules (what a teacher may need to explain an output)
----------------------------------------------------
* Every variant is first normalised: left-aligned and trimmed against the reference as
  ``bcftools norm -f`` does (:func:`~workbench.genome.normalize.normalize`), then an indel's
  anchor base is dropped. Every spelling of a variant (padded, or shifted within a repeat)
  therefore gets one answer, the answer for its left-aligned spelling. An indel in a repeat
  that crosses a boundary is annotated where that spelling lies, so the same change may differ
  between a plus- and a minus-strand gene, as with VEP (without ``--shift_3prime``) or
  bcftools csq given normalised VCF.
* Splice donor / acceptor sites are the first / last two intron bases; the splice region is
  intron bases 3–8 from either end and the 1–3 exon bases next to an intron. An insertion
  hits a two-base site only when it lands between its two bases, and the splice region only
  when both its flanking bases are splice bases (site or region) and one of them is in the
  region: intron +2/+3 is ``splice_region_variant``, +8/+9 is ``intron_variant``, as bcftools
  csq and VEP say. An insertion at an exon–intron junction leaves the ``GT``/``AG`` intact
  and is treated as exonic (its inserted bases join the exon) plus ``splice_region_variant``
  (bcftools csq calls it a splice-site variant by position; the site's bases are unchanged).
* ``intron_variant`` is given for intron bases other than the two-base splice sites.
* A non-coding transcript (``lncRNA`` …, read from a GFF3/GTF) gets
  ``non_coding_transcript_exon_variant`` for its exons, the intron and splice terms as above,
  and, as VEP adds it, ``non_coding_transcript_variant`` whatever it hits; HGVS ``n.`` names
  numbered from its first base, and no protein change.
* Coding consequences come from translating the mutated coding sequence (reading into the
  3' UTR when the stop is lost), with VEP's rules: protein and stop unchanged →
  ``synonymous_variant``, or ``stop_retained_variant`` if the change touched the stop codon,
  changed the length or put a new stop codon just before the old one (never also a
  frameshift); coding part of the change not a multiple of three (for a deletion from the
  stop codon into the 3' UTR, only its coding bases count) → ``frameshift_variant`` (plus
  ``stop_gained`` when the first changed residue is a stop read within the changed codons,
  ``stop_lost`` when it is the stop); otherwise a new stop before the expected end →
  ``stop_gained``, no stop at the expected end → ``stop_lost``, else ``inframe_insertion`` /
  ``inframe_deletion`` / ``missense_variant``.
  Any change to a base of the start codon is ``start_lost`` (``p.(Met1?)``; with
  ``frameshift_variant`` too when its coding part is not a multiple of three), unless an
  ``ATG`` still stands in its place after an unchanged 5' UTR (an insertion inside the ATG
  that the next bases rebuild: a coding change, judged as above), or the
  mutated transcript still holds the whole coding sequence from its ATG (an indel in a repeat
  running from the 5' UTR into the ATG): that is ``start_retained_variant`` and
  ``5_prime_UTR_variant``.
* A variant that spans exon and intron bases always touches a splice site; it gets the
  region terms (splice site, ``coding_sequence_variant`` / UTR terms for its exonic part)
  and no protein prediction.
* HGVS ``c.``: positions on the transcript strand, intronic offsets counted from the nearer
  exon (the middle base of an odd intron counts from the upstream exon), ``c.-N`` before
  the start codon and ``c.*N`` after the stop. Deletions, duplications and insertions are
  shifted 3' (on the transcript strand) as far as the sequence allows without leaving the
  exon or intron they are in; an insertion that repeats the preceding bases is a ``dup``.
  Deleted bases are not listed (``c.10_12del``), as current HGVS recommends.
* HGVS ``p.``: predicted, so in parentheses, three-letter codes, ``Ter`` for stop: missense
  ``p.(Gly12Val)``, nonsense ``p.(Arg41Ter)``, synonymous ``p.(Leu10=)``, ``p.(Met1?)``,
  frameshift ``p.(Lys45ArgfsTer12)`` (``Ter12``: the new stop is the 12th residue counting
  the first changed one as 1; ``Ter?`` if none before the transcript ends), stop loss
  ``p.(Ter120GlnextTer5)`` (the new stop is the 5th residue after the old stop's place,
  which Gln now fills), and ``del`` / ``dup`` / ``ins`` / ``delins``
  3'-shifted at the protein level. ``None`` for non-coding consequences.

References
----------
McLaren W et al. (2016) The Ensembl Variant Effect Predictor. Genome Biol 17:122 (severity
order and impacts). den Dunnen JT et al. (2016) HGVS recommendations for the description of
sequence variants. Hum Mutat 37:564–569.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ._sequence import aa3, reverse_complement, translate
from .normalize import normalize
from .reference import Reference, Transcript

__all__ = [
    "CONSEQUENCES",
    "IMPACT",
    "Annotation",
    "annotate",
    "gene_impact",
    "most_severe",
]

#: Sequence Ontology terms this annotator emits, most severe first (VEP's order), with their
#: VEP impact.
_RANKED = (
    ("transcript_ablation", "HIGH"),
    ("splice_acceptor_variant", "HIGH"),
    ("splice_donor_variant", "HIGH"),
    ("stop_gained", "HIGH"),
    ("frameshift_variant", "HIGH"),
    ("stop_lost", "HIGH"),
    ("start_lost", "HIGH"),
    ("inframe_insertion", "MODERATE"),
    ("inframe_deletion", "MODERATE"),
    ("missense_variant", "MODERATE"),
    ("splice_region_variant", "LOW"),
    ("start_retained_variant", "LOW"),
    ("stop_retained_variant", "LOW"),
    ("synonymous_variant", "LOW"),
    ("coding_sequence_variant", "MODIFIER"),
    ("5_prime_UTR_variant", "MODIFIER"),
    ("3_prime_UTR_variant", "MODIFIER"),
    ("non_coding_transcript_exon_variant", "MODIFIER"),
    ("intron_variant", "MODIFIER"),
    ("non_coding_transcript_variant", "MODIFIER"),
    ("intergenic_variant", "MODIFIER"),
)
CONSEQUENCES: tuple[str, ...] = tuple(t for t, _ in _RANKED)
IMPACT: dict[str, str] = dict(_RANKED)
_RANK = {t: i for i, t in enumerate(CONSEQUENCES)}


def most_severe(terms) -> str:
    """The most severe of some consequence terms (VEP order)."""
    return min(terms, key=_RANK.__getitem__)


def gene_impact(reference, contig: str, pos: int, ref: str, alt: str) -> str:
    """The impact (HIGH, MODERATE, LOW, MODIFIER) of an allele's most severe consequence on
    any transcript it touches; ``MODIFIER`` outside every gene."""
    terms = [a.consequence for a in annotate(reference, contig, pos, ref, alt) if a.gene]
    return IMPACT[most_severe(terms)] if terms else "MODIFIER"


@dataclass(frozen=True)
class Annotation:
    """The effect of one variant on one transcript.

    Attributes
    ----------
    contig, pos, ref, alt
        The variant as given (VCF style).
    gene, transcript : str or None
        Gene symbol and transcript id (no version); ``None`` for an intergenic variant.
    consequence : str
        The most severe Sequence Ontology term.
    consequences : tuple of str
        Every term that applies, most severe first.
    impact : str
        ``HIGH``, ``MODERATE``, ``LOW`` or ``MODIFIER`` (of the most severe term).
    hgvs_c, hgvs_p : str or None
        ``SYNT000001.1:c.123C>T`` and ``p.(Arg41Ter)``; ``hgvs_p`` is ``None`` when the
        variant does not change the coding sequence or its effect cannot be predicted.
    exon, intron : str or None
        VEP style: ``"3/10"`` (or ``"3-4/10"``), numbered on the transcript strand.
    protein_position : int or None
        First codon affected (1 = start codon) for variants in the coding sequence.
    canonical, mane_select : bool
        Whether the transcript is its gene's canonical / MANE Select transcript (VEP's
        ``CANONICAL`` and ``MANE_SELECT``); every overlapping transcript is annotated.
    biotype : str or None
        The transcript's biotype (``protein_coding``, ``lncRNA`` …; VEP's ``BIOTYPE``).
    """

    contig: str
    pos: int
    ref: str
    alt: str
    gene: str | None
    transcript: str | None
    consequence: str
    consequences: tuple[str, ...]
    impact: str
    hgvs_c: str | None = None
    hgvs_p: str | None = None
    exon: str | None = None
    intron: str | None = None
    protein_position: int | None = None
    canonical: bool = False
    mane_select: bool = False
    biotype: str | None = None


# -- transcript models -------------------------------------------------------------------


class _Model:
    """A transcript prepared for fast coordinate mapping."""

    def __init__(self, reference: Reference, t: Transcript):
        self.t = t
        self.plus = t.strand == "+"
        self.seq = reference.sequence(t.contig)
        self.starts = [s for s, _ in t.exons]
        self.ends = [e for _, e in t.exons]
        n = self.n = len(t.exons)
        lengths = [e - s + 1 for s, e in t.exons]
        order = range(n) if self.plus else range(n - 1, -1, -1)
        self.cum = [0] * n  # transcript offset of each exon's 5' end, by genomic index
        done = 0
        for gi in order:
            self.cum[gi] = done
            done += lengths[gi]
        self.tx_len = done
        self.mrna = reference.transcript_sequence(t)
        self.coding = t.coding
        self.prefix = "c." if t.coding else "n."  # HGVS: coding or non-coding numbering
        if t.coding:
            a, b = self.tx(t.cds_start), self.tx(t.cds_end)
            self.cds_s, self.cds_e = min(a, b), max(a, b)
            self.M = self.mrna[self.cds_s - 1 :]
            self.P = translate(self.M[: self.cds_e - self.cds_s + 1])[:-1]
            self.s = len(self.P)
        else:  # n. numbering: n.1 is the transcript's first base, n.-N / n.*N outside it
            self.cds_s, self.cds_e = 1, self.tx_len
        self.introns = t.introns
        feats = []  # (start, end, kind) genomic, 1-based inclusive
        for s, e in self.introns:
            donor, acceptor = ((s, s + 1), (e - 1, e)) if self.plus else ((e - 1, e), (s, s + 1))
            feats.append((*donor, "D"))
            feats.append((*acceptor, "A"))
            feats += [(s + 2, min(e, s + 7), "R"), (max(s, e - 7), e - 2, "R")]
            feats += [(s - 3, s - 1, "R"), (e + 1, e + 3, "R")]
            if e - 2 >= s + 2:
                feats.append((s + 2, e - 2, "I"))
        self.feats = feats

    # genomic -> transcript ------------------------------------------------------------

    def exon_index(self, g: int) -> int | None:
        i = bisect_right(self.starts, g) - 1
        return i if i >= 0 and g <= self.ends[i] else None

    def tx(self, g: int, i: int | None = None) -> int:
        """1-based transcript position of exonic base ``g``."""
        if i is None:
            i = self.exon_index(g)
        if self.plus:
            return self.cum[i] + g - self.starts[i] + 1
        return self.cum[i] + self.ends[i] - g + 1

    def cstr(self, t: int) -> str:
        if t < self.cds_s:
            return f"-{self.cds_s - t}"
        if t <= self.cds_e:
            return str(t - self.cds_s + 1)
        return f"*{t - self.cds_e}"

    def cpos(self, g: int) -> str:
        """HGVS c. position of genomic base ``g`` (exonic, intronic or flanking)."""
        i = bisect_right(self.starts, g) - 1
        if i >= 0 and g <= self.ends[i]:
            return self.cstr(self.tx(g, i))
        if i < 0:
            d = self.starts[0] - g
            return self.cstr(1 - d if self.plus else self.tx_len + d)
        if i == self.n - 1:
            d = g - self.ends[-1]
            return self.cstr(self.tx_len + d if self.plus else 1 - d)
        left, right = self.ends[i], self.starts[i + 1]
        dl, dr = g - left, right - g
        if self.plus:
            up, down = (self.tx(left, i), dl), (self.tx(right, i + 1), dr)
        else:
            up, down = (self.tx(right, i + 1), dr), (self.tx(left, i), dl)
        if up[1] <= down[1]:
            return f"{self.cstr(up[0])}+{up[1]}"
        return f"{self.cstr(down[0])}-{down[1]}"

    def intron_index(self, g: int) -> int | None:
        i = bisect_right(self.starts, g) - 1
        return i if 0 <= i < self.n - 1 and self.ends[i] < g else None

    def number(self, gi: int) -> int:
        """Transcript-strand number (1-based) of the exon or intron with genomic index gi."""
        return gi + 1 if self.plus else self.n - gi

    def intron_number(self, ii: int) -> int:
        return ii + 1 if self.plus else self.n - 1 - ii


class _Index:
    """Transcripts of each contig sorted by start, for interval queries by bisection."""

    def __init__(self, reference: Reference):
        self.by_contig = {}
        for contig in reference.contigs:
            models = sorted(
                (_Model(reference, t) for t in reference.transcripts if t.contig == contig),
                key=lambda m: (m.t.start, m.t.transcript_id),
            )
            starts = [m.t.start for m in models]
            reach, top = [], 0
            for m in models:
                top = max(top, m.t.end)
                reach.append(top)
            self.by_contig[contig] = (starts, reach, models)
        self.by_id = {m.t.transcript_id: m for v in self.by_contig.values() for m in v[2]}

    def overlapping(self, contig: str, a: int, b: int) -> list[_Model]:
        starts, reach, models = self.by_contig[contig]
        out = []
        k = bisect_right(starts, b) - 1
        while k >= 0 and reach[k] >= a:
            if models[k].t.end >= a:
                out.append(models[k])
            k -= 1
        out.reverse()
        return out


def _index(reference: Reference) -> _Index:
    idx = reference._cache.get("annotate")
    if idx is None:
        idx = reference._cache["annotate"] = _Index(reference)
    return idx


# -- annotate ------------------------------------------------------------------------------

_ALLELE = frozenset("ACGTN")


def _trim(pos: int, ref: str, alt: str) -> tuple[int, str, str]:
    while ref and alt and ref[0] == alt[0]:
        ref, alt, pos = ref[1:], alt[1:], pos + 1
    while ref and alt and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    return pos, ref, alt


def annotate(reference: Reference, contig: str, pos: int, ref: str, alt: str) -> list[Annotation]:
    """Consequences of one variant on every transcript it overlaps.

    Parameters
    ----------
    reference : Reference
    contig : str
    pos : int
        1-based position of the first base of ``ref`` (VCF ``POS``).
    ref, alt : str
        VCF ``REF`` and one ``ALT`` allele (split multi-allelic records first). ``ref`` must
        match the reference sequence.

    Returns
    -------
    list of Annotation
        One per overlapping transcript (ordered by transcript start), or a single
        ``intergenic_variant`` annotation with ``gene`` and ``transcript`` ``None``.

    Raises
    ------
    InputError
        When the contig is unknown, the position is outside it, an allele is not made of
        ``ACGTN`` (symbolic and ``*`` alleles are not supported), ``ref`` differs from the
        reference or equals ``alt``.
    """
    seq = reference.sequence(contig)
    ref_u, alt_u = str(ref).upper(), str(alt).upper()
    if isinstance(pos, bool) or not isinstance(pos, int | np.integer):
        raise InputError(f"pos must be an integer (1-based), got {pos!r}")
    pos = int(pos)
    if not ref_u or not alt_u or not _ALLELE.issuperset(ref_u) or not _ALLELE.issuperset(alt_u):
        raise InputError(
            f"alleles must be non-empty strings of A, C, G, T, N; got REF={ref!r} ALT={alt!r}"
            " (split multi-allelic records and skip symbolic or '*' alleles)"
        )
    if pos < 1 or pos + len(ref_u) - 1 > len(seq):
        raise InputError(
            f"{contig}:{pos} {ref}>{alt} is outside {contig} (1..{len(seq)}); "
            "positions are 1-based as in VCF"
        )
    if seq[pos - 1 : pos - 1 + len(ref_u)] != ref_u:
        raise InputError(
            f"REF {ref!r} at {contig}:{pos} does not match the reference "
            f"({seq[pos - 1 : pos - 1 + len(ref_u)]!r}); was the VCF made on another reference?"
        )
    if ref_u == alt_u:
        raise InputError(f"REF and ALT are both {ref!r} at {contig}:{pos}; that is no variant")
    # One spelling per variant: left-aligned and trimmed (bcftools norm), then without the
    # indel's anchor base.
    p, r, a = _trim(*normalize(seq, pos, ref_u, alt_u))
    if r:
        qa, qb = p, p + len(r) - 1
    else:
        qa, qb = p - 1, p
    out = []
    for m in _index(reference).overlapping(contig, qa, qb):
        ann = _annotate_transcript(m, contig, pos, ref, alt, p, r, a)
        if ann is not None:
            out.append(ann)
    if not out:
        out.append(
            Annotation(
                contig, pos, ref, alt, None, None, "intergenic_variant",
                ("intergenic_variant",), "MODIFIER",
            )
        )  # fmt: skip
    return out


def _annotate_transcript(m: _Model, contig, pos, ref, alt, p: int, r: str, a: str):
    t = m.t
    terms: set[str] = set()
    hgvs_p = None
    prot_pos = None
    ins = not r
    if ins:
        fl, fr = p - 1, p
        if fl < t.start or fr > t.end:
            return None
        el, er = m.exon_index(fl), m.exon_index(fr)
        inside_site = False
        at = {fl: set(), fr: set()}  # the splice features each flanking base lies in
        for s, e, kind in m.feats:
            if kind in "DA" and s == fl and e == fr:
                terms.add("splice_donor_variant" if kind == "D" else "splice_acceptor_variant")
                inside_site = True
            for g in at:
                if s <= g <= e and kind in "DAR":
                    at[g].add(kind)
        # In the splice region when both flanking bases are splice bases (site or region) and
        # one is in the region: intron +2/+3 is, +8/+9 is not (bcftools csq, VEP).
        if at[fl] and at[fr] and "R" in at[fl] | at[fr]:
            terms.add("splice_region_variant")
        if (el is None) != (er is None):  # at an exon-intron junction
            terms.add("splice_region_variant")
        exonic = el is not None or er is not None
        if not exonic and not inside_site:
            terms.add("intron_variant")
        pure = exonic
        exons = sorted({i for i in (el, er) if i is not None})
        ii = m.intron_index(fl)
        introns = [ii] if not exonic and ii is not None and m.intron_index(fr) == ii else []
    else:
        b = p + len(r) - 1
        if b < t.start or p > t.end:
            return None
        if p <= t.start and b >= t.end:
            terms.add("transcript_ablation")
        for s, e, kind in m.feats:
            if s <= b and p <= e:
                if kind == "D":
                    terms.add("splice_donor_variant")
                elif kind == "A":
                    terms.add("splice_acceptor_variant")
                elif kind == "R":
                    terms.add("splice_region_variant")
                else:
                    terms.add("intron_variant")
        ia, ib = m.exon_index(p), m.exon_index(b)
        pure = ia is not None and ia == ib
        exons = [i for i, (s, e) in enumerate(t.exons) if s <= b and p <= e]
        introns = [i for i, (s, e) in enumerate(m.introns) if s <= b and p <= e]

    alt_tx = a if m.plus else reverse_complement(a)
    if pure and not m.coding:
        terms.add("non_coding_transcript_exon_variant")
    elif pure:
        if ins:
            if m.plus:
                tpos = m.tx(fl, el) + 1 if el is not None else m.tx(fr, er)
            else:
                tpos = m.tx(fr, er) + 1 if er is not None else m.tx(fl, el)
            if tpos <= m.cds_s:
                terms.add("5_prime_UTR_variant")
            elif tpos - 1 >= m.cds_e:
                terms.add("3_prime_UTR_variant")
            elif tpos <= m.cds_s + 2 and not _start_kept(m, tpos, tpos - 1, alt_tx):
                if _cds_intact(m, tpos, tpos - 1, alt_tx):
                    terms |= {"5_prime_UTR_variant", "start_retained_variant"}
                else:
                    terms.add("start_lost")
                    if len(alt_tx) % 3:  # VEP: a lost start can shift the frame too
                        terms.add("frameshift_variant")
                    hgvs_p, prot_pos = "p.(Met1?)", 1
            elif "N" in alt_tx:
                terms.add("coding_sequence_variant")
            else:
                cs = tpos - m.cds_s
                more, hgvs_p = _coding(m, cs, cs, alt_tx)
                terms |= more
                prot_pos = cs // 3 + 1
        else:
            t1, t2 = m.tx(p, ia), m.tx(b, ia)
            tf, tl = min(t1, t2), max(t1, t2)
            if tl < m.cds_s:
                terms.add("5_prime_UTR_variant")
            elif tf > m.cds_e:
                terms.add("3_prime_UTR_variant")
            else:
                if tf < m.cds_s:
                    terms.add("5_prime_UTR_variant")
                if tl > m.cds_e:
                    terms.add("3_prime_UTR_variant")
                if tf <= m.cds_s + 2 and _cds_intact(m, tf, tl, alt_tx):
                    # Equivalent to a change of the 5' UTR alone (SO: start_retained_variant).
                    terms.discard("3_prime_UTR_variant")
                    terms |= {"5_prime_UTR_variant", "start_retained_variant"}
                elif tf <= m.cds_s + 2:
                    terms.add("start_lost")
                    # VEP judges the frame on the change's coding bases alone
                    if (len(alt_tx) - (tl - max(tf, m.cds_s) + 1)) % 3:
                        terms.add("frameshift_variant")
                    hgvs_p, prot_pos = "p.(Met1?)", 1
                elif "N" in alt_tx:
                    terms.add("coding_sequence_variant")
                    prot_pos = (tf - m.cds_s) // 3 + 1
                else:
                    cs, ce = tf - m.cds_s, tl - m.cds_s + 1
                    more, hgvs_p = _coding(m, cs, ce, alt_tx)
                    terms |= more
                    prot_pos = cs // 3 + 1
    elif not ins:
        # Exonic part of a variant that also covers intron or flanking bases.
        b = p + len(r) - 1
        for i in exons:
            if not m.coding:
                terms.add("non_coding_transcript_exon_variant")
                continue
            s, e = t.exons[i]
            t1, t2 = m.tx(max(s, p), i), m.tx(min(e, b), i)
            tf, tl = min(t1, t2), max(t1, t2)
            if tf < m.cds_s:
                terms.add("5_prime_UTR_variant")
            if tl > m.cds_e:
                terms.add("3_prime_UTR_variant")
            if tf <= m.cds_e and tl >= m.cds_s:
                terms.add("coding_sequence_variant")
                if tf <= m.cds_s + 2:
                    terms.add("start_lost")
                if tl >= m.cds_e - 2:
                    terms.add("stop_lost")

    if not m.coding:  # VEP adds it to every consequence on a non-coding transcript
        terms.add("non_coding_transcript_variant")
    consequences = tuple(sorted(terms, key=_RANK.__getitem__))
    if not consequences:  # cannot happen for a transcript the variant overlaps
        consequences = ("coding_sequence_variant",)
    return Annotation(
        contig=contig,
        pos=pos,
        ref=ref,
        alt=alt,
        gene=t.gene,
        transcript=t.transcript_id,
        consequence=consequences[0],
        consequences=consequences,
        impact=IMPACT[consequences[0]],
        hgvs_c=_hgvs_c(m, p, r, a, pure),
        hgvs_p=hgvs_p,
        exon=_numbers([m.number(i) for i in exons], m.n),
        intron=_numbers([m.intron_number(i) for i in introns], m.n - 1),
        protein_position=prot_pos,
        canonical=t.canonical,
        mane_select=t.mane_select,
        biotype=t.biotype,
    )


def _cds_intact(m: _Model, tf: int, tl: int, alt_tx: str) -> bool:
    """Whether replacing mRNA bases ``tf..tl`` (1-based; ``tl = tf - 1`` inserts before
    ``tf``) by ``alt_tx`` leaves the whole coding sequence, from its ATG on, unchanged.

    A deletion or insertion in a repeat that runs from the 5' UTR into the start codon can be
    written over the ATG, yet change only the UTR: then the start is retained (Sequence
    Ontology ``start_retained_variant``), as VEP reports it, not lost.
    """
    if tf > m.cds_s + 2:
        return False
    mutated = m.mrna[: tf - 1] + alt_tx + m.mrna[tl:]
    return mutated.endswith(m.mrna[m.cds_s - 1 :])


def _start_kept(m: _Model, tf: int, tl: int, alt_tx: str) -> bool:
    """Whether inserting ``alt_tx`` before mRNA base ``tf`` (``tl = tf - 1``) leaves the 5'
    UTR and an ``ATG`` in the start codon's place (``AT[GTA]G`` reads ``ATG TAG``): VEP then
    judges the coding change, not a lost start. (A deletion that rebuilds an ATG removes
    the first codons' residues, which VEP calls ``start_lost``.)"""
    if tf < m.cds_s:
        return False
    mutated = m.mrna[: tf - 1] + alt_tx + m.mrna[tl:]
    return mutated[: m.cds_s + 2] == m.mrna[: m.cds_s + 2]


def _numbers(nums: list[int], total: int) -> str | None:
    if not nums:
        return None
    lo, hi = min(nums), max(nums)
    return f"{lo}/{total}" if lo == hi else f"{lo}-{hi}/{total}"


# -- coding consequences -------------------------------------------------------------------


#: Bases translated at a time while looking for a stop codon (a whole number of codons): a
#: frameshift usually meets one within a few dozen codons, long before the transcript ends.
_STOP_SEARCH = 3 * 64


def _translate_to_stop(seq: str) -> tuple[str, bool]:
    """The protein read from ``seq`` up to (not including) its first stop, and whether one
    was found."""
    parts = []
    for a in range(0, len(seq), _STOP_SEARCH):
        part = translate(seq[a : a + _STOP_SEARCH])
        k = part.find("*")
        if k >= 0:
            parts.append(part[:k])
            return "".join(parts), True
        parts.append(part)
    return "".join(parts), False


def _coding(m: _Model, cs: int, ce: int, alt_tx: str) -> tuple[set[str], str | None]:
    """Terms and p. for a change of M[cs:ce] (0-based in the CDS-onwards mRNA) to alt_tx.

    As VEP decides (``VariationEffect.pm``): the frame is judged on the coding part of the
    change, so a deletion from the stop codon into the 3' UTR is a frameshift when its coding
    part is not a multiple of three; a change that leaves the protein and its stop where they
    were is ``stop_retained_variant`` and nothing else (not a frameshift, and not
    ``stop_gained`` for a new stop codon inserted just before the old one).
    """
    P, s, M = m.P, m.s, m.M
    delta = len(alt_tx) - (ce - cs)
    past_stop = ce > 3 * s + 3  # the change runs on into the 3' UTR
    frame = len(alt_tx) - (3 * s + 3 - cs) if past_stop else delta
    Mm = M[:cs] + alt_tx + M[ce:]
    k0 = cs // 3
    # does the change touch the stop codon M[3s:3s+3]? An insertion touches it when it lies
    # inside it or just before it (a stop codon inserted there takes the old one's place).
    touches_stop = (cs < 3 * s + 3 and ce > 3 * s) if ce > cs else (3 * s <= cs < 3 * s + 3)
    # The changed codons k0..k1 (none for an insertion between two codons) become
    # ``window`` bases of the mutated sequence; VEP translates only their whole codons.
    k1 = (ce - 1) // 3 if ce > cs else (k0 if cs % 3 else k0 - 1)
    window = 3 * (k1 - k0 + 1) + delta
    if delta % 3 or past_stop:
        tail, found = _translate_to_stop(Mm[3 * k0 :])
        Pm = P[:k0] + tail
    else:
        k1a = k1 + delta // 3
        changed = translate(Mm[3 * k0 : 3 * (k1a + 1)])
        if "*" in changed:
            Pm, found = P[:k0] + changed[: changed.index("*")], True
        elif k1 < s:
            Pm, found = P[:k0] + changed + P[k1 + 1 :], True
        else:
            tail, found = _translate_to_stop(Mm[3 * (k1a + 1) :])
            Pm = P[:k0] + changed + tail
    A, B = P + "*", Pm + ("*" if found else "")
    # Where the proteins diverge: never before codon k0 (Pm begins with P[:k0]).
    i = min(k0, len(A), len(B))
    limit = min(len(A), len(B))
    while i < limit and A[i] == B[i]:
        i += 1
    if found and Pm == P:
        if touches_stop or delta:
            return {"stop_retained_variant"}, f"p.(Ter{s + 1}=)"
        return {"synonymous_variant"}, f"p.({aa3(A[k0])}{k0 + 1}=)"
    if frame % 3:
        terms = {"frameshift_variant"}
        if i >= len(B):
            return terms, "p.?"
        if B[i] == "*" and i < s:
            # stop_gained too when the new stop lies in the changed codons (VEP): a stop
            # read further on from bases the change did not touch leaves a frameshift
            if 3 * (i - k0 + 1) <= window:
                terms.add("stop_gained")
            return terms, f"p.({aa3(A[i])}{i + 1}Ter)"
        if i == s:
            terms.add("stop_lost")
            return terms, _extension(B, s, found)
        n = f"Ter{len(B) - i}" if found else "Ter?"
        return terms, f"p.({aa3(A[i])}{i + 1}{aa3(B[i])}fs{n})"
    if past_stop:  # an in-frame coding part, and the stop is gone
        terms = {"stop_lost"} | ({"inframe_deletion"} if i < s else set())
        return terms, _protein_change(A, B, i, s, found, "stop_lost")

    expected = s + delta // 3
    if found and len(Pm) < expected:
        term = "stop_gained"
    elif not found or len(Pm) > expected:
        term = "stop_lost"
    elif delta > 0:
        term = "inframe_insertion"
    elif delta < 0:
        term = "inframe_deletion"
    else:
        term = "missense_variant"
    return {term}, _protein_change(A, B, i, s, found, term)


def _extension(B: str, s: int, found: bool) -> str:
    """p. of a lost stop at index s: the new residues after it are numbered *1, *2, …"""
    n = f"Ter{len(B) - s - 1}" if found else "Ter?"
    return f"p.(Ter{s + 1}{aa3(B[s])}ext{n})"


def _common_tail(a: str, b: str, limit: int) -> int:
    """The length (at most ``limit``) of the longest common suffix of ``a`` and ``b``.

    A binary search over suffix comparisons, each done in C: a missense change shares all of
    a long protein's tail, too long to compare residue by residue in Python.
    """
    lo, hi = 0, max(0, limit)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid :] == b[len(b) - mid :]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _protein_change(A: str, B: str, i: int, s: int, found: bool, term: str) -> str:
    """HGVS p. for two different proteins A, B (with their stops) diverging at index i."""

    def at(k: int) -> str:  # residue k (0-based) of the reference protein, HGVS style
        return f"{aa3(A[k])}{k + 1}"

    if i >= len(B):
        return "p.?"
    if B[i] == "*" and i < s:
        return f"p.({at(i)}Ter)"
    if i == s:
        return _extension(B, s, found)
    if term == "stop_gained":
        ins = B[i:]
        last = min(len(A) - 1, i + len(ins) - 1)
        return f"p.({at(i)}_{at(last)}delins{aa3(ins)})"
    j = _common_tail(A, B, min(len(A), len(B)) - i)
    dl, ins = A[i : len(A) - j], B[i : len(B) - j]
    first, last = i, i + len(dl) - 1
    rng = at(first) if first == last else f"{at(first)}_{at(last)}"
    if dl and not ins:
        return f"p.({rng}del)"
    if ins and not dl:
        n = len(ins)
        if i >= n and B[i - n : i] == ins:
            return f"p.({at(i - n) if n == 1 else f'{at(i - n)}_{at(i - 1)}'}dup)"
        return f"p.({at(i - 1)}_{at(i)}ins{aa3(ins)})"
    if len(dl) == 1 and len(ins) == 1:
        return f"p.({at(i)}{aa3(ins)})"
    return f"p.({rng}delins{aa3(ins)})"


# -- HGVS c. -------------------------------------------------------------------------------


def _hgvs_c(m: _Model, p: int, r: str, a: str, pure: bool) -> str:
    seq = m.seq
    acc = m.t.accession
    plus = m.plus
    if r and a:
        b = p + len(r) - 1
        lo, hi = (p, b) if plus else (b, p)
        if len(r) == 1 and len(a) == 1:
            rr, aa = (r, a) if plus else (reverse_complement(r), reverse_complement(a))
            return f"{acc}:{m.prefix}{m.cpos(p)}{rr}>{aa}"
        where = m.cpos(lo) if p == b else f"{m.cpos(lo)}_{m.cpos(hi)}"
        return f"{acc}:{m.prefix}{where}delins{a if plus else reverse_complement(a)}"
    bounds = _shift_bounds(m, p, r, pure)
    if r:  # deletion of genomic [p, b]
        b = p + len(r) - 1
        if bounds:
            lo_b, hi_b = bounds
            if plus:
                while b + 1 <= hi_b and seq[p - 1] == seq[b]:
                    p, b = p + 1, b + 1
            else:
                while p - 1 >= lo_b and seq[b - 1] == seq[p - 2]:
                    p, b = p - 1, b - 1
        lo, hi = (p, b) if plus else (b, p)
        where = m.cpos(lo) if p == b else f"{m.cpos(lo)}_{m.cpos(hi)}"
        return f"{acc}:{m.prefix}{where}del"
    # insertion of a between p-1 and p
    ins = a
    if bounds:
        lo_b, hi_b = bounds
        if plus:
            while p <= hi_b and seq[p - 1] == ins[0]:
                ins, p = ins[1:] + ins[0], p + 1
        else:
            while p - 1 >= lo_b and seq[p - 2] == ins[-1]:
                ins, p = ins[-1] + ins[:-1], p - 1
    n = len(ins)
    if plus:
        dup = (p - n, p - 1)
        is_dup = p - n >= (bounds[0] if bounds else 1) and seq[p - n - 1 : p - 1] == ins
    else:
        dup = (p + n - 1, p)
        is_dup = p + n - 1 <= (bounds[1] if bounds else len(seq)) and seq[p - 1 : p + n - 1] == ins
    if is_dup:
        where = m.cpos(dup[0]) if n == 1 else f"{m.cpos(dup[0])}_{m.cpos(dup[1])}"
        return f"{acc}:{m.prefix}{where}dup"
    left, right = (p - 1, p) if plus else (p, p - 1)
    inserted = ins if plus else reverse_complement(ins)
    return f"{acc}:{m.prefix}{m.cpos(left)}_{m.cpos(right)}ins{inserted}"


def _shift_bounds(m: _Model, p: int, r: str, pure: bool) -> tuple[int, int] | None:
    """The exon or intron an indel may be 3'-shifted within, or None (no shifting)."""
    t = m.t
    if r:
        b = p + len(r) - 1
        if pure:
            i = m.exon_index(p)
            return t.exons[i]
        ii = m.intron_index(p)
        if ii is not None and m.intron_index(b) == ii:
            return m.introns[ii]
        return None
    fl, fr = p - 1, p
    if pure:
        i = m.exon_index(fl)
        if i is None:
            i = m.exon_index(fr)
        return t.exons[i]
    ii = m.intron_index(fl)
    if ii is not None and m.intron_index(fr) == ii:
        return m.introns[ii]
    return None
