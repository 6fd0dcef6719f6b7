"""Gene models from Ensembl / GENCODE GFF3 and GTF files (``workbench.genome.gff``).

Files in both dialects are written here for a gene of the tiny cohort's reference, the way
Ensembl and GENCODE write them (GTF: CDS without the stop codon, a ``stop_codon`` row, repeated
``tag`` attributes; Ensembl GFF3: ``ID=transcript:…``, ``Parent=gene:…``, ``biotype``, tags
joined by commas), with the cases real files hold: two transcripts of one gene (MANE Select
and a shorter 5' UTR), a lncRNA, an incomplete CDS, a selenoprotein. The real annotation
excerpts that gffutils ships in its wheel are read too.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pysam
import pytest
from click.testing import CliRunner

from workbench.cli import main
from workbench.errors import CohortFormatError
from workbench.genome import Reference
from workbench.genome.gff import load_reference, read_gene_models
from workbench.pipeline.annotate import read_csq


def _gene(tiny_cohort):
    return next(g for g in tiny_cohort.reference.genes if len(g.transcript.exons) >= 3)


def _segments(t):
    """(exons, CDS without the stop codon, the stop codon), as Ensembl's GTF writes them."""
    cds = list(t.cds_segments())
    if t.strand == "+":
        s, e = cds[-1]
        cds[-1] = (s, e - 3)
        stop = (e - 2, e)
    else:
        s, e = cds[0]
        cds[0] = (s + 3, e)
        stop = (s, s + 2)
    return list(t.exons), [c for c in cds if c[0] <= c[1]], stop


def _cases(tiny_cohort):
    """Transcript id -> (exons, cds, stop, biotype, tags, extra features) for one gene."""
    g = _gene(tiny_cohort)
    t = g.transcript
    exons, cds, stop = _segments(t)
    # A second isoform with a shorter 5' UTR: same CDS.
    if t.strand == "+":
        short = [(min(t.cds_start, exons[0][0] + 5), exons[0][1]), *exons[1:]]
    else:
        short = [*exons[:-1], (exons[-1][0], max(t.cds_end, exons[-1][1] - 5))]
    mane = ["basic", "Ensembl_canonical", "MANE_Select"]
    return g, {
        "ENST01": (exons, cds, stop, "protein_coding", mane, []),
        "ENST02": (short, cds, stop, "protein_coding", ["basic"], []),
        "ENST03": (exons, [], None, "lncRNA", ["basic"], []),
        "ENST04": (exons, cds, stop, "protein_coding", ["cds_start_NF", "mRNA_start_NF"], []),
        "ENST05": (exons, cds, stop, "protein_coding", ["basic"], [("Selenocysteine", cds[0])]),
    }  # fmt: skip


