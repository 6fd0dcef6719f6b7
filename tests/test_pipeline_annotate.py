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
    "Format: Allele|Consequence|IMPACT|SYMBOL|Feature|BIOTYPE|HGVSc|HGVSp|CANONICAL|MANE_SELECT|"
    "AF|AF_NOR|AF_MEN|AF_SAS|"
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
        hgvs_p = row["HGVSp"] if isinstance(row["HGVSp"], str) else ""
        assert hgvs_p == (v.hgvs_p if isinstance(v.hgvs_p, str) else "")
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


def _vcf(path, rows, contigs):
    header = "##fileformat=VCFv4.2\n" + "".join(
        f"##contig=<ID={c},length={n}>\n" for c, n in contigs.items()
    )
    header += "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    body = "".join(f"{c}\t{p}\t.\t{r}\t{a}\t.\tPASS\t.\n" for c, p, r, a in rows)
    path.write_text(header + body)
    return path


def test_one_bad_record_is_flagged_and_the_rest_annotated(tiny_cohort, tmp_path):
    ref = tiny_cohort.reference
    seq = ref.sequence("chr1")
    good = [("chr1", p, seq[p - 1], "A" if seq[p - 1] != "A" else "C") for p in (100, 300)]
    wrong = ("chr1", 200, "A" if seq[199] != "A" else "C", "G")  # REF differs from the genome
    vcf = _vcf(tmp_path / "in.vcf", [good[0], wrong, good[1]], ref.contigs)
    errors = []
    out = annotate_vcf(vcf, reference=ref, out_vcf=tmp_path / "out.vcf.gz", errors=errors)
    with pysam.VariantFile(str(out)) as f:
        records = list(f)
    assert [r.pos for r in records] == [100, 200, 300]
    assert "CSQ" in records[0].info and "CSQ" in records[2].info
    assert "CSQ" not in records[1].info and "does%20not%20match" in records[1].info["CSQ_ERROR"][0]
    assert [e[:2] for e in errors] == [("chr1", 200)] and "does not match" in errors[0][4]


def test_without_knowledge_only_transcript_fields_and_flags(tiny_cohort, tmp_path):
    ref = tiny_cohort.reference
    t = ref.genes[0].transcript
    g = t.cds_start + 4
    base = ref.sequence(t.contig)[g - 1]
    vcf = _vcf(tmp_path / "in.vcf", [(t.contig, g, base, "T" if base != "T" else "G")],
               ref.contigs)  # fmt: skip
    out = annotate_vcf(vcf, reference=ref, out_vcf=tmp_path / "out.vcf.gz")
    csq = read_csq(out)
    assert list(csq.columns[5:15]) == list(csq_fields(None))
    row = csq[csq.Feature == t.transcript_id].iloc[0]
    assert row.CANONICAL == "YES" and pd.isna(row.MANE_SELECT)
    assert "AF" not in csq and "CLNSIG" not in csq


def test_a_padded_spelling_still_finds_its_assertion(tiny_cohort, tmp_path):
    """Knowledge is matched on the normalised allele: a padded indel keeps its CLNSIG."""
    truth = tiny_cohort.truth()["variants"]
    assertions = tiny_cohort.knowledge.assertions
    keyed = assertions.set_index(["contig", "position", "ref", "alt"])
    indels = [
        v for v in truth.itertuples()
        if len(v.ref) != len(v.alt) and (v.contig, v.position, v.ref, v.alt) in keyed.index
    ]  # fmt: skip
    assert indels, "the tiny cohort has no asserted indel to check"
    v = indels[0]
    seq = tiny_cohort.reference.sequence(v.contig)
    after = seq[v.position - 1 + len(v.ref)]  # pad on the right: same change, other spelling
    vcf = _vcf(tmp_path / "in.vcf", [(v.contig, v.position, v.ref + after, v.alt + after)],
               tiny_cohort.reference.contigs)  # fmt: skip
    out = annotate_vcf(vcf, reference=tiny_cohort.reference, knowledge=tiny_cohort.knowledge,
                       out_vcf=tmp_path / "out.vcf.gz")  # fmt: skip
    csq = read_csq(out)
    expected = keyed.loc[(v.contig, v.position, v.ref, v.alt), "classification"]
    assert set(csq.CLNSIG) == {expected.iloc[0] if hasattr(expected, "iloc") else expected}
