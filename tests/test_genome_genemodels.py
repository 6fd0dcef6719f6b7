"""Exome-scale gene models: human sizes, real chromosome lengths, sequence where it counts."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from workbench.errors import InputError
from workbench.genome.genemodels import (
    GRCH38_LENGTHS,
    PROTEIN_CODING_GENES,
    GeneSizes,
    build_genome,
    genes_per_chromosome,
)
from workbench.synth.genes import BACKGROUND_PREFIX, exome_gene_set, gene_catalogue, hpo_genes


@pytest.fixture(scope="module")
def genome():
    """1,500 genes on two real-length chromosomes (about 10 s)."""
    chromosomes = {c: GRCH38_LENGTHS[c] for c in ("chr19", "chrX")}
    counts = genes_per_chromosome(list(chromosomes), 1_500)
    genes = [(f"G{c}_{i}", c) for c, n in counts.items() for i in range(n)]
    return build_genome(chromosomes=chromosomes, genes=genes, rng=np.random.default_rng(3))


def test_genes_are_shared_by_real_gene_counts():
    counts = genes_per_chromosome(list(GRCH38_LENGTHS), 19_000)
    assert sum(counts.values()) == 19_000
    assert counts["chr19"] > counts["chr18"] * 4  # gene-rich 19, gene-poor 18
    share = counts["chr1"] / 19_000
    assert share == pytest.approx(PROTEIN_CODING_GENES["chr1"] / 20_558, abs=0.002)
    with pytest.raises(InputError, match="GRCh38 names"):
        genes_per_chromosome(["chr1", "chrM"], 10)


def test_gene_sizes_follow_human_refseq_transcripts(genome):
    """Piovesan 2019: coding exons median 8, coding exon median 120 bp, intron median 1,747."""
    tx = genome.transcripts
    coding_exons = np.array([len(t.cds_segments()) for t in tx])
    segment = np.array([b - a + 1 for t in tx for a, b in t.cds_segments()[1:-1]])
    introns = np.array([b2 - a1 - 1 for t in tx for (_, a1), (b2, _) in _pairs(t.exons)])
    cds = np.array([sum(b - a + 1 for a, b in t.cds_segments()) for t in tx])
    assert 7 <= np.median(coding_exons) <= 9
    assert 9 <= coding_exons.mean() <= 11.5
    assert 0.03 <= np.mean(coding_exons == 1) <= 0.09
    assert 105 <= np.median(segment) <= 135
    # chr19's genes are packed (introns shortened to fit), so only the shape is checked there.
    assert 900 <= np.median(introns) <= 2_000
    assert np.mean(introns) > 2.5 * np.median(introns)  # the long tail
    assert 1_000 <= np.median(cds) <= 1_400
    assert genome.contigs == {"chr19": 58_617_616, "chrX": 156_040_895}


def _pairs(exons):
    return list(itertools.pairwise(exons))


def test_sequence_is_known_around_exons_and_n_deep_in_introns(genome):
    for t in genome.transcripts[::25]:
        seq = genome.sequence(t.contig)
        for (_, end), (start, _) in _pairs(t.exons):
            # splice region and 50 bp of intron on either side are real bases
            assert "N" not in seq[end : end + 50] and "N" not in seq[start - 51 : start - 1]
            if start - end > 400:
                assert set(seq[end + 100 : start - 101]) <= {"N"}
        assert seq[t.exons[0][0] - 1 : t.exons[0][1]].count("N") == 0
    known = sum(b - a for c in genome.contigs for a, b in genome.known_windows(c))
    assert known < 0.05 * sum(genome.contigs.values())


def test_genes_do_not_overlap_and_neutral_windows_lie_between_them(genome):
    for contig in genome.contigs:
        genes = [g for g in genome.genes if g.contig == contig]
        for a, b in itertools.pairwise(genes):
            assert a.end < b.start
        spans = [(g.start - 51, g.end + 50) for g in genes]
        neutral = [
            (a, b)
            for a, b in genome.known_windows(contig)
            if not any(s <= a < e or s < b <= e for s, e in spans)
        ]
        gene_space = sum(e - s + 2_000 for s, e in spans)  # genes and their margins
        expected = (genome.contigs[contig] - gene_space) / 500_000
        assert 0.5 * expected <= len(neutral) <= 1.5 * expected


def test_the_same_seed_gives_the_same_genome():
    kw = dict(chromosomes={"chr21": GRCH38_LENGTHS["chr21"]}, genes=[("A1", "chr21")])
    a = build_genome(rng=np.random.default_rng(5), **kw)
    b = build_genome(rng=np.random.default_rng(5), **kw)
    c = build_genome(rng=np.random.default_rng(6), **kw)
    assert a.sequence("chr21") == b.sequence("chr21") != c.sequence("chr21")
    assert a.genes == b.genes


def test_genes_that_cannot_fit_are_refused_in_one_line():
    with pytest.raises(InputError, match="lengthen it or place fewer genes"):
        build_genome(
            chromosomes={"c1": 50_000},
            genes=[(f"G{i}", "c1") for i in range(30)],
            rng=np.random.default_rng(1),
            sizes=GeneSizes(min_intron=500),
        )
    with pytest.raises(InputError, match="flank"):
        build_genome(chromosomes={"c1": 10**6}, genes=[], rng=np.random.default_rng(1), flank=3)


def test_exome_gene_sets_keep_hgnc_symbols_and_put_x_linked_genes_on_x():
    catalogue = gene_catalogue(preset="teaching", rng=np.random.default_rng(1))
    chromosomes = list(GRCH38_LENGTHS)
    genes = exome_gene_set(
        catalogue, chromosomes=chromosomes, n_genes=19_000, rng=np.random.default_rng(2)
    )
    where = dict(genes)
    assert len(where) == len(genes) == 19_000
    known = hpo_genes()
    assert set(known) <= set(where)
    assert all(where[g] == "chrX" for g, kind in known.items() if kind == "X")
    for row in catalogue.itertuples():
        assert (where[row.gene] == "chrX") == (row.contig_kind == "X")
    background = [g for g in where if g.startswith(BACKGROUND_PREFIX)]
    assert len(background) == 19_000 - len(known)
    assert not set(background) & set(known)
    with pytest.raises(InputError, match="ask for more genes"):
        exome_gene_set(
            catalogue, chromosomes=chromosomes, n_genes=100, rng=np.random.default_rng(2)
        )
