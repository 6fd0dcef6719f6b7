"""Consequences and HGVS names: a hand-checked gallery, a brute-force cross-check, design."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest

from workbench.errors import InputError
from workbench.genome import (
    CONSEQUENCES,
    DESIGNABLE_EFFECTS,
    IMPACT,
    Gene,
    Reference,
    Transcript,
    annotate,
    build_reference,
    design_variant,
    reverse_complement,
)
from workbench.genome._bruteforce import bruteforce_effect

# -- a tiny hand-made gene -------------------------------------------------------------------
#
#   1-20 intergenic | 21-30 5'UTR (c.-10..c.-1) | 31-50 CDS c.1..c.20   (exon 1)
#   51-80 intron 1 (GTAAGT ... TTTTCCTTTCAG)
#   81-110 CDS c.21..c.50 (exon 2)
#   111-140 intron 2
#   141-150 CDS c.51..c.60 | 151-170 3'UTR c.*1..c.*20 (exon 3) | 171-200 intergenic
#
# CDS: ATG GCT AAA TGG CTG GGT TCT GAA CGT ATT CCT AAG GAT TTC CAG GCC ACC GTT TGC TAA
#      M   A   K   W   L   G   S   E   R   I   P   K   D   F   Q   A   T   V   C   *
# 3'UTR: CTG GAT TAG CC... so a lost stop reads on Leu/Gln, Asp, then stops.
_PARTS = (
    "TTGACCTAGGCATCGATCGA",
    "GAGCCTCACC",
    "ATGGCTAAATGGCTGGGTTC",
    "GTAAGTACTGACCTGATCTTTTCCTTTCAG",
    "TGAACGTATTCCTAAGGATTTCCAGGCCAC",
    "GTGAGTCCATGACTTAGGCTTCCTCTTTAG",
    "CGTTTGCTAA",
    "CTGGATTAGCCAATAAAGCT",
    "GGATCCAAGCTTGAATTCCTGCAGTCGACA",
)
SEQ = "".join(_PARTS)
L = len(SEQ)
ACC = "SYNT000001.1"


def _hand_reference(strand: str) -> Reference:
    exons = ((21, 50), (81, 110), (141, 170))
    cds = (31, 150)
    seq = SEQ
    if strand == "-":  # the mirror image: same transcript, read from the other strand
        seq = reverse_complement(SEQ)
        exons = tuple((L + 1 - e, L + 1 - s) for s, e in reversed(exons))
        cds = (L + 1 - cds[1], L + 1 - cds[0])
    tx = Transcript("SYNT000001", "TOY-T1", "SYNG000001", "TOY", "chrT", strand, exons, *cds)
    gene = Gene("SYNG000001", "TOY", "chrT", strand, exons[0][0], exons[-1][1], (tx,))
    return Reference({"chrT": seq}, [gene])


def _mirror(pos: int, ref: str, alt: str) -> tuple[int, str, str]:
    """The same change on the reverse-complemented contig, VCF style (indels left-anchored)."""
    if len(ref) == len(alt):
        return L + 1 - (pos + len(ref) - 1), reverse_complement(ref), reverse_complement(alt)
    anchor = L + 1 - (pos + len(ref) - 1) - 1
    base = reverse_complement(SEQ)[anchor - 1]
    return anchor, base + reverse_complement(ref[1:]), base + reverse_complement(alt[1:])


# (pos, ref, alt) on the plus-strand layout -> consequence, all terms, c., p.
GALLERY = [
    # start codon, first and last CDS base
    ((31, "A", "G"), "start_lost", None, "c.1A>G", "p.(Met1?)"),
    ((33, "G", "A"), "start_lost", None, "c.3G>A", "p.(Met1?)"),
    # an insertion inside the ATG that the next base rebuilds (AT[GTA]G reads ATG TAG): the
    # start stays and a stop follows it (VEP)
    ((32, "T", "TGTA"), "stop_gained", ("stop_gained",), "c.3_4insTAG", "p.(Ala2Ter)"),
    ((34, "G", "T"), "missense_variant", None, "c.4G>T", "p.(Ala2Ser)"),
    ((36, "T", "C"), "synonymous_variant", None, "c.6T>C", "p.(Ala2=)"),
    ((37, "A", "T"), "stop_gained", None, "c.7A>T", "p.(Lys3Ter)"),
    ((148, "T", "C"), "stop_lost", None, "c.58T>C", "p.(Ter20GlnextTer3)"),
    ((149, "A", "G"), "stop_retained_variant", None, "c.59A>G", "p.(Ter20=)"),
    ((150, "A", "C"), "stop_lost", None, "c.60A>C", "p.(Ter20TyrextTer3)"),
    # exon 1 end: exon side of the splice region is its last three bases
    ((47, "G", "A"), "missense_variant", ("missense_variant",), "c.17G>A", "p.(Gly6Asp)"),
    (
        (48, "T", "C"),
        "splice_region_variant",
        ("splice_region_variant", "synonymous_variant"),
        "c.18T>C",
        "p.(Gly6=)",
    ),
    (
        (50, "C", "A"),
        "missense_variant",
        ("missense_variant", "splice_region_variant"),
        "c.20C>A",
        "p.(Ser7Tyr)",
    ),
    # intron 1: +1, +2, +3, +8, +9, the middle, -9, -8, -2, -1
    ((51, "G", "A"), "splice_donor_variant", ("splice_donor_variant",), "c.20+1G>A", None),
    ((52, "T", "C"), "splice_donor_variant", None, "c.20+2T>C", None),
    (
        (53, "A", "G"),
        "splice_region_variant",
        ("splice_region_variant", "intron_variant"),
        "c.20+3A>G",
        None,
    ),
    ((58, "C", "G"), "splice_region_variant", None, "c.20+8C>G", None),
    ((59, "T", "A"), "intron_variant", ("intron_variant",), "c.20+9T>A", None),
    ((65, "G", "A"), "intron_variant", None, "c.20+15G>A", None),
    ((66, "A", "G"), "intron_variant", None, "c.21-15A>G", None),
    ((72, "T", "C"), "intron_variant", ("intron_variant",), "c.21-9T>C", None),
    ((73, "C", "T"), "splice_region_variant", None, "c.21-8C>T", None),
    ((79, "A", "G"), "splice_acceptor_variant", None, "c.21-2A>G", None),
    ((80, "G", "C"), "splice_acceptor_variant", None, "c.21-1G>C", None),
    # exon 2 start and exon 3 start (synonymous, so the splice region ranks first)
    ((81, "T", "C"), "splice_region_variant", None, "c.21T>C", "p.(Ser7=)"),
    ((141, "C", "T"), "splice_region_variant", None, "c.51C>T", "p.(Thr17=)"),
    # UTRs
    ((21, "G", "A"), "5_prime_UTR_variant", None, "c.-10G>A", None),
    ((30, "C", "T"), "5_prime_UTR_variant", None, "c.-1C>T", None),
    ((151, "C", "T"), "3_prime_UTR_variant", None, "c.*1C>T", None),
    ((170, "T", "G"), "3_prime_UTR_variant", None, "c.*20T>G", None),
    # indels: 3'-shifted in the poly-A of codon 3, dup, in-frame, frameshift
    ((36, "TA", "T"), "frameshift_variant", None, "c.9del", "p.(Lys3AsnfsTer23)"),
    ((36, "T", "TA"), "frameshift_variant", None, "c.9dup", "p.(Trp4MetfsTer5)"),
    ((39, "ATGG", "A"), "inframe_deletion", None, "c.10_12del", "p.(Trp4del)"),
    ((36, "T", "TGCT"), "inframe_insertion", None, "c.4_6dup", "p.(Ala2dup)"),
    ((34, "GC", "TT"), "missense_variant", None, "c.4_5delinsTT", "p.(Ala2Phe)"),
    ((147, "CTAA", "C"), "stop_lost", None, "c.58_60del", "p.(Ter20LeuextTer2)"),
    # VEP's stop rules: a kept stop is stop_retained only (not also a frameshift), a stop
    # codon inserted just before the stop keeps it, and the frame of a deletion from the
    # stop codon into the 3' UTR is set by its coding bases (here 2 of 3)
    (
        (148, "T", "TGA"),
        "stop_retained_variant",
        ("stop_retained_variant",),
        "c.58_59insGA",
        "p.(Ter20=)",
    ),
    (
        (147, "C", "CTAG"),
        "stop_retained_variant",
        ("stop_retained_variant",),
        "c.59_60insGTA",
        "p.(Ter20=)",
    ),
    (
        (148, "TAAC", "T"),
        "frameshift_variant",
        ("frameshift_variant", "stop_lost", "3_prime_UTR_variant"),
        "c.59_*1del",
        "p.(Ter20LeuextTer2)",
    ),
    # indels at the exon 1 / intron 1 junction (one across it: see the test below)
    (  # the inserted A joins exon 1 and turns codon 8 (GAA) into TGA: a frameshift whose
        # first new residue is a stop, but outside the changed codon 7 (TCT > TCAT), so not
        # stop_gained, as VEP says; the stop of the next row lies inside its changed codon 4
        (50, "C", "CA"),
        "frameshift_variant",
        ("frameshift_variant", "splice_region_variant"),
        "c.20_20+1insA",
        "p.(Glu8Ter)",
    ),
    (
        (40, "T", "TAA"),
        "stop_gained",
        ("stop_gained", "frameshift_variant"),
        "c.10_11insAA",
        "p.(Trp4Ter)",
    ),
    ((51, "G", "GA"), "splice_donor_variant", None, "c.20+1_20+2insA", None),
    # insertions just outside the CDS leave the start / stop codon intact
    ((30, "C", "CG"), "5_prime_UTR_variant", None, "c.-1_1insG", None),
    ((150, "A", "AG"), "3_prime_UTR_variant", None, "c.60_*1insG", None),
]


@pytest.mark.parametrize("strand", ["+", "-"])
@pytest.mark.parametrize(
    ("variant", "consequence", "terms", "hgvs_c", "hgvs_p"),
    GALLERY,
    ids=[f"{v[0]}:{v[1]}>{v[2]}" for v, *_ in GALLERY],
)
def test_gallery_of_hand_checked_variants(strand, variant, consequence, terms, hgvs_c, hgvs_p):
    ref = _hand_reference(strand)
    pos, r, a = variant if strand == "+" else _mirror(*variant)
    (ann,) = annotate(ref, "chrT", pos, r, a)
    assert ann.gene == "TOY" and ann.transcript == "SYNT000001"
    assert ann.consequence == consequence
    assert ann.consequences[0] == consequence
    if terms is not None:
        assert ann.consequences == terms
    assert ann.impact == IMPACT[consequence]
    assert ann.hgvs_c == f"{ACC}:{hgvs_c}"
    if hgvs_p is not None or consequence in ("splice_donor_variant", "intron_variant"):
        assert ann.hgvs_p == hgvs_p


@pytest.mark.parametrize("strand", ["+", "-"])
def test_exon_intron_numbers_and_protein_position(strand):
    ref = _hand_reference(strand)
    m = (lambda *v: v) if strand == "+" else _mirror
    (a,) = annotate(ref, "chrT", *m(37, "A", "T"))
    assert (a.exon, a.intron, a.protein_position) == ("1/3", None, 3)
    (a,) = annotate(ref, "chrT", *m(59, "T", "A"))
    assert (a.exon, a.intron, a.protein_position) == (None, "1/2", None)
    base = SEQ[124]
    (a,) = annotate(ref, "chrT", *m(125, base, "A" if base != "A" else "C"))
    assert a.intron == "2/2"
    (a,) = annotate(ref, "chrT", *m(48, "TTCGT", "T"))
    # Normalised, the plus-strand spelling lies in exon 1 (see the test below).
    assert (a.exon, a.intron) == (("1/3", None) if strand == "+" else ("1/3", "1/2"))


@pytest.mark.parametrize(
    ("strand", "terms", "hgvs_c", "hgvs_p"),
    [
        # GGG[TTCGT]AAG → GGGTAAG: left-aligned (47 GTTC del), exon 1 loses its last four bases
        # and the donor GT after them is kept: a frameshift in the splice region.
        ("+", ("frameshift_variant", "splice_region_variant"), "c.17_20del", "p.(Gly6ValfsTer19)"),
        # On the minus strand, genomic left is transcript 3': the same change, normalised,
        # still deletes the donor. VEP (without --shift_3prime) and bcftools csq, given
        # normalised VCF, answer the same way.
        ("-", ("splice_donor_variant", "splice_region_variant", "coding_sequence_variant"),
         "c.19_20+2del", None),
    ],
)  # fmt: skip
def test_an_indel_across_a_junction_is_annotated_where_normalisation_puts_it(
    strand, terms, hgvs_c, hgvs_p
):
    ref = _hand_reference(strand)
    seq = ref.sequence("chrT")
    m = (lambda *v: v) if strand == "+" else _mirror
    pos, r, a = m(48, "TTCGT", "T")
    # Every spelling of the same deletion: shifted within the repeat, or padded.
    spellings = {(pos, r, a), (pos - 1, seq[pos - 2] + r, seq[pos - 2] + a),
                 (pos, r + seq[pos + len(r) - 1], a + seq[pos + len(r) - 1])}  # fmt: skip
    seen = set()
    for spelling in spellings:
        (ann,) = annotate(ref, "chrT", *spelling)
        seen.add((ann.consequences, ann.hgvs_c, ann.hgvs_p))
    assert seen == {(terms, f"{ACC}:{hgvs_c}", hgvs_p)}


def test_intergenic_variant_gets_one_annotation_without_gene():
    (a,) = annotate(_hand_reference("+"), "chrT", 10, "G", "A")
    assert a.consequence == "intergenic_variant" and a.consequences == ("intergenic_variant",)
    assert a.gene is None and a.transcript is None and a.hgvs_c is None
    assert a.impact == "MODIFIER"


def test_a_vcf_anchor_base_is_not_a_change():
    ref = _hand_reference("+")
    (a,) = annotate(ref, "chrT", 37, "AAAT", "AAT")  # 3 As -> 2: the same deletion as c.9del
    assert a.hgvs_c == f"{ACC}:c.9del" and a.consequence == "frameshift_variant"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("chrX", 10, "G", "A"), "unknown contig"),
        (("chrT", 10, "C", "A"), "does not match"),
        (("chrT", 0, "T", "A"), "outside"),
        (("chrT", 10, "G", "<DEL>"), "alleles"),
        (("chrT", 10, "G", "*"), "alleles"),
        (("chrT", 10, "G", "G"), "no variant"),
    ],
)
def test_bad_variants_are_refused_with_a_reason(args, message):
    with pytest.raises(InputError, match=message):
        annotate(_hand_reference("+"), *args)


def test_severity_table_matches_vep_order():
    assert CONSEQUENCES.index("splice_acceptor_variant") < CONSEQUENCES.index("stop_gained")
    assert CONSEQUENCES.index("stop_gained") < CONSEQUENCES.index("frameshift_variant")
    assert CONSEQUENCES.index("missense_variant") < CONSEQUENCES.index("splice_region_variant")
    assert CONSEQUENCES.index("splice_region_variant") < CONSEQUENCES.index("synonymous_variant")
    assert CONSEQUENCES[-1] == "intergenic_variant"
    assert [IMPACT[t] for t in CONSEQUENCES] == sorted(
        (IMPACT[t] for t in CONSEQUENCES), key=["HIGH", "MODERATE", "LOW", "MODIFIER"].index
    )


# -- random variants against the brute-force reference ---------------------------------------


@pytest.fixture(scope="module")
def reference():
    """20 genes; in the last three every transcript is made non-coding (a lncRNA)."""
    genes = [(f"GENE{i}", "chr1" if i < 12 else "chr2") for i in range(20)]
    coding = build_reference(
        contigs={"chr1": 150_000, "chr2": 120_000}, genes=genes, rng=np.random.default_rng(3)
    )
    lnc = {"GENE17", "GENE18", "GENE19"}
    genes = [
        replace(g, transcripts=tuple(
            replace(t, cds_start=None, cds_end=None, biotype="lncRNA") for t in g.transcripts
        )) if g.symbol in lnc else g
        for g in coding.genes
    ]  # fmt: skip
    return Reference({c: coding.sequence(c) for c in coding.contigs}, genes)


def _random_variant(t: Transcript, seq: str, rng: np.random.Generator):
    """An SNV or a 1-6 bp deletion / insertion in an exon, near a junction, in an intron or
    around the start or stop codon."""
    where = rng.choice(4, p=[0.3, 0.4, 0.15, 0.15])
    if where == 0:
        s, e = t.exons[rng.integers(len(t.exons))]
        g = int(rng.integers(s, e + 1))
    elif where == 1:
        s, e = t.exons[rng.integers(len(t.exons))]
        g = int((s if rng.random() < 0.5 else e) + rng.integers(-10, 11))
    elif where == 2:
        s, e = t.introns[rng.integers(len(t.introns))]
        g = int(rng.integers(s, e + 1))
    else:
        ends = (t.cds_start, t.cds_end) if t.coding else (t.start, t.end)
        g = int(ends[rng.random() < 0.5] + rng.integers(-5, 6))
    u = rng.random()
    if u < 0.5:
        b = seq[g - 1]
        return g, b, "ACGT".replace(b, "")[rng.integers(3)]
    n = int(rng.integers(1, 7))
    if u < 0.75:
        return g - 1, seq[g - 2 : g + n - 1], seq[g - 2]
    # half the insertions copy the following bases, to exercise dup and 3' shifting
    ins = seq[g - 1 : g - 1 + n] if rng.random() < 0.5 else "".join(rng.choice(list("ACGT"), n))
    return g - 1, seq[g - 2], seq[g - 2] + ins


def test_annotator_agrees_with_brute_force_on_random_variants(reference):
    rng = np.random.default_rng(11)
    seen: dict[str, int] = {}
    strands = set()
    checked = 0
    while checked < 2500:
        gene = reference.genes[int(rng.integers(len(reference.genes)))]
        t = gene.transcript
        variant = _random_variant(t, reference.sequence(t.contig), rng)
        expect = bruteforce_effect(reference, t, *variant)
        got = [
            a for a in annotate(reference, t.contig, *variant) if a.transcript == t.transcript_id
        ]
        if expect is None:
            assert got == [], variant
            continue
        (a,) = got
        assert a.consequence == expect["consequence"], (t.strand, variant, a, expect)
        assert ("non_coding_transcript_variant" in a.consequences) == (not t.coding), a
        if expect["hgvs_c"] is not None:
            assert a.hgvs_c == expect["hgvs_c"], (variant, a)
        if expect["hgvs_p"] is not None:
            assert a.hgvs_p == expect["hgvs_p"], (variant, a)
        seen[a.consequence] = seen.get(a.consequence, 0) + 1
        strands.add(t.strand)
        checked += 1
    assert strands == {"+", "-"}
    # the sample reaches every class the brute force can tell apart
    # (start_retained_variant needs an indel in a repeat that runs into the ATG: rare)
    for term in CONSEQUENCES:
        # (non_coding_transcript_variant always comes with an exon, intron or splice term)
        never_first = ("non_coding_transcript_variant",)
        if term not in ("transcript_ablation", "coding_sequence_variant", "intergenic_variant",
                        *never_first):  # fmt: skip
            assert seen.get(term, 0) >= (1 if term == "start_retained_variant" else 5), (term, seen)


def test_brute_force_catches_a_planted_bug(reference, monkeypatch):
    """The cross-check has teeth: an off-by-one in 5' UTR numbering is noticed."""
    import sys

    module = sys.modules["workbench.genome.annotate"]
    original = module._Model.cstr

    def off_by_one(self, t):
        return f"-{self.cds_s - t + 1}" if t < self.cds_s else original(self, t)

    monkeypatch.setattr(module._Model, "cstr", off_by_one)
    t = reference.genes[0].transcript
    g = t.utr5_segments()[0][0]
    b = reference.sequence(t.contig)[g - 1]
    variant = (g, b, "A" if b != "A" else "C")
    (a,) = annotate(reference, t.contig, *variant)
    assert a.hgvs_c != bruteforce_effect(reference, t, *variant)["hgvs_c"]


