"""A deliberately simple, slow reference implementation of the consequence annotator.

It shares no code with :mod:`workbench.genome.annotate` except the codon table and
:func:`~workbench.genome.normalize.normalize` (checked against ``bcftools norm`` on its own):
it lists every position of a transcript explicitly, applies the variant to the genome, splices the
mutated exons by filtering positions, translates whole proteins and compares them. The test
suite checks the fast annotator against it on thousands of random variants. Only the most
severe consequence is computed (plus ``c.`` / ``p.`` names for single-base substitutions).
"""

from __future__ import annotations

from itertools import pairwise

from ._sequence import AA3, CODON_TABLE
from .normalize import normalize
from .reference import Reference, Transcript

__all__ = ["bruteforce_effect"]

_ORDER = (
    "transcript_ablation",
    "splice_acceptor_variant",
    "splice_donor_variant",
    "stop_gained",
    "frameshift_variant",
    "stop_lost",
    "start_lost",
    "inframe_insertion",
    "inframe_deletion",
    "missense_variant",
    "splice_region_variant",
    "start_retained_variant",
    "stop_retained_variant",
    "synonymous_variant",
    "coding_sequence_variant",
    "5_prime_UTR_variant",
    "3_prime_UTR_variant",
    "non_coding_transcript_exon_variant",
    "intron_variant",
    "non_coding_transcript_variant",
)
_PAIRS = {"A": "T", "C": "G", "G": "C", "T": "A", "N": "N"}


def _rc(s: str) -> str:
    return "".join(_PAIRS[b] for b in reversed(s))


def _protein(dna: str) -> tuple[str, bool]:
    """Translate from the first base until the first stop; (protein, stop found)."""
    out = ""
    for i in range(0, len(dna) - 2, 3):
        aa = CODON_TABLE.get(dna[i : i + 3], "X")
        if aa == "*":
            return out, True
        out += aa
    return out, False


