"""Population structure: LD, PCA, Fst, SFS — checked against scikit-allel and brute force."""

from __future__ import annotations

import allel
import dask.array as da
import numpy as np
import pandas as pd
import pytest

from workbench.analysis.structure import (
    hudson_fst,
    ld_bands,
    ld_decay,
    ld_prune,
    ld_r2,
    pairwise_fst,
    pca,
    sfs,
)
from workbench.errors import InputError


@pytest.fixture(scope="module")
def chr1(tiny_cohort):
    return tiny_cohort.genotypes(contig="chr1")


@pytest.fixture(scope="module")
def chrx(tiny_cohort):
    return tiny_cohort.genotypes(contig="chrX")


@pytest.fixture(scope="module")
def samples(tiny_cohort):
    return tiny_cohort.samples()


def _lazy(gt, rows=250):
    return allel.GenotypeDaskArray(da.from_array(np.asarray(gt), chunks=(rows, 25, 2)))


def _polymorphic(gt):
    ac = gt.count_alleles()
    return gt[(ac.max_allele() == 1) & ac.is_segregating()]


# -- LD -----------------------------------------------------------------------------------------
def test_ld_r2_matches_rogers_huff(chr1):
    g = _polymorphic(chr1)[:300]
    expected = allel.rogers_huff_r(g.to_n_alt(fill=-1)) ** 2
    got = ld_r2(g, condensed=True)
    assert np.array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6, equal_nan=True)
    square = ld_r2(g)
    assert square.shape == (300, 300)
    np.testing.assert_allclose(np.diag(square), 1.0)


def test_ld_r2_uses_the_samples_called_at_both_variants(chrx):
    # Males' chrX calls are missing: each pair must use only the women's calls, as allel does.
    g = _polymorphic(chrx)[:200]
    gn = g.to_n_alt(fill=-1)
    gn[np.random.default_rng(3).random(gn.shape) < 0.05] = -1  # and scattered missing calls
    expected = allel.rogers_huff_r(gn) ** 2
    got = ld_r2(gn, condensed=True)
    assert (gn < 0).any()
    assert np.array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6, equal_nan=True)


@pytest.mark.parametrize(
    ("contig", "size", "step", "threshold"),
    [("chr1", 100, 20, 0.1), ("chr2", 50, 10, 0.2), ("chrX", 30, 30, 0.05)],
)
def test_ld_prune_keeps_what_allel_locate_unlinked_keeps(
    tiny_cohort, contig, size, step, threshold
):
    gt = tiny_cohort.genotypes(contig=contig)
    mask = ld_prune(gt, size=size, step=step, threshold=threshold, min_maf=0.05)
    ac = gt.count_alleles()
    af = ac.to_frequencies()
    maf = np.minimum(af[:, 0], af[:, 1])
    candidates = (ac.max_allele() <= 1) & (maf >= 0.05)
    loc = allel.locate_unlinked(
        gt[candidates].to_n_alt(fill=-1), size=size, step=step, threshold=threshold
    )
    assert not mask[~candidates].any()
    assert np.array_equal(mask[candidates], loc)
    assert 0 < mask.sum() < candidates.sum()


def test_ld_prune_reads_dask_arrays_block_by_block(chr1):
    assert np.array_equal(ld_prune(_lazy(chr1)), ld_prune(chr1))


def test_ld_decay_bins_match_brute_force(tiny_cohort, chr1):
    positions = tiny_cohort.variants(contig="chr1").position.to_numpy()
    decay = ld_decay(chr1, positions, max_distance=20_000, n_bins=4, min_maf=0.1)
    ac = chr1.count_alleles()
    af = ac.to_frequencies()
    keep = (ac.max_allele() <= 1) & (np.minimum(af[:, 0], af[:, 1]) >= 0.1)
    r2 = ld_r2(chr1[keep])
    pos = positions[keep]
    dist = pos[None, :] - pos[:, None]
    upper = np.triu(np.ones_like(r2, dtype=bool), k=1)
    for row in decay.itertuples():
        sel = upper & (dist > row.distance_start) & (dist <= row.distance_stop) & ~np.isnan(r2)
        assert row.pairs == sel.sum()
        assert row.mean_r2 == pytest.approx(r2[sel].mean())
    assert list(decay.distance_stop) == [5000, 10000, 15000, 20000]


def test_ld_decay_needs_sorted_positions_of_one_contig(tiny_cohort):
    gt = tiny_cohort.genotypes()
    with pytest.raises(InputError, match="one contig"):
        ld_decay(gt, tiny_cohort.variants().position)


