"""Variant and sample QC: the tiny cohort, HWE against a slow reference, the sex check, and bad
input that must be refused or noted."""

from __future__ import annotations

import sqlite3

import allel
import matplotlib
import numpy as np
import pandas as pd
import pytest
from analysis_gallery import random_genotypes
from scipy.special import gammaln

from workbench import open_cohort
from workbench.analysis import plots_qc
from workbench.analysis.qc import hwe_exact, robust_z, sample_qc, variant_qc
from workbench.errors import InputError

matplotlib.use("Agg")


def slow_hwe(n_het, n_hom1, n_hom2):
    """Exact HWE p by enumerating every het count (Wigginton 2005, equation 2)."""
    n = n_het + n_hom1 + n_hom2
    if n == 0:
        return np.nan
    n_a = 2 * n_hom1 + n_het
    n_b = 2 * n - n_a

    def logp(h):
        aa, bb = (n_a - h) // 2, (n_b - h) // 2
        return (
            gammaln(n + 1)
            - gammaln(aa + 1)
            - gammaln(h + 1)
            - gammaln(bb + 1)
            + h * np.log(2)
            + gammaln(n_a + 1)
            + gammaln(n_b + 1)
            - gammaln(2 * n + 1)
        )

    hs = [h for h in range(min(n_a, n_b) + 1) if (n_a - h) % 2 == 0]
    probs = np.exp([logp(h) for h in hs])
    observed = np.exp(logp(n_het))
    return min(1.0, probs[probs <= observed * (1 + 1e-7)].sum())


def test_hwe_exact_matches_slow_reference():
    grid = [(h, a, b) for h in range(0, 12) for a in range(0, 9) for b in range(0, 7)]
    grid += [(0, 100, 1), (50, 25, 25), (3, 490, 7), (200, 400, 400), (0, 0, 40)]
    het, h1, h2 = (np.array(x) for x in zip(*grid, strict=True))
    fast = hwe_exact(het, h1, h2)
    slow = np.array([slow_hwe(*g) for g in grid])
    np.testing.assert_allclose(fast, slow, rtol=1e-9, equal_nan=True)
    assert np.isnan(fast[0])  # no genotypes at all
    assert hwe_exact(0, 50, 50)[0] < 1e-20  # no heterozygotes at p = 0.5: far from HWE
    with pytest.raises(InputError, match="non-negative"):
        hwe_exact(-1, 2, 3)


def test_variant_qc_on_the_tiny_cohort(tiny_cohort):
    table = variant_qc(tiny_cohort)
    gt = allel.GenotypeArray(tiny_cohort.genotypes())
    samples = tiny_cohort.samples()
    assert len(table) == gt.shape[0]
    assert table[["contig", "position"]].equals(tiny_cohort.variants()[["contig", "position"]])
    ac = gt.count_alleles()
    np.testing.assert_array_equal(table.ac_1, ac[:, 1])
    np.testing.assert_allclose(table.af_alt, ac[:, 1:].sum(axis=1) / ac.sum(axis=1))
    for pop in samples.population.unique():
        sel = np.flatnonzero(samples.population.to_numpy() == pop)
        sub = gt.count_alleles_subpops({pop: sel})[pop]
        np.testing.assert_allclose(table[f"af_alt_{pop}"], sub[:, 1:].sum(1) / sub.sum(1))
    # the calls carry the generator's missing calls (0.5 % of genotypes)
    noise = tiny_cohort.manifest["parameters"]["calling_noise"]
    assert table.missing_rate.mean() == pytest.approx(noise["missing_rate"], rel=0.5)
    assert (table.call_rate == 1 - table.n_missing / len(samples)).all()
    # every called person is counted once, a hemizygous man as homozygous
    assert (table.n_het + table.n_hom_ref + table.n_hom_alt == table.n_called).all()
    # multi-allelic sites arise as in real data (two mutations at one site)
    assert all("multiallelic" in n for n in table.attrs["notes"])