def _write_gtf(path: Path, g, cases) -> Path:
    lines = []
    for tid, (exons, cds, stop, biotype, tags, extra) in cases.items():
        attrs = (
            f'gene_id "ENSG01.3"; transcript_id "{tid}.2"; gene_name "{g.symbol}"; '
            f'transcript_type "{biotype}"; ' + "".join(f'tag "{x}"; ' for x in tags)
        )
        rows = [("transcript", (exons[0][0], exons[-1][1]))]
        rows += [("exon", e) for e in exons] + [("CDS", c) for c in cds]
        rows += [("stop_codon", stop)] if stop and cds else []
        rows += extra
        for kind, (s, e) in rows:
            lines.append(f"{g.contig}\tHAVANA\t{kind}\t{s}\t{e}\t.\t{g.strand}\t.\t{attrs}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _write_gff3(path: Path, g, cases) -> Path:
    lines = ["##gff-version 3",
             f"{g.contig}\tensembl\tgene\t{g.start}\t{g.end}\t.\t{g.strand}\t.\t"
             f"ID=gene:ENSG01;Name={g.symbol};biotype=protein_coding;version=3"]  # fmt: skip
    for tid, (exons, cds, stop, biotype, tags, extra) in cases.items():
        kind = "mRNA" if biotype == "protein_coding" else "lnc_RNA"
        lines.append(
            f"{g.contig}\tensembl\t{kind}\t{exons[0][0]}\t{exons[-1][1]}\t.\t{g.strand}\t.\t"
            f"ID=transcript:{tid};Parent=gene:ENSG01;biotype={biotype};version=2;"
            f"tag={','.join(tags)}"
        )
        rows = [("exon", e) for e in exons] + [("CDS", c) for c in cds]
        rows += [("stop_codon", stop)] if stop and cds else []
        rows += [("stop_codon_redefined_as_selenocysteine", x[1]) for x in extra]
        for kind, (s, e) in rows:
            lines.append(f"{g.contig}\tensembl\t{kind}\t{s}\t{e}\t.\t{g.strand}\t.\t"
                         f"Parent=transcript:{tid}")  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def files(tiny_cohort, tmp_path_factory):
    g, cases = _cases(tiny_cohort)
    tmp = tmp_path_factory.mktemp("gff")
    gtf = _write_gtf(tmp / "genes.gtf", g, cases)
    gz = tmp / "genes.gtf.gz"
    gz.write_bytes(gzip.compress(gtf.read_bytes()))
    return g, gtf, gz, _write_gff3(tmp / "genes.gff3", g, cases)


EXPECTED_REFUSED = {
    "ENST04": "incomplete CDS (tag cds_start_NF, mRNA_start_NF)",
    "ENST05": "selenoprotein",
}


@pytest.mark.parametrize("which", ["gtf", "gtf.gz", "gff3"])
def test_both_dialects_give_the_same_models_and_refusals(files, tiny_cohort, which):
    g, gtf, gz, gff3 = files
    path = {"gtf": gtf, "gtf.gz": gz, "gff3": gff3}[which]
    seqs = {g.contig: tiny_cohort.reference.sequence(g.contig)}
    models = read_gene_models(path, sequences=seqs)
    assert models.source == ("gff3" if which == "gff3" else "gtf")
    (gene,) = models.genes
    assert gene.symbol == g.symbol and gene.gene_id == "ENSG01"
    ids = [t.transcript_id for t in gene.transcripts]
    assert ids == ["ENST01", "ENST02", "ENST03"]  # MANE Select first, the lncRNA last
    mane, other, lnc = gene.transcripts
    assert (lnc.coding, lnc.biotype, lnc.cds_segments()) == (False, "lncRNA", ())
    assert lnc.exons == mane.exons
    assert (mane.mane_select, mane.canonical, mane.version) == (True, True, 2)
    assert (other.mane_select, other.canonical) == (False, False)
    # The stop codon joined the CDS: the same coding sequence as the cohort's own model.
    assert (mane.cds_start, mane.cds_end) == (g.transcript.cds_start, g.transcript.cds_end)
    assert gene.transcript is mane
    refused = {tid.split(".")[0]: reason for tid, reason in models.refused}
    assert refused.keys() == EXPECTED_REFUSED.keys()
    for tid, start in EXPECTED_REFUSED.items():
        assert refused[tid].startswith(start), refused[tid]


def test_the_cohorts_own_file_reads_as_reference_read_does(tiny_cohort_path):
    ref, models = load_reference(
        tiny_cohort_path / "reference" / "genome.fa", tiny_cohort_path / "reference" / "genes.gff3"
    )
    own = Reference.read(tiny_cohort_path / "reference")
    assert models.refused == ()
    assert sorted(ref.genes, key=lambda g: g.gene_id) == sorted(own.genes, key=lambda g: g.gene_id)


def test_a_cds_that_does_not_fit_its_sequence_is_refused_with_the_reason(files, tiny_cohort):
    g, gtf, _, _ = files
    seq = tiny_cohort.reference.sequence(g.contig)
    # One base deleted from the contig's start shifts every model off its sequence.
    models = read_gene_models(gtf, sequences={g.contig: seq[1:]})
    # Only the lncRNA, which has no coding sequence to check, is kept.
    assert [t.transcript_id for gene in models.genes for t in gene.transcripts] == ["ENST03"]
    reasons = dict(models.refused)
    assert "the CDS must be a multiple of 3 long, start with ATG" in reasons["ENST01.2"]


REAL = Path(__import__("gffutils").__file__).parent / "test" / "data"


@pytest.mark.parametrize(
    "name",
    ["gencode-v19.gtf", "ensembl_gtf.txt", "FBgn0031208.gtf", "c_elegans_WS199_shortened_gff.txt"],
)
def test_real_annotation_files_shipped_by_gffutils(name):
    """Every transcript of a real file is either read or refused with a reason."""
    path = REAL / name
    if not path.is_file():
        pytest.skip(f"gffutils no longer ships {name}")
    models = read_gene_models(path)
    text = [line.split("\t") for line in path.read_text().splitlines() if line and line[0] != "#"]
    if name.endswith(".gtf") or name == "ensembl_gtf.txt":
        expected = {c[8].split('transcript_id "')[1].split('"')[0] for c in text
                    if 'transcript_id "' in c[8] and c[2] != "gene"}  # fmt: skip

        # GENCODE's ENST….N carries a version; WormBase's B0019.1 is a name, kept whole
        def unversioned(tid):
            base, _, n = tid.rpartition(".")
            return base if tid.startswith("ENS") and n.isdigit() else tid

        seen = {t.transcript_id for g in models.genes for t in g.transcripts}
        seen |= {unversioned(tid) for tid, _ in models.refused}
        assert seen == {unversioned(e) for e in expected}
    assert models.n_transcripts + len(models.refused) > 0
    assert all(reason for _, reason in models.refused)


def test_not_an_annotation_is_refused_in_one_line(tmp_path):
    path = tmp_path / "x.gtf"
    path.write_text("this is not\ta gene annotation\n")
    with pytest.raises(CohortFormatError, match=r"x\.gtf") as e:
        read_gene_models(path)
    assert "\n" not in str(e.value)
    with pytest.raises(CohortFormatError, match="does not exist"):
        read_gene_models(tmp_path / "missing.gff3")


def test_workbench_annotate_flags_every_transcript(files, tiny_cohort_path, tmp_path):
    g, gtf, _, _ = files
    t = g.transcript
    pos = t.cds_start + 3 if t.strand == "+" else t.cds_end - 3
    fasta = pysam.FastaFile(str(tiny_cohort_path / "reference" / "genome.fa"))
    base = fasta.fetch(g.contig, pos - 1, pos)
    vcf = tmp_path / "one.vcf"
    vcf.write_text(
        f"##fileformat=VCFv4.2\n##contig=<ID={g.contig}>\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        f"{g.contig}\t{pos}\t.\t{base}\t{'A' if base != 'A' else 'C'}\t.\tPASS\t.\n"
    )
    out = tmp_path / "one.annotated.vcf.gz"
    args = ["annotate", str(vcf), "--fasta", str(tiny_cohort_path / "reference" / "genome.fa"),
            "--genes", str(gtf), "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "1 genes, 3 transcripts annotated, 2 transcripts refused" in result.output
    csq = read_csq(out).set_index("Feature")
    assert sorted(csq.index) == ["ENST01", "ENST02", "ENST03"]
    assert list(csq.CANONICAL.fillna("").sort_index()) == ["YES", "", ""]
    assert list(csq.MANE_SELECT.fillna("").sort_index()) == ["YES", "", ""]
    # The lncRNA over the same exons: an exon variant of a non-coding transcript, n. numbered
    lnc = csq.loc["ENST03"]
    assert lnc.Consequence == "non_coding_transcript_exon_variant"
    assert list(csq.BIOTYPE.sort_index()) == ["protein_coding", "protein_coding", "lncRNA"]
    assert str(lnc.HGVSp) in ("", "nan", "None")
    assert lnc.HGVSc.startswith("ENST03.2:n.")
    refused = (tmp_path / "one.annotated.refused.tsv").read_text().splitlines()
    assert refused[0] == "transcript_id\treason" and len(refused) == 3
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 1 and again.output.startswith("error:") and "--force" in again.output


def test_names_real_files_reuse_are_refused_and_name_suffixes_kept(tmp_path):
    """Ensembl names many genes ``Y_RNA``; WormBase's ``C41D11.1a.1`` and ``.2`` are two
    transcripts, not two versions of one. A reused symbol is refused with the reason, the
    first gene in genome order kept."""
    rows = [
        ("gene", 100, 200, "ID=gene:ENSG01;Name=Y_RNA;biotype=misc_RNA"),
        ("ncRNA", 100, 200, "ID=transcript:ENST01;Parent=gene:ENSG01;biotype=misc_RNA"),
        ("exon", 100, 200, "Parent=transcript:ENST01"),
        ("gene", 500, 600, "ID=gene:ENSG02;Name=Y_RNA;biotype=misc_RNA"),
        ("ncRNA", 500, 600, "ID=transcript:ENST02;Parent=gene:ENSG02;biotype=misc_RNA"),
        ("exon", 500, 600, "Parent=transcript:ENST02"),
        ("gene", 900, 990, "ID=gene:WBGene1;Name=eri-6;biotype=lncRNA"),
        ("lnc_RNA", 900, 990, "ID=transcript:C41D11.1a.1;Parent=gene:WBGene1;biotype=lncRNA"),
        ("exon", 900, 990, "Parent=transcript:C41D11.1a.1"),
        ("lnc_RNA", 900, 950, "ID=transcript:C41D11.1a.2;Parent=gene:WBGene1;biotype=lncRNA"),
        ("exon", 900, 950, "Parent=transcript:C41D11.1a.2"),
    ]
    path = tmp_path / "names.gff3"
    path.write_text("##gff-version 3\n" + "".join(
        f"chrZ\ttest\t{kind}\t{a}\t{b}\t.\t+\t.\t{attrs}\n" for kind, a, b, attrs in rows
    ))  # fmt: skip
    models = read_gene_models(path)
    kept = {g.symbol: [t.transcript_id for t in g.transcripts] for g in models.genes}
    assert kept == {"Y_RNA": ["ENST01"], "eri-6": ["C41D11.1a.1", "C41D11.1a.2"]}
    ((tid, reason),) = models.refused
    assert tid == "ENST02" and "gene symbol Y_RNA" in reason and "ENSG01" in reason