# -- PCA ----------------------------------------------------------------------------------------
def test_randomized_pca_agrees_with_the_exact_one(tiny_cohort):
    gt = tiny_cohort.genotypes()
    exact, ev_exact = pca(gt, method="exact", n_components=3)
    fast, ev_fast = pca(gt, method="randomized", n_components=3, n_iter=6)
    for k in ("PC1", "PC2"):
        assert abs(np.corrcoef(exact[k], fast[k])[0, 1]) > 0.999
    np.testing.assert_allclose(ev_fast[:2], ev_exact[:2], rtol=0.01)
    assert ev_fast[0] > ev_fast[1] > ev_fast[2]


def test_pca_on_dask_equals_pca_in_memory(tiny_cohort):
    gt = tiny_cohort.genotypes()
    mem, ev_mem = pca(gt, method="randomized", sample_ids=tiny_cohort.sample_ids, seed=7)
    lazy, ev_lazy = pca(_lazy(gt), sample_ids=tiny_cohort.sample_ids, seed=7)  # auto → randomised
    np.testing.assert_allclose(lazy.to_numpy(), mem.to_numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ev_lazy, ev_mem, rtol=1e-5)
    assert list(lazy.index[:2]) == tiny_cohort.sample_ids[:2]


def _two_populations(seed=0, n_sites=2000, sizes=(40, 30)):
    """Unlinked sites in two populations drifted apart from one ancestor (Fst ≈ 0.05)."""
    rng = np.random.default_rng(seed)
    anc = rng.uniform(0.1, 0.9, n_sites)
    blocks, labels = [], []
    for name, n in zip("AB", sizes, strict=True):
        p = np.clip(anc + rng.normal(0, 0.1, n_sites), 0.01, 0.99)
        blocks.append((rng.random((n_sites, n, 2)) < p[:, None, None]).astype(np.int8))
        labels += [name] * n
    return allel.GenotypeArray(np.concatenate(blocks, axis=1)), np.array(labels)


@pytest.mark.parametrize("method", ["exact", "randomized"])
def test_pca_separates_two_populations(method):
    gt, labels = _two_populations()
    coords, explained = pca(gt, method=method, n_components=2)
    a, b = coords.PC1[labels == "A"], coords.PC1[labels == "B"]
    assert a.max() < b.min() or b.max() < a.min()
    assert explained[0] > 2 * explained[1] > 0


def test_pca_is_deterministic_given_the_seed(tiny_cohort):
    gt = tiny_cohort.genotypes(contig="chr1")
    a, _ = pca(gt, method="randomized", seed=1, max_variants=300)
    b, _ = pca(gt, method="randomized", seed=1, max_variants=300)
    assert np.array_equal(a.to_numpy(), b.to_numpy())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "svd"}, "method"),
        ({"n_components": 0}, "n_components"),
        ({"min_maf": 0.5}, "min_maf"),
        ({"max_variants": 1}, "max_variants"),
        ({"sample_ids": ["a"]}, "sample ids"),
    ],
)
def test_pca_rejects_bad_arguments(chr1, kwargs, match):
    with pytest.raises(InputError, match=match):
        pca(chr1, **kwargs)


# -- Fst and SFS --------------------------------------------------------------------------------
def test_hudson_fst_is_allels_ratio_of_averages(tiny_cohort, samples):
    gt = tiny_cohort.genotypes()
    subpops = {p: np.flatnonzero(samples.population == p) for p in ("NOR", "MEN")}
    ac = gt.count_alleles_subpops(subpops, max_allele=gt.max())
    num, den = allel.hudson_fst(ac["NOR"], ac["MEN"])
    expected = np.nansum(num) / np.nansum(den)
    assert hudson_fst(ac["NOR"], ac["MEN"]) == pytest.approx(expected, rel=1e-12)
    table = pairwise_fst(gt, populations=samples.population)
    assert table.loc["MEN", "NOR"] == table.loc["NOR", "MEN"] == pytest.approx(expected)
    assert (np.diag(table) == 0).all() and list(table.index) == ["MEN", "NOR"]
    assert 0 < expected < 0.5


def test_pairwise_fst_on_dask_equals_in_memory(tiny_cohort, samples):
    gt = tiny_cohort.genotypes()
    labels = samples.population.where(samples.index % 3 != 0, "SAS")  # three groups
    mem = pairwise_fst(gt, populations=labels)
    lazy = pairwise_fst(_lazy(gt), populations=labels)
    pd.testing.assert_frame_equal(mem, lazy)
    assert mem.shape == (3, 3)