def test_sample_qc_on_the_tiny_cohort_recovers_registry_sex(tiny_cohort):
    table = sample_qc(tiny_cohort)
    samples = tiny_cohort.samples().set_index("person_id")
    assert list(table.index) == tiny_cohort.sample_ids
    assert (table.sex_by_ploidy == samples.sex.reindex(table.index)).all()
    # On the tiny preset's 250 kb chrX a woman can be homozygous over the whole contig (an
    # ordinary run of homozygosity at this length), which the F statistic reads as male: at
    # most one such mismatch, and never a man.
    mismatch = table.sex_check == "mismatch"
    assert mismatch.sum() <= 1 and (table.sex[mismatch] == "female").all()
    assert (table.sex_check == "ok").mean() > 0.8
    assert (table.x_f[table.sex == "male"] == 1).all()
    gt = allel.GenotypeArray(tiny_cohort.genotypes(contig="chr1"))
    het_chr1 = gt.count_het(axis=0)
    assert (table.n_het >= het_chr1).all()  # autosomes include chr1
    assert table.ti_tv.notna().all() and table.call_rate.between(0.98, 1).all()


def test_sex_check_works_on_diploid_coded_males():
    rng = np.random.default_rng(5)
    n_var, n_samp = 400, 40
    p = rng.uniform(0.1, 0.5, size=(n_var, 1))
    g = (rng.random((n_var, n_samp, 2)) < p[..., None]).astype(np.int8)
    male = np.arange(n_samp) % 2 == 0
    g[:, male, 1] = g[:, male, 0]  # one X, written as a homozygous diploid call
    sex = np.where(male, "male", "female")
    variants = pd.DataFrame({"contig": ["chrX"] * n_var})
    table = sample_qc(g, variants=variants, sex=sex)
    assert (table.sex_by_f.to_numpy() == sex).all()
    assert (table.sex_by_ploidy == "").all()  # nobody coded haploid: ploidy is uninformative
    assert (table.sex_check == "ok").all()
    flipped = sample_qc(g, variants=variants, sex=sex[::-1].copy())
    assert (flipped.sex_check == "mismatch").all()


def test_inbreeding_with_missing_calls_matches_direct_formula():
    g = random_genotypes(n_variants=300, n_samples=25, seed=9)
    g[..., 1][g[..., 1] == -2] = 0  # autosomes: no hemizygous calls
    g[:, :, :][g.max(axis=2) >= 2] = 0  # keep it biallelic for the textbook formula
    table = sample_qc(g, variants=pd.DataFrame({"contig": ["1"] * 300}), populations=None)
    ga = allel.GenotypeArray(g)
    ac = ga.count_alleles(max_allele=1)
    p = ac[:, 1] / ac.sum(axis=1)
    e = 1 - 2 * p * (1 - p)
    called = ga.is_called()
    o = (called & ~ga.is_het()).sum(axis=0)
    e_s = (called * e[:, None]).sum(axis=0)
    n = called.sum(axis=0)
    np.testing.assert_allclose(table.inbreeding_f, (o - e_s) / (n - e_s), rtol=1e-10)
    assert (table.sex_check == "skipped").all()
    assert any("no X contig" in n for n in table.attrs["notes"])


def test_registry_and_genotype_samples_that_do_not_match(cohort_copy):
    with sqlite3.connect(cohort_copy / "registry.sqlite") as conn:
        cols = [r[1] for r in conn.execute("PRAGMA table_info(samples)")]
        rest = ", ".join(c for c in cols if c != "person_id")
        conn.execute(
            f"INSERT INTO samples (person_id, {rest}) "
            f"SELECT 'P99999', {rest} FROM samples WHERE person_id = 'P00002'"
        )
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("DELETE FROM samples WHERE person_id = 'P00001'")
    cohort = open_cohort(cohort_copy, verify=False)
    table = sample_qc(cohort)
    notes = " ".join(table.attrs["notes"])
    assert "1 registry people have no genotypes" in notes and "P99999" in notes
    assert "1 genotyped samples are not in the registry" in notes and "P00001" in notes
    assert "P99999" not in table.index
    assert table.loc["P00001", "sex_check"] == "unknown"
    assert table.loc["P00001", "population"] == "unknown"
    assert table.loc["P00002", "sex_check"] in ("ok", "ambiguous")


