"""Agreement with bcftools csq (``workbench.genome.agreement``), on the tiny cohort.

Measured (benchmarks/bench_annotation.py, teaching cohort, seed 42): the cohort's variants
100 % on the most severe term (9,497 variant × gene pairs, 16 indels); the designed boundary
set 98.0 % (SNVs 100 %, indels 97.2 %), csq's term among ours 98.6 %, and every one of the
9,442 differing pairs of 472,751 accounted for by an ``EXPLAINED`` entry (a rule of VEP or the
Sequence Ontology that csq does not follow). On 42 real genes in 35 excerpts (bcftools' own,
34 human): 93.2 %, csq's term among ours 97.6 %, 21 of 161,595 pairs unexplained.
"""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.genome import agreement
from workbench.genome.agreement import (
    compare_with_bcftools_csq,
    designed_variants,
    summarise,
    write_sites,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("11Y>11H", "11Y>H"), ("41R>41*", "41R>*"), ("12G", None), ("", None)],
)
def test_csq_protein_changes_are_read(text, expected):
    assert agreement._csq_protein(text) == expected


@pytest.mark.parametrize(
    ("hgvs", "expected"),
    [("p.(Tyr11His)", "11Y>H"), ("p.(Arg41Ter)", "41R>*"), ("p.(Leu10=)", None),
     ("p.(Lys45ArgfsTer12)", None), (None, None)],
)  # fmt: skip
def test_our_protein_changes_are_read(hgvs, expected):
    assert agreement._our_protein(hgvs) == expected


def test_csq_terms_map_to_sequence_ontology():
    assert agreement._csq_terms("*missense&splice_region") == [
        "missense_variant",
        "splice_region_variant",
    ]
    assert set(agreement.CSQ_TO_SO.values()) <= set(agreement.CONSEQUENCES)


def _files(path):
    return dict(fasta=path / "reference" / "genome.fa", gff3=path / "reference" / "genes.gff3")


def test_the_cohorts_variants_agree_with_bcftools_csq(tiny_cohort, tiny_cohort_path):
    table = compare_with_bcftools_csq(
        tiny_cohort_path / "genotypes.vcf.gz", reference=tiny_cohort.reference,
        **_files(tiny_cohort_path),
    )  # fmt: skip
    s = summarise(table)
    assert s["compared"] > 100
    assert s["term_agreement"] >= 0.99, s["disagreements"]
    assert s["protein_agreement"] == 1.0 and s["protein_compared"] > 10


def test_boundary_variants_agree_or_are_explained(tiny_cohort, tiny_cohort_path, tmp_path):
    ref = tiny_cohort.reference
    genes = [next(g.symbol for g in ref.genes if g.strand == s) for s in "+-"]
    vcf = write_sites(designed_variants(ref, genes=genes), tmp_path / "d.vcf.gz",
                      contigs=ref.contigs)  # fmt: skip
    table = compare_with_bcftools_csq(vcf, reference=ref, **_files(tiny_cohort_path))
    s = summarise(table)
    assert s["indels"] > 500
    assert s["snv_term_agreement"] == 1.0
    assert s["term_agreement"] >= 0.95, s["disagreements"]
    assert s["unexplained"] <= 0.001 * s["compared"], s["disagreements"]


def test_a_wrong_annotator_is_noticed(tiny_cohort, tiny_cohort_path, monkeypatch):
    """The comparison has teeth: an annotator that calls every missense synonymous fails."""
    real = agreement.annotate

    def wrong(*args):
        return [
            a.__class__(**{**a.__dict__, "consequences": ("synonymous_variant",)})
            if a.consequence == "missense_variant" else a
            for a in real(*args)
        ]  # fmt: skip

    monkeypatch.setattr(agreement, "annotate", wrong)
    table = compare_with_bcftools_csq(
        tiny_cohort_path / "genotypes.vcf.gz", reference=tiny_cohort.reference,
        **_files(tiny_cohort_path),
    )  # fmt: skip
    assert summarise(table)["term_agreement"] < 0.99
    assert isinstance(table, pd.DataFrame)


def test_the_gtf_written_for_snpeff_reads_back_as_the_same_models(tiny_cohort, tmp_path):
    from workbench.genome.gff import read_gene_models

    ref = tiny_cohort.reference
    gtf = agreement.write_gtf(ref, tmp_path / "genes.gtf")
    seqs = {c: ref.sequence(c) for c in ref.contigs}
    models = read_gene_models(gtf, sequences=seqs)
    assert models.refused == ()
    back = {t.transcript_id: t for g in models.genes for t in g.transcripts}
    for g in ref.genes:
        t = g.transcript
        u = back[t.transcript_id]
        assert (u.exons, u.cds_start, u.cds_end, u.strand) == (t.exons, t.cds_start, t.cds_end,
                                                               t.strand)  # fmt: skip