def test_annotating_100k_variants_is_fast(reference):
    rng = np.random.default_rng(5)
    contig = "chr1"
    seq = reference.sequence(contig)
    pos = rng.integers(1, len(seq) + 1, 100_000)
    alt = rng.integers(0, 3, 100_000)
    start = time.perf_counter()
    counts: dict[str, int] = {}
    for p, k in zip(pos.tolist(), alt.tolist(), strict=True):
        r = seq[p - 1]
        for a in annotate(reference, contig, p, r, "ACGT".replace(r, "")[k]):
            counts[a.consequence] = counts.get(a.consequence, 0) + 1
    elapsed = time.perf_counter() - start
    assert elapsed < 20, elapsed  # about 1–2 s on a laptop
    assert counts["intergenic_variant"] > 0 and counts["intron_variant"] > 0


# -- design -------------------------------------------------------------------------------------


@pytest.mark.parametrize("effect", DESIGNABLE_EFFECTS)
def test_designed_variants_have_the_wanted_effect_on_both_strands(reference, effect):
    rng = np.random.default_rng(1)
    strands = {}
    for g in reference.genes:
        strands.setdefault(g.strand, g.symbol)
    for symbol in strands.values():
        contig, pos, ref, alt = design_variant(reference, symbol, effect, rng=rng)
        assert reference.fetch(contig, pos - 1, pos - 1 + len(ref)) == ref
        (ann,) = [a for a in annotate(reference, contig, pos, ref, alt) if a.gene == symbol]
        assert ann.consequence == effect


