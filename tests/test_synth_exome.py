"""A cohort on the exome-scale genome model, end to end, at a size a test can afford.

The ``teaching`` preset is replaced by a small one on the same model: three chromosomes at their
real GRCh38 lengths, every HPO disease gene plus background genes, 60 people. What the model
promises is checked on the generated folder, as a user would open it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from workbench.cohort import open_cohort
from workbench.genome.genemodels import GRCH38_LENGTHS
from workbench.synth import genes as synth_genes
from workbench.synth import population
from workbench.synth.generate import generate_cohort

CHROMOSOMES = {c: GRCH38_LENGTHS[c] for c in ("chr21", "chr22", "chrX")}


@pytest.fixture(scope="module")
def exome_cohort(tmp_path_factory):
    small = dataclasses.replace(
        population.PRESETS["teaching"],
        samples=60,
        trios=4,
        quads=1,
        contigs=CHROMOSOMES,
        panel_per_population=20,
        reads_families=0,
        genes=len(synth_genes.hpo_genes()) + 300,
        samples_chunk_size=16,
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(population.PRESETS, "teaching", small)
        path = generate_cohort(
            preset="teaching", out=tmp_path_factory.mktemp("exome") / "c", seed=3, progress=False
        )
    return open_cohort(path)


def test_the_genome_has_real_lengths_and_real_gene_names(exome_cohort):
    ref = exome_cohort.reference
    assert ref.contigs == CHROMOSOMES
    assert exome_cohort.contigs == CHROMOSOMES
    assert (exome_cohort.path / "reference" / "genome.fa.gz").is_file()
    symbols = {g.symbol for g in ref.genes}
    assert {"SCN1A", "FBN1", "DMD", "CFTR"} <= symbols
    assert ref.gene("DMD").contig == "chrX"
    known = set(synth_genes.hpo_genes())
    assert known <= symbols
    background = {s for s in symbols if s.startswith(synth_genes.BACKGROUND_PREFIX)}
    assert background == symbols - known
    assert len(symbols) >= len(known) + 300


def test_variants_lie_only_where_the_reference_has_sequence(exome_cohort):
    variants = exome_cohort.variants()
    assert len(variants) > 1_000
    ref = exome_cohort.reference
    for contig, rows in variants.groupby("contig"):
        seq = ref.sequence(contig)
        for pos, allele in zip(rows.position[::50], rows.ref[::50], strict=True):
            assert seq[pos - 1 : pos - 1 + len(allele)] == allele


def test_knowledge_puts_every_linked_disease_gene_on_the_panels(exome_cohort):
    gd = exome_cohort.knowledge.gene_disease
    assert len(gd) > 3_000  # the 141 catalogue genes and the HPO genes linked to a disease
    on_x = {g.symbol for g in exome_cohort.reference.genes if g.contig == "chrX"}
    xl = set(gd.gene[gd["mode"] == "XL"])
    assert xl <= on_x
    assert gd.gene.is_unique


def test_the_planted_diagnoses_survive_on_the_new_genome(exome_cohort):
    truth = exome_cohort.path / "truth" / "variants.tsv"
    import pandas as pd

    planted = pd.read_csv(truth, sep="\t")
    assert len(planted) > 0
    variants = exome_cohort.variants()
    found = planted.merge(variants, on=["contig", "position", "ref", "alt"], how="inner")
    assert len(found.drop_duplicates(["contig", "position"])) == len(
        planted.drop_duplicates(["contig", "position"])
    )
    assert np.isin(planted.contig.unique(), list(CHROMOSOMES)).all()


def test_calls_are_chunked_by_people_so_a_family_read_decodes_few(exome_cohort):
    store = exome_cohort.calls
    calls = store.zarr["call_genotype"]
    assert calls.chunks[1] == 16  # the preset's people per chunk, not one chunk of all 60
    everyone = calls[:]
    family = [3, 17, 40]  # in three different chunks
    assert np.array_equal(store.calls_of(family), everyone[:, family])


def test_reads_of_a_gene_come_from_its_sequence_and_align(exome_cohort):
    # The exome-scale reference reads N beyond each exon's flanks: reads cut there would align
    # nowhere (course module 3 once aligned 4 % of them and stopped).
    import gzip
    import io

    import mappy

    from workbench.synth.reads import read_pair

    person = exome_cohort.samples().person_id.iloc[0]
    r1, _ = read_pair(exome_cohort, person, regions=["SCN1A"], depth=10, seed=4)
    reads = [
        line.strip()
        for i, line in enumerate(io.TextIOWrapper(gzip.GzipFile(fileobj=io.BytesIO(r1))))
        if i % 4 == 1
    ]
    assert len(reads) > 100
    assert max(r.count("N") for r in reads) == 0
    gene = exome_cohort.reference.gene("SCN1A")
    lo = max(0, gene.start - 5_000)
    hi = min(exome_cohort.reference.contigs[gene.contig], gene.end + 5_000)
    aligner = mappy.Aligner(seq=exome_cohort.reference.fetch(gene.contig, lo, hi))
    hits = [next(aligner.map(r), None) for r in reads[:200]]
    assert sum(h is not None for h in hits) >= 0.95 * len(hits)