def test_tiny_population_and_multiallelic_sites_are_noted():
    g = random_genotypes(n_variants=60, n_samples=12, seed=4)
    pops = np.array(["A"] * 11 + ["B"])
    variants = pd.DataFrame({"contig": ["chr1"] * 60, "position": np.arange(60) + 1})
    table = variant_qc(g, populations=pops, variants=variants)
    assert table.af_alt_B.isna().all() and table.hwe_p_B.isna().all()
    assert table.af_alt_A.notna().any()
    multi = g.max(axis=(1, 2)) >= 2
    assert (table.flag[multi] == "multiallelic").all() and table.hwe_p[multi].isna().all()
    assert table.hwe_p[~multi].notna().all()
    notes = " ".join(table.attrs["notes"])
    assert "population 'B' has 1 person" in notes and "non-biallelic" in notes


def test_all_missing_variant_is_flagged_and_fails_call_rate():
    g = np.zeros((3, 4, 2), np.int8)
    g[1] = -1
    table = variant_qc(g)
    assert table.flag.tolist() == ["", "all_missing", ""]
    assert table.fail_call_rate.tolist() == [False, True, False]
    assert np.isnan(table.af_alt[1]) and np.isnan(table.hwe_p[1])


def test_bad_arguments_are_refused():
    g = np.zeros((3, 4, 2), np.int8)
    with pytest.raises(InputError, match="sample_ids has 2 entries"):
        sample_qc(g, sample_ids=["a", "b"])
    with pytest.raises(InputError, match="one row per variant"):
        variant_qc(g, variants=pd.DataFrame({"contig": ["1"]}))
    with pytest.raises(InputError, match="min_call_rate"):
        variant_qc(g, min_call_rate=1.5)
    with pytest.raises(InputError, match="not contiguous"):
        variant_qc(g, variants=pd.DataFrame({"contig": ["1", "2", "1"]}))


def test_outliers_are_flagged_by_robust_z():
    x = np.array([1.0, 1.1, 0.9, 1.0, 1.05, 0.95, 1.0, 1.02, 0.98, 1.01, 5.0])
    z = robust_z(x)
    assert np.abs(z[:-1]).max() < 4 and z[-1] > 50
    assert (robust_z(np.ones(12)) == 0).all()
    # MAD 0 but not all equal: the mean absolute deviation stands in.
    assert np.isfinite(robust_z([1.0] * 11 + [2.0])).all()
    g = random_genotypes(n_variants=500, n_samples=30, seed=2)
    g[..., 1][g[..., 1] == -2] = 0
    g[:, 0] = 0  # sample 0: homozygous reference everywhere
    table = sample_qc(g, outlier_z=4.0)
    assert table.outlier.iloc[0] and "heterozygosity" in table.outlier_reasons.iloc[0]


def test_plots_return_their_axes(tiny_cohort):
    import matplotlib.pyplot as plt

    variants, samples = variant_qc(tiny_cohort), sample_qc(tiny_cohort)
    for fn, table in [
        (plots_qc.plot_call_rate, variants),
        (plots_qc.plot_het_vs_call_rate, samples),
        (plots_qc.plot_titv, samples),
        (plots_qc.plot_sex_check, samples),
        (plots_qc.plot_hwe_qq, variants),
    ]:
        _, ax = plt.subplots()
        assert fn(table, ax=ax) is ax
        assert ax.get_xlabel()
        plt.close("all")
    with pytest.raises(InputError, match="lacks column"):
        plots_qc.plot_sex_check(variants)
