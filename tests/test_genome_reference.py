"""The synthetic reference: gene-model validity, layout, determinism and the file round trip."""

from __future__ import annotations

import itertools

import numpy as np
import pysam
import pytest

from workbench.errors import CohortFormatError, InputError
from workbench.genome import Reference, build_reference, reverse_complement, translate
from workbench.genome._sequence import STOP_CODONS

CLINICAL = [
    "BRCA1", "BRCA2", "TP53", "SCN1A", "CFTR", "MLH1", "MSH2", "LDLR", "KCNQ1", "MYH7",
    "FBN1", "PKD1", "DMD", "COL1A1", "RYR1", "PTEN", "APC", "GJB2",
]  # fmt: skip


@pytest.fixture(scope="module")
def reference():
    genes = [(s, "chr1" if i < 12 else "chr2") for i, s in enumerate(CLINICAL)]
    return build_reference(
        contigs={"chr1": 150_000, "chr2": 100_000}, genes=genes, rng=np.random.default_rng(7)
    )


@pytest.mark.parametrize("length", [0, 2, 30, 383, 384, 385, 1_000, 5_001])
def test_translate_reads_codon_by_codon_at_any_length(length):
    # Long sequences are translated with numpy, short ones codon by codon: both must read the
    # standard code, in either case, with X for a codon that holds anything but ACGT.
    from workbench.genome._sequence import CODON_TABLE

    rng = np.random.default_rng(length)
    seq = "".join(rng.choice(list("ACGTACGTACGTacgtNR-"), size=length))
    codons = [seq[i : i + 3].upper() for i in range(0, length - 2, 3)]
    assert translate(seq) == "".join(CODON_TABLE.get(c, "X") for c in codons)


def test_every_gene_model_is_a_valid_protein_coding_gene(reference):
    assert {g.symbol for g in reference.genes} == set(CLINICAL)
    for g in reference.genes:
        t = g.transcript
        assert t.canonical and t.name == f"{g.symbol}-T1"
        assert t.transcript_id.startswith("SYNT") and len(t.transcript_id) == 10
        assert 3 <= len(t.exons) <= 12
        assert (g.start, g.end) == (t.start, t.end)
        cds = reference.cds_sequence(t)
        protein = translate(cds)
        assert cds.startswith("ATG") and cds[-3:] in STOP_CODONS and len(cds) % 3 == 0
        assert "*" not in protein[:-1]
        assert reference.protein(t) == protein[:-1]
        seq = reference.sequence(g.contig)
        for s, e in t.introns:
            intron = seq[s - 1 : e] if t.strand == "+" else reverse_complement(seq[s - 1 : e])
            assert intron[:2] == "GT" and intron[-2:] == "AG"
            assert 200 <= e - s + 1 <= 2500
        # UTRs on the right side of the CDS, on the transcript strand
        utr5 = sum(e - s + 1 for s, e in t.utr5_segments())
        utr3 = sum(e - s + 1 for s, e in t.utr3_segments())
        assert 50 <= utr5 <= 460 and 50 <= utr3 <= 400
        mrna = reference.transcript_sequence(t)
        assert mrna[utr5 : utr5 + len(cds)] == cds and len(mrna) == utr5 + len(cds) + utr3
        for s, e in t.cds_segments():
            assert any(a <= s <= e <= b for a, b in t.exons)


def test_genes_lie_on_both_strands_without_overlapping(reference):
    assert {g.strand for g in reference.genes} == {"+", "-"}
    for contig, length in reference.contigs.items():
        spans = sorted((g.start, g.end) for g in reference.genes if g.contig == contig)
        assert spans[0][0] > 500 and spans[-1][1] <= length - 500
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start - end > 500


def test_background_sequence_is_human_like(reference):
    seq = reference.sequence("chr1")
    gc = (seq.count("G") + seq.count("C")) / len(seq)
    assert 0.38 < gc < 0.46
    assert set(seq) == set("ACGT")
    assert (
        "AAAAAAAAAAAA" in seq
        or "CACACACACACA" in seq
        or "TTTTTTTTTTTT" in seq
        or any(m * 6 in seq for m in ("TG", "AT", "GAA", "CAG", "AAT", "AAAT", "GATA"))
    )


def test_fetch_and_sequence_agree_and_check_bounds(reference):
    assert reference.fetch("chr2", 10, 20) == reference.sequence("chr2")[10:20]
    assert reference.contigs == {"chr1": 150_000, "chr2": 100_000}
    with pytest.raises(InputError, match="outside"):
        reference.fetch("chr2", 99_990, 100_010)
    with pytest.raises(InputError, match="unknown contig"):
        reference.sequence("chr9")
    with pytest.raises(InputError, match="no gene called"):
        reference.gene("BRCA3")
    assert reference.gene("TP53").symbol == "TP53"
    assert reference.transcript(reference.gene("TP53").transcript.accession).gene == "TP53"


def test_same_seed_same_reference_other_seed_other(tmp_path):
    def make(seed):
        return build_reference(
            contigs={"c1": 60_000},
            genes=[("A1", "c1"), ("B2", "c1")],
            rng=np.random.default_rng(seed),
        )

    a, b, c = make(1), make(1), make(2)
    pa, pb = a.write(tmp_path / "a"), b.write(tmp_path / "b")
    for key in pa:
        assert pa[key].read_bytes() == pb[key].read_bytes()
    assert c.sequence("c1") != a.sequence("c1")


