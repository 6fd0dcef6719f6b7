"""Joint calling of a family (workbench.pipeline.call).

``family_bams`` simulates a family's reads over some genes and aligns them (memoised for the
test session); the other pipeline test modules import it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pysam
import pytest

from workbench.errors import InputError, PipelineInputError
from workbench.pipeline.align import align
from workbench.pipeline.call import (
    bam_sample,
    call_variants,
    gene_regions,
    read_bed,
    write_bed,
)
from workbench.synth.reads import simulate_reads

FAMILY = "F0004"  # compound heterozygous ASPA: a 2-bp deletion and a second variant
GENES = ["ASPA", "PAH", "ARX"]  # chr2 genes plus chrX (males haploid)
_BUILT: dict = {}


def family_members(cohort, family: str) -> list[str]:
    ped = cohort.pedigree()
    return ped.loc[ped["family_id"] == family, "person_id"].tolist()


def family_bams(
    cohort, family: str, genes, root: Path, *, depth: float = 30.0, seed: int = 1,
    duplicate_rate: float = 0.03,
) -> dict[str, Path]:  # fmt: skip
    """Simulated reads of every member over ``genes``, aligned (memoised per session)."""
    key = (str(cohort.path), family, tuple(genes), depth, seed, duplicate_rate)
    if key not in _BUILT:
        reads = simulate_reads(
            cohort, person_ids=family_members(cohort, family),
            regions=gene_regions(cohort.reference, genes), out_dir=root, depth=depth,
            seed=seed, duplicate_rate=duplicate_rate, progress=False,
        )  # fmt: skip
        ref = cohort.path / "reference" / "genome.fa"
        _BUILT[key] = {
            p: align(ref, r1, r2, out_bam=root / f"{p}.bam", sample=p)
            for p, (r1, r2) in reads.items()
        }
    return _BUILT[key]


@pytest.fixture(scope="module")
def trio(tiny_cohort, tmp_path_factory):
    bams = family_bams(tiny_cohort, FAMILY, GENES, tmp_path_factory.mktemp("bams"))
    regions = gene_regions(tiny_cohort.reference, GENES)
    return bams, regions


def _sexes(cohort, samples):
    ped = cohort.pedigree().set_index("person_id")
    return {s: "M" if ped.loc[s, "sex"] == "1" else "F" for s in samples}


@pytest.fixture(scope="module")
def called(tiny_cohort, trio, tmp_path_factory):
    bams, regions = trio
    out = tmp_path_factory.mktemp("call") / "family.vcf.gz"
    call_variants(
        tiny_cohort.path / "reference" / "genome.fa",
        list(bams.values()),
        out_vcf=out,
        regions=regions,
        sexes=_sexes(tiny_cohort, bams),
    )
    return out


def test_gene_regions_merge_pad_and_reject_unknown_genes(tiny_cohort):
    ref = tiny_cohort.reference
    aspa = next(g for g in ref.genes if g.symbol == "ASPA")
    assert gene_regions(ref, ["ASPA"], pad=10) == [("chr2", aspa.start - 10, aspa.end + 10)]
    everything = gene_regions(ref, None, pad=0)
    assert [c for c, _, _ in everything] == sorted(
        (c for c, _, _ in everything), key=list(ref.contigs).index
    )
    with pytest.raises(InputError, match="NOTAGENE"):
        gene_regions(ref, ["NOTAGENE"])


def test_bed_round_trip(tmp_path):
    regions = [("chr1", 1, 100), ("chr2", 50, 60)]
    path = write_bed(regions, tmp_path / "r.bed")
    assert path.read_text().splitlines()[0] == "chr1\t0\t100"
    assert read_bed(path) == regions


def test_calls_are_filtered_indexed_restricted_and_normalised(called, trio, tiny_cohort):
    _, regions = trio
    assert Path(str(called) + ".tbi").is_file()
    with pysam.VariantFile(str(called)) as f:
        header = str(f.header)
        records = list(f)
    assert "Date=" not in header and "Command=" not in header and "##reference" not in header
    assert '##FILTER=<ID=LowQual,Description="QUAL below 20">' in header
    assert records, "no variants were called"
    for rec in records:
        assert len(rec.alts) == 1  # split by norm -m -any
        assert any(c == rec.chrom and s <= rec.pos <= e for c, s, e in regions)
        assert set(rec.filter.keys()) <= {"PASS", "LowQual", "LowDepth", "LowGQ"}
        if rec.qual < 20:
            assert "LowQual" in rec.filter
    # the father (male) is called haploid on chrX
    father = family_members(tiny_cohort, FAMILY)[0]
    x = [r for r in records if r.chrom == "chrX" and r.samples[father]["GT"] != (None,)]
    assert x and all(len(r.samples[father]["GT"]) == 1 for r in x)


def test_calling_is_deterministic_and_filters_are_set_not_removed(
    called, trio, tiny_cohort, tmp_path
):
    bams, regions = trio
    ref = tiny_cohort.path / "reference" / "genome.fa"
    again = call_variants(
        ref, list(bams.values()), out_vcf=tmp_path / "again.vcf.gz", regions=regions,
        sexes=_sexes(tiny_cohort, bams),
    )  # fmt: skip
    assert again.read_bytes() == called.read_bytes()
    strict = call_variants(
        ref, list(bams.values()), out_vcf=tmp_path / "strict.vcf.gz", regions=regions,
        sexes=_sexes(tiny_cohort, bams), min_depth=1000,
    )  # fmt: skip
    with pysam.VariantFile(str(called)) as a, pysam.VariantFile(str(strict)) as b:
        ra, rb = list(a), list(b)
    assert len(ra) == len(rb)
    assert all("LowDepth" in r.filter for r in rb)


def test_missing_bam_index_is_named(trio, tiny_cohort, tmp_path):
    bams, regions = trio
    bam = next(iter(bams.values()))
    copy = tmp_path / "noindex.bam"
    shutil.copy(bam, copy)
    with pytest.raises(PipelineInputError, match="no index") as err:
        call_variants(
            tiny_cohort.path / "reference" / "genome.fa", [copy],
            out_vcf=tmp_path / "x.vcf.gz", regions=regions,
        )  # fmt: skip
    assert err.value.path == copy
    assert not (tmp_path / "x.vcf.gz").exists()


def test_bam_of_another_reference_is_named(trio, tiny_cohort, tmp_path):
    bams, _regions = trio
    bam = next(iter(bams.values()))
    other = tmp_path / "other.fa"
    other.write_text(">chr1\n" + "ACGT" * 100 + "\n")
    pysam.faidx(str(other))
    with pytest.raises(PipelineInputError, match="another reference") as err:
        call_variants(other, [bam], out_vcf=tmp_path / "x.vcf.gz", regions=[("chr1", 1, 50)])
    assert err.value.path == bam


def test_missing_reference_index_and_bad_options(trio, tiny_cohort, tmp_path):
    bams, regions = trio
    fa = tmp_path / "genome.fa"
    shutil.copy(tiny_cohort.path / "reference" / "genome.fa", fa)
    with pytest.raises(PipelineInputError, match=r"genome\.fa\.fai") as err:
        call_variants(fa, list(bams.values()), out_vcf=tmp_path / "x.vcf.gz", regions=regions)
    assert err.value.path == tmp_path / "genome.fa.fai"
    ref = tiny_cohort.path / "reference" / "genome.fa"
    with pytest.raises(InputError, match="min_qual"):
        call_variants(ref, list(bams.values()), out_vcf=tmp_path / "x.vcf.gz",
                      regions=regions, min_qual=-1)  # fmt: skip
    assert bam_sample(next(iter(bams.values()))) == next(iter(bams))


_HEADER = (  # an annotated VCF's header, so that read_csq goes on to read the records
    "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=1000>\n"
    '##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence. Format: Allele|SYMBOL">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("chr1\t5\t.\tA\tT\t.\t.\t.\nchrZ\t7\t.\tA\tT\t.\t.\t.\n", r"line 6: contig 'chrZ'"),
        ("chr1\tX5\t.\tA\tT\t.\t.\t.\n", r"line 5: POS 'X5' is not a whole number"),
        ("chr1\t5\t.\tA\tT\n", r"line 5: a VCF record needs 8 tab-separated columns"),
    ],
)
@pytest.mark.parametrize("compressed", [False, True])
def test_a_malformed_vcf_record_is_refused_before_htslib_reads_it(
    tmp_path, body, match, compressed
):
    from workbench.pipeline.annotate import read_csq

    path = tmp_path / ("bad.vcf.gz" if compressed else "bad.vcf")
    if compressed:
        with pysam.BGZFile(str(path), "wb") as f:
            f.write((_HEADER + body).encode())
    else:
        path.write_text(_HEADER + body)
    with pytest.raises(PipelineInputError, match=match) as e:
        read_csq(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_an_undeclared_contig_no_longer_ends_the_process(tmp_path):
    """htslib calls exit() on such a record: a notebook's kernel would die without a word."""
    import subprocess
    import sys

    path = tmp_path / "bad.vcf"
    path.write_text(_HEADER + "chrZ\t7\t.\tA\tT\t.\t.\t.\n")
    script = (
        "import sys\nfrom workbench.pipeline.annotate import read_csq\n"
        "try:\n    read_csq(sys.argv[1])\nexcept Exception as e:\n"
        "    print(type(e).__name__)\nprint('still running')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=False
    )
    assert proc.stdout.splitlines() == ["PipelineInputError", "still running"], proc.stderr