def test_design_is_seeded_and_avoids_taken_positions(reference):
    symbol = reference.genes[1].symbol
    first = design_variant(reference, symbol, "missense_variant", rng=np.random.default_rng(4))
    again = design_variant(reference, symbol, "missense_variant", rng=np.random.default_rng(4))
    assert first == again
    taken = {(first[0], first[1])}
    other = design_variant(
        reference, symbol, "missense_variant", rng=np.random.default_rng(4), taken=taken
    )
    assert (other[0], other[1]) not in taken
    t = reference.gene(symbol).transcript
    start = t.cds_start if t.strand == "+" else t.cds_end - 2
    all_start = {(t.contig, start + k) for k in range(3)}
    with pytest.raises(InputError, match="no free start_lost"):
        design_variant(
            reference, symbol, "start_lost", rng=np.random.default_rng(0), taken=all_start
        )


@pytest.mark.parametrize(
    ("gene", "effect", "message"),
    [
        ("GENE0", "intergenic_variant", "cannot design"),
        ("GENE18", "missense_variant", "non-coding \\(lncRNA\\)"),
        ("GENE0", "coding_sequence_variant", "ambiguous"),
        ("NOPE", "missense_variant", "no gene called"),
    ],
)
def test_design_refuses_what_it_cannot_do(reference, gene, effect, message):
    with pytest.raises(InputError, match=message):
        design_variant(reference, gene, effect, rng=np.random.default_rng(0))


