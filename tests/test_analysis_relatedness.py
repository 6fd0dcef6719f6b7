"""Relatedness: KING-robust kinship, degree calls, family recovery and Mendel errors.

The tiny cohort has 0.29 Mb of autosomes: enough to check the kinship arithmetic and the
Mendel errors, far too little to call degrees between unrelated people (their KING estimates
spread over ±0.3). Degree calls are therefore tested on simulated unlinked sites, where a
parent–child pair is unmistakable.
"""

from __future__ import annotations

import allel
import dask.array as da
import numpy as np
import pandas as pd
import pytest

from workbench.analysis.relatedness import (
    UNRELATED,
    expected_relatives,
    king_kinship,
    mendel_errors,
    recover_families,
    relationship_degree,
    relatives,
)
from workbench.errors import InputError


@pytest.fixture(scope="module")
def autosomes(tiny_cohort):
    parts = [tiny_cohort.genotypes(contig=c).values for c in tiny_cohort.contigs if c != "chrX"]
    return allel.GenotypeArray(np.concatenate(parts))


def _king_brute_force(gn: np.ndarray, i: int, j: int) -> float:
    """KING-robust for one pair, straight from the paper's definition."""
    a, b = gn[:, i], gn[:, j]
    both = (a >= 0) & (b >= 0)
    a, b = a[both], b[both]
    hethet = np.sum((a == 1) & (b == 1))
    opposite = np.sum((a == 0) & (b == 2)) + np.sum((a == 2) & (b == 0))
    return (hethet - 2 * opposite) / (np.sum(a == 1) + np.sum(b == 1))


