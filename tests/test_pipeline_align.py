"""Alignment with mappy + samtools steps, duplicate marking, coverage, and wrong references."""

from __future__ import annotations

import shutil

import numpy as np
import pysam
import pytest

from workbench.errors import PipelineInputError
from workbench.pipeline.align import align, coverage
from workbench.synth.reads import parse_read_name, simulate_reads

DEPTH = 30.0
DUP_RATE = 0.03


@pytest.fixture(scope="module")
def trio(tiny_cohort):
    samples = tiny_cohort.samples()
    fam = samples[samples.family_id == samples.family_id.dropna().iloc[0]]
    return fam.person_id.tolist()


@pytest.fixture(scope="module")
def genes(tiny_cohort):
    by_contig = {}
    for g in tiny_cohort.reference.genes:
        by_contig.setdefault(g.contig, g.symbol)
    return list(by_contig.values())  # one gene per contig, chrX included


@pytest.fixture(scope="module")
def aligned(tiny_cohort, trio, genes, tmp_path_factory):
    root = tmp_path_factory.mktemp("align")
    reads = simulate_reads(
        tiny_cohort,
        person_ids=trio,
        regions=genes,
        out_dir=root,
        depth=DEPTH,
        duplicate_rate=DUP_RATE,
        seed=11,
        progress=False,
    )
    fasta = tiny_cohort.path / "reference" / "genome.fa"
    bams = {
        p: align(fasta, r1, r2, out_bam=root / f"{p}.bam", sample=p)
        for p, (r1, r2) in reads.items()
    }
    return reads, bams


def _records(bam):
    with pysam.AlignmentFile(str(bam)) as f:
        return list(f.fetch(until_eof=True)), f.header.to_dict()


def test_bam_is_sorted_indexed_and_labelled(aligned):
    _, bams = aligned
    for person, bam in bams.items():
        assert bam.with_name(bam.name + ".bai").is_file()
        records, header = _records(bam)
        assert header["HD"]["SO"] == "coordinate"
        assert header["RG"] == [{"ID": person, "SM": person, "LB": person, "PL": "ILLUMINA"}]
        mapped = [r for r in records if not r.is_unmapped]
        keys = [(r.reference_id, r.reference_start) for r in mapped]
        assert keys == sorted(keys)
        assert all(r.get_tag("RG") == person for r in records)
        assert all(r.has_tag("MC") and r.has_tag("ms") for r in records if r.is_paired)


def test_reads_map_where_they_came_from(aligned):
    _, bams = aligned
    for bam in bams.values():
        records, _ = _records(bam)
        assert sum(not r.is_unmapped for r in records) / len(records) > 0.98
        assert sum(r.is_proper_pair for r in records) / len(records) > 0.97
        right = total = 0
        for r in records:
            if r.is_unmapped or r.mapping_quality < 20:
                continue
            o = parse_read_name(r.query_name)
            total += 1
            on_left = r.is_read1 == (o["strand"] == "+")
            if on_left:
                right += (
                    r.reference_name == o["contig"]
                    and abs(r.reference_start - (o["position"] - 1)) <= 3
                )
            else:
                # ``insert`` counts haplotype bases: a read across an indel ends up to the
                # indel's length (at most 15 bp) away from position + insert on the reference
                end = o["position"] - 1 + o["insert"]
                right += r.reference_name == o["contig"] and abs(r.reference_end - end) <= 3 + 15
            # Mate fields agree with the mate.
            assert r.template_length != 0 or r.mate_is_unmapped
        assert right / total > 0.99


def test_duplicates_marked_at_simulated_rate(aligned):
    _, bams = aligned
    for bam in bams.values():
        records, _ = _records(bam)
        dup = sum(r.is_duplicate for r in records) / len(records)
        assert DUP_RATE * 0.7 <= dup <= DUP_RATE * 1.6, dup