def bruteforce_effect(reference: Reference, t: Transcript, pos: int, ref: str, alt: str):
    """Most severe consequence of a VCF-style variant on ``t`` and, for a single-base
    substitution, its ``c.`` and ``p.`` names. ``None`` when the variant misses ``t``.

    Returns
    -------
    dict or None
        ``{"consequence": str, "hgvs_c": str | None, "hgvs_p": str | None}``
    """
    seq = reference.sequence(t.contig)
    plus = t.strand == "+"
    # one spelling: left-aligned, then without shared leading and trailing bases
    pos, ref, alt = normalize(seq, pos, ref, alt)
    while ref and alt and ref[0] == alt[0]:
        ref, alt, pos = ref[1:], alt[1:], pos + 1
    while ref and alt and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    insertion = ref == ""
    changed = set(range(pos, pos + len(ref)))
    flanks = (pos - 1, pos)

    exon_pos = [g for s, e in t.exons for g in range(s, e + 1)]
    tx_pos = exon_pos if plus else exon_pos[::-1]
    exonic = set(exon_pos)
    coding = t.cds_start is not None
    # a non-coding transcript is numbered n.1 from its first base, as if all of it were "CDS"
    lo, hi = (t.cds_start, t.cds_end) if coding else (t.start, t.end)
    cds_set = {g for g in exon_pos if lo <= g <= hi}
    cds_tx = [g for g in tx_pos if g in cds_set]
    start_codon, stop_codon = set(cds_tx[:3]), set(cds_tx[-3:])
    span = set(range(t.start, t.end + 1))
    intronic = span - exonic
    donor, acceptor, region = set(), set(), set()
    for (_, e1), (s2, _) in pairwise(t.exons):
        intron = list(range(e1 + 1, s2))
        if not plus:
            intron.reverse()
        donor |= set(intron[:2])
        acceptor |= set(intron[-2:])
        region |= set(intron[2:8]) | set(intron[-8:-2])
        region |= {e1 - 2, e1 - 1, e1, s2, s2 + 1, s2 + 2}
    deep = intronic - donor - acceptor

    if insertion:
        if not (flanks[0] in span and flanks[1] in span):
            return None
    elif not changed & span:
        return None

    terms = set()
    if insertion:
        inside = set(flanks) <= donor or set(flanks) <= acceptor
        if set(flanks) <= donor:
            terms.add("splice_donor_variant")
        if set(flanks) <= acceptor:
            terms.add("splice_acceptor_variant")
        # both flanks splice bases (site or region) and one in the region, or a junction
        splice = donor | acceptor | region
        if (set(flanks) <= splice and set(flanks) & region) or len(set(flanks) & exonic) == 1:
            terms.add("splice_region_variant")
        if set(flanks) <= intronic and not inside:
            terms.add("intron_variant")
        pure = bool(set(flanks) & exonic)
    else:
        if span <= changed:
            terms.add("transcript_ablation")
        if changed & donor:
            terms.add("splice_donor_variant")
        if changed & acceptor:
            terms.add("splice_acceptor_variant")
        if changed & region:
            terms.add("splice_region_variant")
        if changed & deep:
            terms.add("intron_variant")
        pure = changed <= exonic

    # whole spliced transcript before and after the change (genomic order, then oriented)
    orig = "".join(seq[g - 1] for g in exon_pos)
    last = pos + len(ref)
    mut = (
        "".join(seq[g - 1] for g in exon_pos if g < pos)
        + alt
        + "".join(seq[g - 1] for g in exon_pos if g >= last)
    )
    if not plus:
        orig, mut = _rc(orig), _rc(mut)
    ci = tx_pos.index(cds_tx[0])  # mRNA index of c.1
    ce = tx_pos.index(cds_tx[-1])  # mRNA index of the stop codon's last base
    hgvs_p = None

    if pure and not coding:
        terms.add("non_coding_transcript_exon_variant")
    elif pure:
        if insertion:
            # index of the mRNA base that follows the inserted bases
            after = (
                sum(1 for g in exon_pos if g < pos)
                if plus
                else sum(1 for g in exon_pos if g >= pos)
            )
            before_cds, after_cds = after <= ci, after > ce
            hits_start = after in (ci + 1, ci + 2)
            hits_stop = after in (ce - 1, ce)
        else:
            idx = [tx_pos.index(g) for g in changed]
            before_cds, after_cds = max(idx) < ci, min(idx) > ce
            hits_start = bool(changed & start_codon)
            hits_stop = bool(changed & stop_codon)
        # an insertion inside the ATG that leaves the 5' UTR and an ATG in place changes the CDS
        start_kept = insertion and hits_start and mut[: ci + 3] == orig[: ci + 3]
        if before_cds:
            terms.add("5_prime_UTR_variant")
        elif after_cds:
            terms.add("3_prime_UTR_variant")
        elif hits_start and not start_kept and mut.endswith(orig[ci:]):
            terms.add("start_retained_variant")  # only the 5' UTR changed, in effect
        elif hits_start and not start_kept:
            terms.add("start_lost")
            if (len(alt) - len(changed & cds_set)) % 3:
                terms.add("frameshift_variant")
            hgvs_p = "p.(Met1?)"
        else:
            P, _ = _protein(orig[ci:])
            Pm, found = _protein(mut[ci:])
            delta = len(mut) - len(orig)
            # the frame counts only the coding bases a deletion into the 3' UTR removes
            utr3 = {g for g in changed if tx_pos.index(g) > ce} if not insertion else set()
            frame = delta + len(utr3)
            A, B = P + "*", Pm + ("*" if found else "")
            i = 0
            while i < min(len(A), len(B)) and A[i] == B[i]:
                i += 1
            before_stop = insertion and after == ce - 2  # between the last codon and the stop
            if found and Pm == P:
                retained = hits_stop or before_stop or delta
                terms.add("stop_retained_variant" if retained else "synonymous_variant")
            elif frame % 3:
                # the codons the change touches, and how many bases they become
                if insertion:
                    point = after - ci  # CDS index of the base after the inserted ones
                    first, last = point // 3, (point - 1) // 3 if point % 3 == 0 else point // 3
                else:
                    idx = sorted(tx_pos.index(g) - ci for g in changed)
                    first, last = idx[0] // 3, idx[-1] // 3
                bases = 3 * (last - first + 1) + delta
                stop_inside = i < len(B) and B[i] == "*" and 3 * (i - first + 1) <= bases
                if stop_inside and i < len(P):
                    terms.add("stop_gained")
                else:
                    terms.add("frameshift_variant")
            elif utr3:
                terms.add("stop_lost")
            else:
                expected = len(P) + delta // 3
                if found and len(Pm) < expected:
                    terms.add("stop_gained")
                elif not found or len(Pm) > expected:
                    terms.add("stop_lost")
                elif delta > 0:
                    terms.add("inframe_insertion")
                elif delta < 0:
                    terms.add("inframe_deletion")
                else:
                    terms.add("missense_variant")
                if len(ref) == 1 and len(alt) == 1:
                    codon = (tx_pos.index(pos) - ci) // 3
                    if A == B:
                        hgvs_p = f"p.({AA3[A[codon]]}{codon + 1}=)"
                    elif B[i] == "*":
                        hgvs_p = f"p.({AA3[A[i]]}{i + 1}Ter)"
                    elif i == len(P):
                        n = str(len(B) - i - 1) if found else "?"
                        hgvs_p = f"p.(Ter{i + 1}{AA3[B[i]]}extTer{n})"
                    else:
                        hgvs_p = f"p.({AA3[A[i]]}{i + 1}{AA3[B[i]]})"
    elif not insertion and not coding:
        if changed & exonic:
            terms.add("non_coding_transcript_exon_variant")
    elif not insertion:
        part = changed & exonic
        if part & cds_set:
            terms.add("coding_sequence_variant")
        if part & start_codon:
            terms.add("start_lost")
        if part & stop_codon:
            terms.add("stop_lost")
        if part - cds_set:
            idx = [tx_pos.index(g) for g in part - cds_set]
            if min(idx) < ci:
                terms.add("5_prime_UTR_variant")
            if max(idx) > ce:
                terms.add("3_prime_UTR_variant")

    if not coding:
        terms.add("non_coding_transcript_variant")

    hgvs_c = None
    if len(ref) == 1 and len(alt) == 1:

        def number(k: int) -> str:  # mRNA index -> c. number
            if k < ci:
                return f"-{ci - k}"
            if k <= ce:
                return str(k - ci + 1)
            return f"*{k - ce}"

        if pos in exonic:
            where = number(tx_pos.index(pos))
        else:
            step = 1 if plus else -1  # transcript 5'->3' direction in genomic steps
            up = pos - step
            while up not in exonic:
                up -= step
            down = pos + step
            while down not in exonic:
                down += step
            d_up, d_down = abs(pos - up), abs(down - pos)
            if d_up <= d_down:
                where = f"{number(tx_pos.index(up))}+{d_up}"
            else:
                where = f"{number(tx_pos.index(down))}-{d_down}"
        r_tx, a_tx = (ref, alt) if plus else (_rc(ref), _rc(alt))
        hgvs_c = f"{t.accession}:{'c' if coding else 'n'}.{where}{r_tx}>{a_tx}"

    worst = next(term for term in _ORDER if term in terms)
    return {"consequence": worst, "hgvs_c": hgvs_c, "hgvs_p": hgvs_p}