# -- rules at boundaries (Sequence Ontology, as VEP applies them) ------------------------------


def _start_codon_reference(strand: str):
    """One exon: a 5' UTR ending in A, right before ATG (so 'delete one A' has two spellings
    that touch the UTR and the start codon), CDS ATG GCT GCT TAA, a 3' UTR."""
    from workbench.genome._sequence import reverse_complement

    seq = "G" * 10 + "CCCCCCCCCA" + "ATGGCTGCTTAA" + "C" * 8 + "G" * 10
    exons, cds = ((11, 40),), (21, 32)
    if strand == "-":
        n = len(seq)
        seq = reverse_complement(seq)
        exons, cds = ((n + 1 - 40, n + 1 - 11),), (n + 1 - 32, n + 1 - 21)
    tx = Transcript("SYNT000009", "S-T1", "SYNG000009", "S", "chrS", strand, exons, *cds)
    gene = Gene("SYNG000009", "S", "chrS", strand, exons[0][0], exons[0][1], (tx,))
    return Reference({"chrS": seq}, [gene])


def test_a_deletion_that_keeps_the_atg_is_not_start_lost():
    # + strand: deleting one A of ...CA|ATG: every spelling normalises into the UTR.
    ref = _start_codon_reference("+")
    for spelling in ((19, "CA", "C"), (20, "AA", "A"), (19, "CAA", "CA")):
        (a,) = annotate(ref, "chrS", *spelling)
        assert a.consequences == ("5_prime_UTR_variant",), spelling
    # - strand: genomic left is transcript 3', so the normalised spelling deletes the T of
    # CAT (the ATG's A); the ATG is still there: start retained, not lost.
    ref = _start_codon_reference("-")
    seq = ref.sequence("chrS")
    n = len(seq)
    pos = n + 1 - 21  # the ATG's A, on this strand a T
    assert seq[pos - 1 : pos + 1] == "TT"
    (a,) = annotate(ref, "chrS", pos - 1, seq[pos - 2 : pos], seq[pos - 2])
    assert a.consequences == ("start_retained_variant", "5_prime_UTR_variant")
    assert a.hgvs_p is None
    # A deletion of the ATG's T itself, which no spelling moves off the codon, is start lost,
    # and a frameshift, which VEP ranks first.
    (a,) = annotate(ref, "chrS", n + 1 - 23, seq[n - 23 : n - 21], seq[n - 23])
    assert a.consequences == ("frameshift_variant", "start_lost")


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (57, {"splice_region_variant", "intron_variant"}),  # between +7 and +8
        (58, {"intron_variant"}),  # between +8 and +9: VEP and bcftools say intronic
        (52, {"splice_region_variant", "intron_variant"}),  # between +2 and +3: bcftools csq
        (50, {"splice_region_variant"}),  # at the junction: joins the exon (see the Rules)
    ],
)
def test_insertions_are_in_the_splice_region_only_between_two_region_bases(after, expected):
    ref = _hand_reference("+")
    seq = ref.sequence("chrT")
    base = seq[after - 1]
    ins = next(b for b in "ACGT" if b != base and b != seq[after])  # nothing to shift
    (a,) = annotate(ref, "chrT", after, base, base + ins)
    assert expected <= set(a.consequences), a.consequences
    if after != 50:
        assert set(a.consequences) == expected


@pytest.mark.parametrize(
    ("effect", "impact"),
    [("stop_gained", "HIGH"), ("missense_variant", "MODERATE"), ("synonymous_variant", "LOW")],
)
def test_gene_impact_is_the_impact_of_the_most_severe_consequence(reference, effect, impact):
    from workbench.genome import gene_impact

    contig, pos, ref, alt = design_variant(reference, "GENE3", effect, rng=np.random.default_rng(1))
    assert gene_impact(reference, contig, pos, ref, alt) == impact
    # before the first gene of chr1 nothing is touched
    first = min(g.start for g in reference.genes if g.contig == "chr1")
    base = reference.fetch("chr1", 0, 1)
    assert first > 1 and gene_impact(reference, "chr1", 1, base, "T" if base != "T" else "C") == (
        "MODIFIER"
    )
