"""People, pedigree transmission and population structure of the simulated genomes."""

from __future__ import annotations

import itertools

import allel
import numpy as np
import pandas as pd
import pytest

from workbench.errors import InputError
from workbench.synth.genomes import CohortSource, de_novo_sites
from workbench.synth.population import (
    MUTATION_RATE,
    PRESETS,
    RECOMBINATION_RATE,
    Preset,
    _sim_ancestry_in_pieces,
    join_pieces,
    make_people,
    rate_maps,
    simulate_contig,
)

TINY = PRESETS["tiny"]


@pytest.fixture(scope="module")
def people():
    return make_people(TINY, rng=np.random.default_rng(7))


@pytest.fixture(scope="module")
def contigs(people):
    return {
        name: simulate_contig(people, contig=name, length=length, panel_per_population=20, seed=11)
        for name, length in TINY.contigs.items()
    }


def _genotypes(g, people):
    source = CohortSource([g], list(people.person_id))
    return np.array([gt for *_, gt in source.iter_records(0, source.num_records)])


def test_people_table_has_the_families_asked_for(people):
    assert len(people) == TINY.samples
    assert people.person_id.is_unique
    fam = people.dropna(subset=["family_id"])
    assert fam.family_id.nunique() == TINY.trios + TINY.quads
    assert (fam.role == "proband").sum() == TINY.trios + TINY.quads
    assert (fam.role == "sibling").sum() == TINY.quads
    children = fam[fam.father_id.notna()]
    parents = people.set_index("person_id")
    assert (parents.loc[children.father_id, "sex"] == "male").all()
    assert (parents.loc[children.mother_id, "sex"] == "female").all()
    assert (parents.loc[children.father_id, "birth_year"].to_numpy() < children.birth_year).all()


@pytest.mark.parametrize("samples", [0, -5, 10, 1_000_000, 2.5, True])
def test_absurd_sample_counts_are_refused(samples):
    with pytest.raises(InputError, match="samples"):
        make_people(TINY, samples=samples, rng=np.random.default_rng(1))


def test_same_seed_same_genomes(people):
    a = simulate_contig(people, contig="chr1", length=50_000, panel_per_population=5, seed=3)
    b = simulate_contig(people, contig="chr1", length=50_000, panel_per_population=5, seed=3)
    assert a.ts.tables.equals(b.ts.tables, ignore_provenance=True)


@pytest.mark.parametrize("contig", list(TINY.contigs))
def test_mendel_errors_only_at_true_de_novo_sites(contigs, people, contig):
    g = contigs[contig]
    gt = _genotypes(g, people)
    positions = CohortSource([g], list(people.person_id))._positions[0]
    de_novo = de_novo_sites([g], people)
    index = {p: i for i, p in enumerate(people.person_id)}
    checked = 0
    for i, row in people.iterrows():
        if pd.isna(row.father_id):
            continue
        child, father, mother = gt[:, i], gt[:, index[row.father_id]], gt[:, index[row.mother_id]]
        if g.is_x and row.sex == "male":
            # his one X is one of his mother's
            ok = (child[:, 0] == mother[:, 0]) | (child[:, 0] == mother[:, 1])
        elif g.is_x:
            # a daughter's paternal X is her father's only X
            ok = (child[:, 0] == father[:, 0]) & (
                (child[:, 1] == mother[:, 0]) | (child[:, 1] == mother[:, 1])
            )
        else:
            ok = ((child[:, 0] == father[:, 0]) | (child[:, 0] == father[:, 1])) & (
                (child[:, 1] == mother[:, 0]) | (child[:, 1] == mother[:, 1])
            )
        expected = np.isin(positions, de_novo.position[de_novo.person_id == row.person_id])
        assert (~ok == expected).all(), f"{row.person_id}: Mendel errors away from de novo sites"
        checked += 1
    assert checked == TINY.trios + 2 * TINY.quads


def test_every_child_carries_background_de_novo_mutations_at_the_human_rate(people):
    # 2 Mb per child, both haplotypes: 2 * 2e6 * 1.25e-8 = 0.05 de novo mutations per child
    # and contig; over the 12 children of the tiny families and 40 contigs, about 24.
    length = 2_000_000
    found = 0
    for seed in range(40):
        g = simulate_contig(people, contig="chr1", length=length, panel_per_population=1, seed=seed)
        found += len(de_novo_sites([g], people))
    children = int(people.father_id.notna().sum())
    expected = children * 40 * 2 * length * MUTATION_RATE
    assert 0.5 * expected < found < 1.6 * expected