def test_fst_needs_one_label_per_sample(chr1):
    with pytest.raises(InputError, match="one population label per sample"):
        pairwise_fst(chr1, populations=["NOR", "MEN"])


@pytest.mark.parametrize("folded", [False, True])
def test_sfs_matches_allel_per_population(tiny_cohort, samples, folded):
    gt = tiny_cohort.genotypes(contig="chr1")
    spectrum = sfs(gt, populations=samples.population, folded=folded)
    biallelic = gt.count_alleles().max_allele() <= 1
    for pop in ("MEN", "NOR"):
        ac = gt[:, np.flatnonzero(samples.population == pop)].count_alleles(max_allele=1)
        n = int(ac.sum(axis=1).max())
        sites = biallelic & (ac.sum(axis=1) == n)
        expected = allel.sfs_folded(ac[sites], n=n) if folded else allel.sfs(ac[sites, 1], n=n)
        got = spectrum[spectrum.population == pop]
        assert (got.n_chromosomes == n).all()
        assert np.array_equal(got.sites.to_numpy(), expected)


def test_sfs_of_the_whole_cohort_counts_every_complete_biallelic_site(chr1):
    spectrum = sfs(_lazy(chr1))
    assert set(spectrum.population) == {"all"}
    ac = chr1.count_alleles()
    complete = (ac.max_allele() <= 1) & (ac.sum(axis=1) == 2 * chr1.shape[1])
    assert spectrum.sites.sum() == complete.sum()


# -- plots --------------------------------------------------------------------------------------
def test_plots_draw_on_the_axes_they_are_given(tiny_cohort, samples, chr1):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from workbench.analysis.plots import plot_fst, plot_kinship, plot_ld_decay, plot_pca, plot_sfs

    fig, axes = plt.subplots(1, 5)
    try:
        coords, _explained = pca(chr1, method="randomized", n_components=2)
        assert plot_pca(coords, samples.region.rename("region"), ax=axes[0]) is axes[0]
        assert len(axes[0].collections) == samples.region.nunique()
        fst = pairwise_fst(chr1, populations=samples.population)
        assert plot_fst(fst, ax=axes[1]) is axes[1]
        assert len(axes[1].texts) == fst.size
        kin = pd.DataFrame([[0.5, 0.25], [0.25, 0.5]], index=["P1", "P2"], columns=["P1", "P2"])
        assert plot_kinship(kin, labels={"P1": "father"}, ax=axes[2]) is axes[2]
        assert axes[2].get_yticklabels()[0].get_text() == "P1 father"
        spectrum = sfs(chr1, populations=samples.population, folded=True)
        assert plot_sfs(spectrum, ax=axes[3]) is axes[3]
        assert len(axes[3].lines) == 2
        positions = tiny_cohort.variants(contig="chr1").position
        decay = ld_decay(chr1, positions, max_distance=20_000, n_bins=4)
        assert plot_ld_decay(decay, ax=axes[4]) is axes[4]
        assert len(axes[4].lines[0].get_xdata()) == 4
    finally:
        plt.close(fig)


def test_ld_bands_see_linked_pairs_near_and_independent_ones_far():
    """Copies of one SNP 2 kb apart are in full LD; SNPs drawn independently are not; bands
    pool pairs across contigs."""
    rng = np.random.default_rng(4)
    people = 400
    blocks, positions, contigs = [], [], []
    for k in range(300):
        h = (rng.random((people, 2)) < rng.uniform(0.2, 0.5)).astype(np.int8)
        blocks += [h, h]  # the SNP and its perfect proxy 2 kb on
        positions += [(k % 150) * 1_000_000, (k % 150) * 1_000_000 + 2_000]
        contigs += ["chr1" if k < 150 else "chr2"] * 2
    calls = np.stack(blocks)
    calls[0, 0, 0] = -1  # a missing call: that pair uses the people called at both
    decay = ld_bands(
        calls,
        np.array(contigs),
        np.array(positions),
        {"near": (1_000, 10_000), "far": (500_000, 1_500_000)},
    )
    near, n_near = decay["near"]
    far, n_far = decay["far"]
    assert n_near == 300  # one pair per SNP, on both contigs
    assert n_far > 300
    assert near > 0.99
    assert far < 0.02  # about 1 / people for independent sites