def _pedigree(seed=0, n_sites=4000, families=4, unrelated=20):
    """Unlinked sites; families of father, mother and two children, and unrelated people."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 0.5, n_sites)

    def founder():
        return (rng.random((n_sites, 2)) < p[:, None]).astype(np.int8)

    def child(father, mother):
        pick = rng.integers(0, 2, (n_sites, 2))
        rows = np.arange(n_sites)
        return np.stack([father[rows, pick[:, 0]], mother[rows, pick[:, 1]]], axis=1)

    calls, rows = [], []
    for f in range(families):
        dad, mum = founder(), founder()
        fam = f"F{f}"
        members = [(dad, "father", None, None), (mum, "mother", None, None)]
        members += [(child(dad, mum), "child", f"{fam}a", f"{fam}b") for _ in range(2)]
        for k, (g, role, father, mother) in enumerate(members):
            calls.append(g)
            rows.append((f"{fam}{'abcd'[k]}", fam, father, mother, role))
    for u in range(unrelated):
        calls.append(founder())
        rows.append((f"U{u:02d}", None, None, None, "unrelated"))
    samples = pd.DataFrame(
        rows, columns=["person_id", "family_id", "father_id", "mother_id", "role"]
    )
    return allel.GenotypeArray(np.stack(calls, axis=1)), samples


def test_king_kinship_equals_the_pairwise_definition(tiny_cohort, autosomes):
    kin = king_kinship(autosomes, sample_ids=tiny_cohort.sample_ids, min_maf=0.0)
    ac = autosomes.count_alleles()
    gn = autosomes[(ac.max_allele() <= 1) & ac.is_segregating()].to_n_alt(fill=-1)
    for i, j in [(0, 1), (0, 2), (2, 3), (5, 40), (17, 59)]:
        assert kin.iat[i, j] == pytest.approx(_king_brute_force(gn, i, j), rel=1e-12)
        assert kin.iat[i, j] == kin.iat[j, i]
    np.testing.assert_allclose(np.diag(kin), 0.5)
    assert list(kin.index) == tiny_cohort.sample_ids


def test_king_kinship_on_dask_equals_in_memory(autosomes):
    lazy = allel.GenotypeDaskArray(da.from_array(autosomes.values, chunks=(300, 20, 2)))
    np.testing.assert_allclose(king_kinship(lazy).to_numpy(), king_kinship(autosomes).to_numpy())


def test_registered_parents_and_children_look_like_it_on_the_tiny_cohort(tiny_cohort, autosomes):
    kin = king_kinship(autosomes, sample_ids=tiny_cohort.sample_ids)
    samples = tiny_cohort.samples()
    expected = expected_relatives(samples)
    po = expected[expected.relationship == "parent-child"]
    assert len(po) == 2 * samples.father_id.notna().sum()
    phi = np.array([kin.loc[a, b] for a, b in zip(po.sample_a, po.sample_b, strict=True)])
    assert phi.mean() == pytest.approx(0.25, abs=0.03)
    assert (phi > 2**-3.5).all()  # at least second degree, despite the tiny genome
    # KING-robust assumes one population (pairs across populations come out negative):
    # unrelated people of the majority population average zero
    unrelated = samples.person_id[(samples.role == "unrelated") & (samples.population == "NOR")]
    sub = kin.loc[unrelated, unrelated].to_numpy()
    assert abs(sub[np.triu_indices(len(sub), 1)].mean()) < 0.03


def test_degree_calls_recover_every_family_and_flag_nobody_else():
    gt, samples = _pedigree()
    kin = king_kinship(gt, sample_ids=samples.person_id)
    table = recover_families(kin, samples)
    assert set(table.status) == {"confirmed"}
    assert len(table) == 4 * (4 + 1)  # per family: four parent–child pairs, one sibling pair
    assert set(table.relationship) == {"parent-child", "full siblings"}
    po = table[table.relationship == "parent-child"].kinship
    assert po.mean() == pytest.approx(0.25, abs=0.01)
    assert len(relatives(kin, max_degree=3)) == len(table)


def test_recover_families_flags_a_pedigree_error():
    gt, samples = _pedigree()
    samples.loc[samples.person_id == "F0c", "father_id"] = "F1a"  # the wrong father
    table = recover_families(kin := king_kinship(gt, sample_ids=samples.person_id), samples)
    missed = table[table.status == "missed"]
    unexpected = table[table.status == "unexpected"]
    assert list(zip(missed.sample_a, missed.sample_b, strict=True)) == [("F0c", "F1a")]
    assert ("F0a", "F0c") in set(zip(unexpected.sample_a, unexpected.sample_b, strict=True))
    assert (unexpected.degree == 1).all() and kin.loc["F0a", "F0c"] > 0.177


def test_noise_on_a_short_genome_is_not_flagged_but_said():
    # 60 unlinked sites: unrelated pairs' kinship scatters so widely that many pass the
    # second-degree bound by chance. None may be flagged; the notes must say why.
    gt, samples = _pedigree(n_sites=60, unrelated=60)
    kin = king_kinship(gt, sample_ids=samples.person_id)
    table = recover_families(kin, samples, max_degree=2)
    assert "unexpected" not in set(table.status)
    assert table.attrs["n_not_significant"] > 0
    assert table.attrs["min_detectable_kinship"] > 2**-3.5
    assert any("cannot be told from noise" in n for n in table.attrs["notes"])
    # A stricter alpha raises the bar; a looser one lowers it.
    loose = recover_families(kin, samples, max_degree=2, alpha=0.5)
    assert loose.attrs["z_threshold"] < table.attrs["z_threshold"]
    with pytest.raises(InputError, match="alpha"):
        recover_families(kin, samples, alpha=0)


def test_relationship_degree_thresholds_follow_the_paper():
    phi = [0.5, 0.36, 0.25, 0.18, 0.125, 0.09, 0.0625, 0.045, 0.02, -0.1, np.nan]
    assert list(relationship_degree(phi)) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 4]
    assert UNRELATED == 4


def test_expected_relatives_needs_the_pedigree_columns():
    with pytest.raises(InputError, match="father_id"):
        expected_relatives(pd.DataFrame({"person_id": ["a"], "family_id": ["F"]}))


# -- Mendel errors ------------------------------------------------------------------------------
def test_mendel_errors_occur_only_at_true_de_novo_sites_of_the_simulated_genomes(tiny_cohort):
    genomes = tiny_cohort.simulated  # the families' members before calling noise
    samples = tiny_cohort.samples().set_index("person_id").loc[genomes.sample_ids].reset_index()
    result = mendel_errors(genomes.genotypes(), samples)
    variants = genomes.variants()
    truth = pd.read_csv(tiny_cohort.path / "truth" / "de_novo.tsv", sep="\t")
    assert len(truth) > 0
    for trio in result.per_trio.itertuples(index=False):
        mine = truth[truth.person_id == trio.child]
        assert trio.errors == len(mine)
    bad = variants[result.per_variant > 0]
    assert set(zip(bad.contig, bad.position, strict=True)) == set(
        zip(truth.contig, truth.position, strict=True)
    )
    assert (result.per_trio.checked == len(variants)).all()


def test_calling_noise_adds_mendel_errors_in_the_calls(tiny_cohort):
    # the cohort's calls carry false heterozygous calls and dropped alleles: more errors
    # than the true de novo variants, as in any real trio
    samples = tiny_cohort.samples()
    result = mendel_errors(tiny_cohort.genotypes(), samples)
    truth = pd.read_csv(tiny_cohort.path / "truth" / "de_novo.tsv", sep="\t")
    assert result.per_trio.errors.sum() > len(truth)
    assert (result.per_trio.checked < len(tiny_cohort.variants())).all()  # missing calls


def test_mendel_errors_on_chrx_treat_males_as_hemizygous():
    samples = pd.DataFrame(
        {
            "person_id": ["dad", "mum", "son", "daughter"],
            "father_id": [None, None, "dad", "dad"],
            "mother_id": [None, None, "mum", "mum"],
        }
    )
    # Variant rows: dad (hemizygous), mum, son (hemizygous), daughter.
    calls = np.array(
        [
            [[1, -2], [0, 0], [0, -2], [1, 0]],  # consistent: son from mum, daughter 1 from dad
            [[1, -2], [0, 0], [1, -2], [1, 0]],  # son carries dad's allele: an error
            [[0, -2], [0, 1], [0, -2], [1, 1]],  # daughter needs dad's 0: an error
            [[0, -2], [-1, -1], [1, -2], [0, 1]],  # mother missing: not assessed
        ],
        dtype=np.int8,
    )
    result = mendel_errors(calls, samples)
    assert list(result.per_variant) == [0, 1, 1, 0]
    assert result.per_trio.set_index("child").errors.to_dict() == {"son": 1, "daughter": 1}
    assert result.per_trio.set_index("child").checked.to_dict() == {"son": 3, "daughter": 3}


def test_mendel_errors_need_one_samples_row_per_column(tiny_cohort):
    with pytest.raises(InputError, match="one samples row per genotype column"):
        mendel_errors(tiny_cohort.genotypes(), tiny_cohort.samples().head(3))