def test_rate_maps_mutate_only_windows_and_compress_recombination_between_them():
    windows = [(1_000, 2_000), (2_000, 2_500), (50_000, 51_000)]
    recombination, mutation = rate_maps(100_000, windows, compression=0.1)
    assert mutation.get_cumulative_mass(100_000) == pytest.approx(2_500 * MUTATION_RATE)
    assert recombination.get_cumulative_mass(100_000) == pytest.approx(
        RECOMBINATION_RATE * (2_500 + 0.1 * 97_500)
    )
    with pytest.raises(InputError, match="not sorted"):
        rate_maps(100_000, [(5_000, 6_000), (1_000, 2_000)])
    with pytest.raises(InputError, match="compression"):
        rate_maps(100_000, windows, compression=2)


def _pedigree_ts(length):
    import msprime

    dem = msprime.Demography.isolated_model([1_000])
    pb = msprime.PedigreeBuilder(demography=dem)
    parents = [pb.add_individual(time=1, population=0, is_sample=True) for _ in range(4)]
    for _ in range(2):
        pb.add_individual(time=0, population=0, is_sample=True, parents=parents[:2])
    tables = pb.finalise(sequence_length=length)
    ts = msprime.sim_ancestry(
        initial_state=tables, model="fixed_pedigree", recombination_rate=1e-8, random_seed=1
    )
    return ts, dem


def test_the_coalescent_in_pieces_keeps_the_pedigree_whole():
    import msprime

    ts, dem = _pedigree_ts(1_000_000)
    whole = _sim_ancestry_in_pieces(ts, demography=dem, recombination=1e-8, seed=3, piece=300_000)
    assert whole.sequence_length == ts.sequence_length
    assert whole.num_samples == ts.num_samples and whole.num_individuals == ts.num_individuals
    assert all(tree.num_roots == 1 for tree in whole.trees())
    # The children's edges to their parents are the pedigree step's, uncut by the pieces.
    kids = np.flatnonzero(ts.nodes_time == 0)
    mine = whole.tables.edges[np.isin(whole.edges_child, kids)]
    theirs = ts.tables.edges[np.isin(ts.edges_child, kids)]
    assert mine == theirs
    # Four pieces of 250 kb: the deep genealogy changes at every cut.
    assert {250_000, 500_000, 750_000} <= set(whole.breakpoints())
    # The join is tskit's concatenate, done directly.
    bounds = np.linspace(0, 1_000_000, 5).round()
    parts = [
        msprime.sim_ancestry(
            initial_state=ts.keep_intervals([[a, b]], simplify=False).trim(),
            demography=dem,
            recombination_rate=1e-8,
            random_seed=k + 1,
        )
        for k, (a, b) in enumerate(itertools.pairwise(bounds))
    ]
    maps = [
        np.where(np.arange(p.num_nodes) < ts.num_nodes, np.arange(p.num_nodes), -1) for p in parts
    ]
    theirs = parts[0].concatenate(*parts[1:], node_mappings=maps[1:], add_populations=False)
    tables = theirs.dump_tables()
    tables.sort()
    tables.edges.squash()
    tables.sort()
    joined = join_pieces(parts, bounds, shared=ts.num_nodes)
    assert joined.tables.nodes == tables.nodes and joined.tables.edges == tables.edges
    # One piece is plain msprime.
    one = _sim_ancestry_in_pieces(ts, demography=dem, recombination=1e-8, seed=3, piece=10**7)
    plain = msprime.sim_ancestry(
        initial_state=ts, demography=dem, recombination_rate=1e-8, random_seed=3
    )
    assert one.tables.equals(plain.tables, ignore_provenance=True)


