"""Calls against the generator's truth (workbench.pipeline.compare)."""

from __future__ import annotations

import pysam
import pytest
from test_pipeline_call import family_bams, family_members

from workbench.errors import InputError, PipelineInputError
from workbench.pipeline.call import call_variants, gene_regions
from workbench.pipeline.compare import (
    MISS_REASONS,
    calls_table,
    compare_calls,
    pileup_text,
    truth_table,
    variant_type,
)

FAMILY = "F0004"
GENES = ["ASPA", "PAH", "ARX"]


def _sexes(cohort, samples):
    s = cohort.samples().set_index("person_id")["sex"]
    return {p: "M" if s[p] == "male" else "F" for p in samples}


def _call(cohort, bams, out, regions):
    return call_variants(
        cohort.path / "reference" / "genome.fa", list(bams.values()), out_vcf=out,
        regions=regions, sexes=_sexes(cohort, bams),
    )  # fmt: skip


@pytest.fixture(scope="module")
def trio(tiny_cohort, tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    bams = family_bams(tiny_cohort, FAMILY, GENES, root / "bams")
    regions = gene_regions(tiny_cohort.reference, GENES)
    vcf = _call(tiny_cohort, bams, root / "family.vcf.gz", regions)
    return bams, regions, vcf


@pytest.fixture(scope="module")
def comparison(tiny_cohort, trio, tmp_path_factory):
    bams, regions, vcf = trio
    out = tmp_path_factory.mktemp("truth") / "truth.vcf.gz"
    return compare_calls(vcf, tiny_cohort, regions=regions, bams=bams, truth_vcf=out), out


def _carriers(text: str) -> dict[str, str]:
    return dict(item.split(":") for item in text.split(";"))


def test_variant_type():
    assert variant_type("A", "G") == "SNV"
    assert variant_type("AC", "GT") == "SNV"
    assert variant_type("GTC", "G") == "indel"
    assert variant_type("A", "AG") == "indel"


def test_truth_is_family_genotypes_over_regions_without_hom_ref(tiny_cohort, trio):
    _, regions, _ = trio
    members = family_members(tiny_cohort, FAMILY)
    truth = truth_table(tiny_cohort, samples=members, regions=regions)
    assert set(truth["sample"]) <= set(members)
    assert (truth["dosage"] > 0).all()
    assert all(any(c == r.contig and s <= r.pos <= e for c, s, e in regions)
               for r in truth.itertuples())  # fmt: skip
    # the father is haploid on chrX
    x = truth[(truth["contig"] == "chrX") & (truth["sample"] == members[0])]
    assert len(x) and (x["ploidy"] == 1).all() and (x["gt"] == "1").all()


def test_30x_trio_snv_precision_and_recall_and_causal_variants(comparison, tiny_cohort, trio):
    result, _ = comparison
    m = result.metrics
    assert m.loc["SNV", "tp"] >= 40
    # Every SNV is seen; a few lose the record-level LowGQ filter for the whole family when one
    # carrier's genotype quality is low (an allele-imbalanced het), so recall is a little under 1.
    assert m.loc["SNV", "recall"] >= 0.97
    snv_misses = result.misses[result.misses["type"] == "SNV"]
    assert (snv_misses["filter"].fillna(".") != ".").all()
    assert m.loc["SNV", "precision"] >= 0.99
    assert m.loc["indel", "tp"] >= 1
    assert m.loc["all", "genotype_concordance"] >= 0.99
    members = set(family_members(tiny_cohort, FAMILY))
    planted = tiny_cohort.truth()["variants"]
    causal = planted[(planted["category"] == "causal")]
    causal = causal[causal["carriers"].map(lambda c: bool(members & set(_carriers(c))))]
    assert len(causal) >= 2  # compound heterozygous
    matched = result.matched
    for v in causal.itertuples():
        for person, gt in _carriers(v.carriers).items():
            row = matched[
                (matched["sample"] == person) & (matched["contig"] == v.contig)
                & (matched["pos"] == v.position) & (matched["ref"] == v.ref)
                & (matched["alt"] == v.alt)
            ]  # fmt: skip
            assert len(row) == 1, f"{v.variant_key} in {person} not found"
            assert row["status"].iat[0] == "TP", f"{v.variant_key} missed in {person}"
            dosage = sum(a == "1" for a in gt.replace("|", "/").split("/"))
            assert row["call_gt"].iat[0].count("1") == dosage


def test_metrics_summary_is_plain_json(comparison):
    result, truth_vcf = comparison
    summary = result.summary()
    assert set(summary) == {"SNV", "indel", "all"}
    assert isinstance(summary["SNV"]["tp"], int)
    assert truth_vcf.is_file() and (truth_vcf.parent / "truth.vcf.gz.tbi").is_file()


def _with_fake_calls(src, dst, fakes):
    """Copy ``src`` adding PASS records ``(contig, pos, ref, alt)`` het in the first sample."""
    with pysam.VariantFile(str(src)) as vin:
        header = vin.header
        records = list(vin)
        with pysam.VariantFile(str(dst), "wz", header=header) as out:
            new = []
            for contig, pos, ref, alt in fakes:
                rec = out.new_record(contig=contig, start=pos - 1, alleles=(ref, alt), qual=99)
                rec.filter.add("PASS")
                first = next(iter(header.samples))
                rec.samples[first]["GT"] = (0, 1)
                new.append(rec)
            for rec in sorted([*records, *new], key=lambda r: (r.rid, r.pos)):
                out.write(rec)
    pysam.tabix_index(str(dst), preset="vcf", force=True)
    return dst


def test_misses_get_reasons(tiny_cohort, trio, tmp_path):
    bams, regions, vcf = trio
    seq = tiny_cohort.reference.sequence
    members = family_members(tiny_cohort, FAMILY)
    truth = truth_table(tiny_cohort, samples=members, regions=regions)
    indel = truth[truth["type"] == "indel"].iloc[0]
    near = int(indel.pos) + 5
    contig, start, end = regions[0]
    far = start + 700
    while (truth["pos"] - far).abs().min() < 50:
        far += 37

    def alt_of(base):
        return "A" if base != "A" else "C"

    fakes = [
        (indel.contig, near, seq(indel.contig)[near - 1], alt_of(seq(indel.contig)[near - 1])),
        (contig, far, seq(contig)[far - 1], alt_of(seq(contig)[far - 1])),
        (contig, end + 50, seq(contig)[end + 49], alt_of(seq(contig)[end + 49])),
    ]
    faked = _with_fake_calls(vcf, tmp_path / "faked.vcf.gz", fakes)
    result = compare_calls(faked, tiny_cohort, regions=regions, bams=bams)
    fp = result.misses[result.misses["kind"] == "FP"].set_index("pos")
    assert fp.loc[near, "reason"] == "near_indel"
    assert fp.loc[far, "reason"] == "other"
    assert fp.loc[far, "depth"] >= 10
    assert set(result.misses["reason"]) <= set(MISS_REASONS)
    assert result.metrics.loc["SNV", "fp"] == 2  # the call outside the regions is ignored
    # thresholds move a miss into another class
    strict = compare_calls(faked, tiny_cohort, regions=regions, bams=bams, min_depth=10_000)
    assert set(strict.misses["reason"]) == {"low_coverage"}


def test_duplicate_heavy_sites_are_named(tiny_cohort, tmp_path):
    genes = ["ASPA"]
    bams = family_bams(tiny_cohort, FAMILY, genes, tmp_path / "dups", depth=30, duplicate_rate=0.5)
    regions = gene_regions(tiny_cohort.reference, genes)
    vcf = _call(tiny_cohort, bams, tmp_path / "d.vcf.gz", regions)
    contig, start, _ = regions[0]
    seq = tiny_cohort.reference.sequence(contig)
    pos = start + 300
    faked = _with_fake_calls(
        vcf,
        tmp_path / "f.vcf.gz",
        [(contig, pos, seq[pos - 1], "A" if seq[pos - 1] != "A" else "C")],
    )
    result = compare_calls(faked, tiny_cohort, regions=regions, bams=bams, min_depth=5)
    row = result.misses.set_index("pos").loc[pos]
    assert row["duplicate_fraction"] == pytest.approx(0.5, abs=0.15)
    assert row["reason"] == "duplicate_heavy"


def test_filtered_calls_do_not_count(tiny_cohort, trio, tmp_path):
    bams, regions, _ = trio
    strict = call_variants(
        tiny_cohort.path / "reference" / "genome.fa", list(bams.values()),
        out_vcf=tmp_path / "s.vcf.gz", regions=regions, sexes=_sexes(tiny_cohort, bams),
        min_depth=1000,
    )  # fmt: skip
    result = compare_calls(strict, tiny_cohort, regions=regions)
    assert result.metrics.loc["all", "tp"] == 0
    assert result.misses["filter"].str.split(";").map(lambda f: "LowDepth" in f).all()
    assert len(calls_table(strict)) == 0 and len(calls_table(strict, pass_only=False)) > 0


def test_bad_inputs(tiny_cohort, trio, tmp_path):
    _, regions, vcf = trio
    with pytest.raises(PipelineInputError) as err:
        compare_calls(tmp_path / "nope.vcf.gz", tiny_cohort, regions=regions)
    assert err.value.path == tmp_path / "nope.vcf.gz"
    with pytest.raises(InputError, match="P99999"):
        compare_calls(vcf, tiny_cohort, regions=regions, samples=["P99999"])


def test_pileup_shows_a_planted_deletion(tiny_cohort, trio):
    bams, _, _ = trio
    planted = tiny_cohort.truth()["variants"]
    deletions = planted[
        (planted.gene == "ASPA")
        & (planted.ref.str.len() > planted.alt.str.len())
        & planted.carriers.str.contains("P00012:")
    ]
    assert len(deletions), "the tiny cohort plants an ASPA deletion in the proband P00012"
    v = deletions.iloc[0]
    k = len(v.ref) - len(v.alt)
    text = pileup_text(bams["P00012"], tiny_cohort.reference, v.contig, int(v.position), flank=10)
    head, ref, marker, *reads = text.splitlines()
    assert head.startswith(f"P00012 {v.contig}:") and "reads cover it" in head
    assert ref == tiny_cohort.reference.sequence(v.contig)[v.position - 11 : v.position + 10]
    assert marker == " " * 10 + "^"
    assert 1 <= len(reads) <= 20
    # the deleted bases follow the anchor base in about half of the reads
    deleted = sum(r[11 : 11 + k] == "*" * k for r in reads)
    assert 0.2 * len(reads) <= deleted <= 0.8 * len(reads)
    assert all(set(r) <= set(".,*+ ACGTNacgtn") for r in reads)