def test_a_dozen_genes_fit_150kb_and_150_genes_fit_8mb():
    small = build_reference(
        contigs={"chr1": 150_000},
        genes=[(f"G{i}", "chr1") for i in range(12)],
        rng=np.random.default_rng(0),
    )
    assert len(small.genes) == 12
    contigs = {f"chr{i}": 1_000_000 for i in range(1, 9)}
    big = build_reference(
        contigs=contigs,
        genes=[(f"G{i}", f"chr{i % 8 + 1}") for i in range(150)],
        rng=np.random.default_rng(0),
    )
    assert len(big.genes) == 150
    assert len({g.transcript.transcript_id for g in big.genes}) == 150


def test_crowded_contigs_shrink_genes_and_impossible_ones_are_refused():
    crowded = build_reference(
        contigs={"c": 20_000},
        genes=[(f"G{i}", "c") for i in range(12)],
        rng=np.random.default_rng(3),
    )
    spans = sorted((g.start, g.end) for g in crowded.genes)
    assert all(a[1] < b[0] for a, b in itertools.pairwise(spans)) and spans[-1][1] <= 20_000
    with pytest.raises(InputError, match=r"need at least 14,660 bp on c but it is 14,000 bp"):
        build_reference(
            contigs={"c": 14_000},
            genes=[(f"G{i}", "c") for i in range(12)],
            rng=np.random.default_rng(3),
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"genes": [("A", "chrZ")]}, "not among"),
        ({"genes": [("A", "c"), ("A", "c")]}, "listed twice"),
        ({"genes": [("bad name", "c")]}, "gene symbol"),
        ({"contigs": {"c": 0}}, "positive integer"),
        ({"rng": 42}, "numpy.random.Generator"),
    ],
)
def test_build_arguments_are_checked(kwargs, message):
    args = {"contigs": {"c": 50_000}, "genes": [("A", "c")], "rng": np.random.default_rng(0)}
    args.update(kwargs)
    with pytest.raises(InputError, match=message):
        build_reference(**args)


def test_files_round_trip_and_follow_their_formats(reference, tmp_path):
    paths = reference.write(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "genes.gff3",
        "genome.fa",
        "genome.fa.fai",
    ]
    back = Reference.read(tmp_path)
    assert back.genes == reference.genes
    assert back.contigs == reference.contigs
    assert all(back.sequence(c) == reference.sequence(c) for c in reference.contigs)

    lines = paths["fasta"].read_text().splitlines()
    assert lines[0] == ">chr1" and all(len(x) == 60 for x in lines[1:2500])
    with pysam.FastaFile(str(paths["fasta"])) as fa:
        assert list(fa.references) == ["chr1", "chr2"]
        assert fa.fetch("chr2", 500, 560) == reference.fetch("chr2", 500, 560)

    gff = paths["gff3"].read_text().splitlines()
    assert gff[:3] == [
        "##gff-version 3",
        "##sequence-region chr1 1 150000",
        "##sequence-region chr2 1 100000",
    ]
    kinds = {line.split("\t")[2] for line in gff if not line.startswith("#")}
    assert kinds == {"gene", "mRNA", "exon", "CDS", "five_prime_UTR", "three_prime_UTR"}
    mrna = [line for line in gff if "\tmRNA\t" in line]
    assert all("ID=transcript:SYNT" in x and "Parent=gene:SYNG" in x and "Name=" in x for x in mrna)
    assert all("tag=canonical" in x for x in mrna)


def test_cds_phases_follow_the_reading_frame(reference):
    text = reference.gff3()
    for t in reference.transcripts:
        rows = [
            line.split("\t")
            for line in text.splitlines()
            if f"Parent=transcript:{t.transcript_id};" in line and "\tCDS\t" in line
        ]
        rows.sort(key=lambda r: int(r[3]), reverse=t.strand == "-")
        done = 0
        for r in rows:
            assert (done + int(r[7])) % 3 == 0
            done += int(r[4]) - int(r[3]) + 1


def test_reading_a_broken_reference_says_what_is_wrong(reference, tmp_path):
    with pytest.raises(CohortFormatError, match=r"genome\.fa is missing"):
        Reference.read(tmp_path)
    reference.write(tmp_path)
    gff = tmp_path / "genes.gff3"
    text = gff.read_text()
    t = reference.genes[0].transcript
    # move the first CDS start by one base: the CDS no longer starts with ATG in frame
    first = next(
        line for line in text.splitlines() if "\tCDS\t" in line and t.transcript_id in line
    )
    cols = first.split("\t")
    cols[3] = str(int(cols[3]) + 1)
    gff.write_text(text.replace(first, "\t".join(cols)))
    with pytest.raises(CohortFormatError, match="CDS must be a multiple of 3"):
        Reference.read(tmp_path)
    gff.write_text("chr1\tx\tgene\n")
    with pytest.raises(CohortFormatError, match="gff-version"):
        Reference.read(tmp_path)