def test_a_windowed_chromosome_varies_only_in_its_windows_and_relatives_stay_related(people):
    """Sites only where there is sequence; the pedigree still recombines over the whole
    length, so parents and children share exactly one haplotype everywhere."""
    length = 20_000_000
    windows = [(a, a + 2_000) for a in range(100_000, length, 400_000)]
    g = simulate_contig(
        people, contig="chr1", length=length, panel_per_population=5, seed=3, windows=windows
    )
    pos = g.ts.tables.sites.position.astype(int)
    assert len(pos) > 100
    starts = np.array([a for a, _ in windows])
    k = np.searchsorted(starts, pos, side="right") - 1
    assert (k >= 0).all() and (pos < starts[k] + 2_000).all()
    gt = _genotypes(g, people)
    index = {pid: i for i, pid in enumerate(people.person_id)}
    child = people[people.father_id.notna()].iloc[0]
    c, f, m = (
        gt[:, index[child.person_id]],
        gt[:, index[child.father_id]],
        gt[:, index[child.mother_id]],
    )
    opposite = ((c.sum(1) == 0) & ((f.sum(1) == 2) | (m.sum(1) == 2))).sum()
    assert opposite <= 2  # only a de novo or a calling-free simulation artefact could do it


def test_males_are_hemizygous_on_x_only(contigs, people):
    male = (people.sex == "male").to_numpy()
    x = _genotypes(contigs["chrX"], people)
    assert (x[:, male, 1] == -2).all()
    assert (x[:, ~male, :] >= 0).all()
    auto = _genotypes(contigs["chr1"], people)
    assert (auto >= 0).all()


@pytest.fixture(scope="module")
def structured():
    """Unrelated people of the three populations (no families) on 600 kb."""
    preset = Preset(
        samples=450, trios=0, quads=0, contigs={"chr1": 600_000}, panel_per_population=1
    )
    people = make_people(preset, rng=np.random.default_rng(5))
    # balance the populations so each has enough people for the statistics
    people["population"] = np.repeat(["NOR", "MEN", "SAS"], 150)
    g = simulate_contig(people, contig="chr1", length=600_000, panel_per_population=1, seed=9)
    return people, allel.GenotypeArray(_genotypes(g, people))


def test_hardy_weinberg_holds_within_populations(structured):
    people, gt = structured
    for pop in ("NOR", "MEN", "SAS"):
        sub = gt[:, (people.population == pop).to_numpy()]
        biallelic = gt.count_alleles().max_allele() <= 1
        ac = sub.count_alleles(max_allele=1)
        keep = biallelic & (ac.min(axis=1) >= 10)
        assert keep.sum() > 50, f"{pop}: too few common sites to test ({keep.sum()})"
        hom_alt = sub[keep].count_hom_alt(axis=1)
        het = sub[keep].count_het(axis=1)
        n = sub.shape[1]
        p = ac[keep][:, 1] / (2 * n)
        expected_het = 2 * p * (1 - p) * n
        # Excess or deficit of heterozygotes beyond sampling noise would mean structure or
        # relatedness inside a population; here the mean ratio stays close to 1.
        ratio = het.sum() / expected_het.sum()
        assert 0.93 < ratio < 1.07, f"{pop}: observed/expected heterozygosity {ratio:.3f}"
        assert hom_alt.sum() > 0


def test_fst_and_pca_show_structure(structured):
    people, gt = structured
    pops = people.population.to_numpy()
    ac = {p: gt[:, pops == p].count_alleles(max_allele=1) for p in ("NOR", "MEN", "SAS")}
    num, den = allel.hudson_fst(ac["NOR"], ac["SAS"])
    fst = np.nansum(num) / np.nansum(den)
    assert fst > 0.03, f"Hudson Fst NOR–SAS {fst:.3f} shows no structure"
    n_alt = gt.to_n_alt()
    common = (n_alt.sum(axis=1) > 20) & (n_alt.sum(axis=1) < 2 * gt.shape[1] - 20)
    coords, _ = allel.pca(n_alt[common], n_components=2, scaler="patterson")
    # Each population forms its own cluster on the first two components.
    centres = {p: coords[pops == p].mean(axis=0) for p in ("NOR", "MEN", "SAS")}
    spread = max(coords[pops == p].std(axis=0).max() for p in centres)
    gaps = [
        np.linalg.norm(centres[a] - centres[b])
        for a, b in [("NOR", "MEN"), ("NOR", "SAS"), ("MEN", "SAS")]
    ]
    assert min(gaps) > 2 * spread, f"populations overlap on PCA: gaps {gaps}, spread {spread}"
