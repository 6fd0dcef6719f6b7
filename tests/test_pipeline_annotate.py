"""CSQ annotation of called variants (workbench.pipeline.annotate)."""

from __future__ import annotations

import pandas as pd
import pysam
import pytest
from test_pipeline_call import family_bams, family_members

from workbench.errors import PipelineInputError
from workbench.pipeline.annotate import CSQ_FIELDS, annotate_vcf, csq_fields, read_csq
from workbench.pipeline.call import call_variants, gene_regions

FAMILY = "F0004"
GENES = ["ASPA", "PAH", "ARX"]
HEADER = (
    '##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from workbench. '
    "Format: Allele|Consequence|IMPACT|SYMBOL|Feature|HGVSc|HGVSp|AF|AF_NOR|AF_MEN|AF_SAS|"
    'CLNSIG|CLNREVSTAT">'
)


@pytest.fixture(scope="module")
def annotated(tiny_cohort, tmp_path_factory):
    root = tmp_path_factory.mktemp("annotate")
    bams = family_bams(tiny_cohort, FAMILY, GENES, root / "bams")
    sex = tiny_cohort.samples().set_index("person_id")["sex"]
    vcf = call_variants(
        tiny_cohort.path / "reference" / "genome.fa", list(bams.values()),
        out_vcf=root / "family.vcf.gz", regions=gene_regions(tiny_cohort.reference, GENES),
        sexes={p: "M" if sex[p] == "male" else "F" for p in bams},
    )  # fmt: skip
    out = annotate_vcf(
        vcf, reference=tiny_cohort.reference, knowledge=tiny_cohort.knowledge,
        out_vcf=root / "family.annotated.vcf.gz",
    )  # fmt: skip
    return vcf, out


def test_header_and_every_record_annotated(annotated, tiny_cohort):
    vcf, out = annotated
    assert csq_fields(tiny_cohort.knowledge) == CSQ_FIELDS
    assert (out.parent / (out.name + ".tbi")).is_file()
    with pysam.VariantFile(str(out)) as f:
        assert HEADER in str(f.header)
        records = list(f)
    with pysam.VariantFile(str(vcf)) as f:
        assert len(records) == len(list(f))
    assert all("CSQ" in r.info for r in records)


def test_planted_variants_match_the_truth_annotation(annotated, tiny_cohort):
    _, out = annotated
    csq = read_csq(out)
    members = set(family_members(tiny_cohort, FAMILY))
    planted = tiny_cohort.truth()["variants"]
    planted = planted[planted["carriers"].map(lambda c: bool(members & {
        x.split(":")[0] for x in c.split(";")}))]  # fmt: skip
    planted = planted[planted["gene"].isin(GENES)]
    assert len(planted) >= 2
    for v in planted.itertuples():
        row = csq[
            (csq["contig"] == v.contig) & (csq["pos"] == v.position) & (csq["ref"] == v.ref)
            & (csq["alt"] == v.alt) & (csq["Feature"] == v.transcript)
        ]  # fmt: skip
        assert len(row) == 1, f"{v.variant_key} was not called or not annotated"
        row = row.iloc[0]
        assert row["Consequence"] == v.consequence
        assert row["HGVSc"] == v.hgvs_c
        assert (row["HGVSp"] or "") == (v.hgvs_p if isinstance(v.hgvs_p, str) else "")
        assert row["SYMBOL"] == v.gene


def test_frequencies_and_assertions_come_from_knowledge(annotated, tiny_cohort):
    _, out = annotated
    csq = read_csq(out)
    freq = tiny_cohort.knowledge.frequencies
    merged = csq.merge(
        freq, left_on=["contig", "pos", "ref", "alt"],
        right_on=["contig", "position", "ref", "alt"],
    )  # fmt: skip
    assert len(merged) >= 20
    for pop in ("", "_NOR", "_MEN", "_SAS"):
        assert (merged[f"AF{pop}"] - merged[f"af{pop}"]).abs().max() < 1e-5
    known = {(r.contig, r.position, r.ref, r.alt) for r in freq.itertuples()}
    novel = csq[[k not in known for k in zip(csq.contig, csq.pos, csq.ref, csq.alt, strict=True)]]
    assert novel["AF"].isna().all()

    assertions = tiny_cohort.knowledge.assertions
    hits = csq.merge(
        assertions, left_on=["contig", "pos", "ref", "alt"],
        right_on=["contig", "position", "ref", "alt"],
    )  # fmt: skip
    assert len(hits) >= 5
    assert (hits["CLNSIG"] == hits["classification"]).all()  # spaces survive the encoding
    assert (hits["CLNREVSTAT"] == hits["review_status"]).all()
    assert (hits["stars_x"] == hits["stars_y"]).all()
    assert csq.loc[csq["CLNSIG"].isna(), "stars"].eq(-1).all()


def test_reserved_characters_are_encoded(annotated, tiny_cohort):
    _, out = annotated
    with pysam.VariantFile(str(out)) as f:
        entries = [e for r in f for e in r.info["CSQ"]]
    assert all(len(e.split("|")) == len(CSQ_FIELDS) for e in entries)
    assert any("%2C" in e for e in entries)  # "criteria provided, single submitter"
    assert not any(" " in e for e in entries)


def test_annotation_is_deterministic_and_rejects_bad_input(annotated, tiny_cohort, tmp_path):
    vcf, out = annotated
    again = annotate_vcf(
        vcf, reference=tiny_cohort.reference, knowledge=tiny_cohort.knowledge,
        out_vcf=tmp_path / "again.vcf.gz",
    )  # fmt: skip
    assert again.read_bytes() == out.read_bytes()
    with pytest.raises(PipelineInputError) as err:
        annotate_vcf(
            tmp_path / "none.vcf.gz", reference=tiny_cohort.reference,
            knowledge=tiny_cohort.knowledge, out_vcf=tmp_path / "x.vcf.gz",
        )  # fmt: skip
    assert err.value.path == tmp_path / "none.vcf.gz"
    with pytest.raises(PipelineInputError, match="no CSQ"):
        read_csq(vcf)
    assert isinstance(read_csq(out, pass_only=True), pd.DataFrame)
