"""Left-alignment and trimming (``workbench.genome.normalize``), checked against bcftools norm."""

from __future__ import annotations

import pysam
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.errors import InputError
from workbench.genome.normalize import normalize

#        1234567890123456
SEQ = "GCATCACACATTTTGG"


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        # A CA deletion in the CACACA repeat (bases 5-10, after the T at 4), written at the
        # repeat's right end, or padded on both sides: one spelling, anchored on the T.
        ((8, "ACA", "A"), (4, "TCA", "T")),
        ((9, "CAT", "T"), (4, "TCA", "T")),
        ((6, "ACACAT", "ACAT"), (4, "TCA", "T")),
        # One T of TTTT deleted, written at the end: shifts to the run's start, anchored on A.
        ((13, "TT", "T"), (10, "AT", "A")),
        # An insertion of CA after the repeat, padded on both sides.
        ((10, "AT", "ACAT"), (4, "T", "TCA")),
        # Substitutions lose their shared padding but never move.
        ((5, "CAC", "CTC"), (6, "A", "T")),
        ((5, "CACA", "CTGA"), (6, "AC", "TG")),
        # Nothing to do: already normalised, or no change at all.
        ((4, "TCA", "T"), (4, "TCA", "T")),
        ((4, "T", "T"), (4, "T", "T")),
        # A deletion of the contig's first base anchors on the base after it.
        ((1, "GC", "C"), (1, "GC", "C")),
    ],
)
def test_known_spellings(record, expected):
    assert normalize(SEQ, *record) == expected


def test_a_fetch_function_works_like_the_sequence():
    calls = []

    def fetch(a, b):
        calls.append((a, b))
        return SEQ[a:b]

    assert normalize(fetch, 13, "TT", "T") == normalize(SEQ, 13, "TT", "T")
    assert calls, "the fetch function was not used"


@pytest.mark.parametrize(
    ("record", "match"),
    [((3, "G", "A"), "does not match"), ((1, "", "A"), "empty"), ((0, "G", "A"), "1-based"),
     ((16, "GG", "G"), "beyond the end")],
)  # fmt: skip
def test_bad_records_are_refused(record, match):
    with pytest.raises(InputError, match=match):
        normalize(SEQ, *record)


@st.composite
def repeats_and_indels(draw):
    """A reference rich in short tandem repeats and indels spelt anywhere inside them."""
    units = draw(st.lists(st.text("ACGT", min_size=1, max_size=3), min_size=4, max_size=10))
    seq = "G" + "".join(u * draw(st.integers(1, 5)) for u in units) + "ACGTTGCA"
    variants = []
    for _ in range(draw(st.integers(1, 12))):
        start = draw(st.integers(2, len(seq) - 6))
        length = draw(st.integers(1, 4))
        pad_left = draw(st.integers(0, 2))
        pad_right = draw(st.integers(0, 2))
        a = max(1, start - pad_left)
        b = min(len(seq), start + length + pad_right)  # 1-based inclusive end of REF
        ref = seq[a - 1 : b]
        if draw(st.booleans()):  # deletion of [start, start + length) inside the padding
            alt = seq[a - 1 : start - 1] + seq[start - 1 + length : b]
        else:  # insertion of a copy of the bases before `start`
            ins = seq[max(0, start - 1 - length) : start - 1] or "A"
            alt = seq[a - 1 : start - 1] + ins + seq[start - 1 : b]
        if alt and alt != ref:
            variants.append((a, ref, alt))
    return seq, variants


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(repeats_and_indels())
def test_equals_bcftools_norm(tmp_path_factory, case):
    from pysam import bcftools

    seq, variants = case
    if not variants:
        return
    tmp = tmp_path_factory.mktemp("norm")
    (tmp / "ref.fa").write_text(f">c\n{seq}\n")
    pysam.faidx(str(tmp / "ref.fa"))
    lines = ["##fileformat=VCFv4.2", f"##contig=<ID=c,length={len(seq)}>",
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]  # fmt: skip
    ordered = sorted(set(variants))
    lines += [f"c\t{p}\tv{i}\t{r}\t{a}\t.\t.\t." for i, (p, r, a) in enumerate(ordered)]
    (tmp / "in.vcf").write_text("\n".join(lines) + "\n")
    out = bcftools.norm("-f", str(tmp / "ref.fa"), "--no-version", str(tmp / "in.vcf"))
    theirs = {}
    for line in out.splitlines():
        if not line.startswith("#"):
            _, p, vid, r, a, *_ = line.split("\t")
            theirs[vid] = (int(p), r, a)
    for i, record in enumerate(ordered):
        assert normalize(seq, *record) == theirs[f"v{i}"], f"{record} in {seq}"