def test_coverage_close_to_depth(aligned, tiny_cohort, genes):
    _, bams = aligned
    for bam in bams.values():
        table = coverage(bam, tiny_cohort.reference, genes=genes, min_depth=20)
        gene_rows = table[table.level == "gene"]
        assert list(gene_rows.gene) == genes
        n_exons = sum(len(tiny_cohort.reference.gene(g).transcript.exons) for g in genes)
        assert (table.level == "exon").sum() == n_exons
        expected = DEPTH * (1 - DUP_RATE)  # duplicates are not counted
        weights = gene_rows.bases / gene_rows.bases.sum()
        assert abs((gene_rows.mean_depth * weights).sum() - expected) <= 0.1 * expected
        assert (gene_rows.fraction_ge_min_depth * weights).sum() > 0.9
        # Single small genes vary more: fragments make coverage lumpier than Poisson.
        assert (abs(gene_rows.mean_depth - expected) <= 0.2 * expected).all()
        assert table.attrs["min_depth"] == 20


def test_coverage_of_regions_and_exon_bases(aligned, tiny_cohort, genes):
    _, bams = aligned
    bam = next(iter(bams.values()))
    gene = tiny_cohort.reference.gene(genes[0])
    s, e = gene.transcript.exons[0]
    table = coverage(bam, tiny_cohort, regions=[(gene.contig, s, e)], min_depth=1)
    assert table.level.tolist() == ["region"]
    assert table.bases.iloc[0] == e - s + 1
    exon_rows = coverage(bam, tiny_cohort, genes=[genes[0]]).query("level == 'exon'")
    first = exon_rows[exon_rows.start == s].iloc[0]
    assert first.mean_depth == pytest.approx(table.mean_depth.iloc[0])
    # Far from the simulated genes nothing is covered.
    empty = coverage(bam, tiny_cohort, regions=[("chr1", 30_000, 31_000)])
    assert empty.mean_depth.iloc[0] == 0 and empty.fraction_ge_min_depth.iloc[0] == 0


def test_deterministic_output(aligned, tiny_cohort, tmp_path):
    reads, bams = aligned
    person = next(iter(reads))
    again = align(
        tiny_cohort.path / "reference" / "genome.fa",
        *reads[person],
        out_bam=tmp_path / "again.bam",
        sample=person,
        threads=1,
    )
    assert again.read_bytes() == bams[person].read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.bam", "again.bam.bai"]


def _random_fasta(path, rng, length=30_000):
    seq = "".join(np.array(list("ACGT"))[rng.integers(0, 4, length)])
    path.write_text(">other1\n" + "\n".join(seq[i : i + 60] for i in range(0, length, 60)) + "\n")
    return path


def test_reads_for_another_reference_are_refused(aligned, tmp_path):
    reads, _ = aligned
    person = next(iter(reads))
    fasta = _random_fasta(tmp_path / "other.fa", np.random.default_rng(0))
    with pytest.raises(PipelineInputError, match="another reference") as info:
        align(fasta, *reads[person], out_bam=tmp_path / "out" / "x.bam", sample=person)
    assert info.value.path == reads[person][0]
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    assert (tmp_path / "other.fa.fai").is_file()  # a missing index is created


def test_coverage_refuses_a_bam_of_another_reference(aligned, tiny_cohort, tmp_path):
    reads, _ = aligned
    person = next(iter(reads))
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": "other1", "LN": 500}]}
    bam = tmp_path / "other.bam"
    with pysam.AlignmentFile(str(bam), "wb", header=header):
        pass
    pysam.index(str(bam))
    with pytest.raises(PipelineInputError, match="another reference"):
        coverage(bam, tiny_cohort.reference, genes=["BRCA2"])
    unindexed = tmp_path / "copy.bam"
    shutil.copy(bam, unindexed)
    with pytest.raises(PipelineInputError, match="no index"):
        coverage(unindexed, tiny_cohort.reference)
    with pytest.raises(PipelineInputError, match="does not exist"):
        align(tmp_path / "nope.fa", *reads[person], out_bam=tmp_path / "y.bam", sample=person)
