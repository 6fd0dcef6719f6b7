"""Tests for workbench.synth.genes (the gene catalogue) and workbench.synth.clinical (the plan)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench import hpo
from workbench.errors import InputError
from workbench.synth import clinical, genes
from workbench.synth.model import PLANT_COLUMNS

REFERENCE_YEAR = 2025


def make_people(*, trios=12, quads=2, unrelated=40, proband_sex=("male", "female")):
    """A small people table: trios, quads (proband + sibling) and unrelated adults."""
    rows, n = [], 0

    def add(**kw):
        nonlocal n
        n += 1
        pid = f"P{n:05d}"
        base = dict(
            person_id=pid, family_id=None, father_id=None, mother_id=None, population="NOR",
            affected=False, region="Hovedstaden", hospital="Rigshospitalet",
        )  # fmt: skip
        rows.append({**base, **kw})
        return pid

    for i in range(trios + quads):
        fid = f"F{i + 1:04d}"
        fa = add(family_id=fid, sex="male", role="father", birth_year=1975 + i % 12)
        mo = add(family_id=fid, sex="female", role="mother", birth_year=1978 + i % 12)
        add(
            family_id=fid, father_id=fa, mother_id=mo, sex=proband_sex[i % len(proband_sex)],
            role="proband", affected=True, birth_year=2012 + i % 10,
        )  # fmt: skip
        if i >= trios:
            add(
                family_id=fid, father_id=fa, mother_id=mo, sex="female", role="sibling",
                birth_year=2010,
            )  # fmt: skip
    for j in range(unrelated):
        add(
            sex=("female", "male")[j % 2], role="unrelated", birth_year=1940 + j,
            population=("NOR", "MEN", "SAS")[j % 3],
        )  # fmt: skip
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def people():
    return make_people()


@pytest.fixture(scope="module")
def teaching():
    return genes.gene_catalogue(preset="teaching", rng=np.random.default_rng(7))


@pytest.fixture(scope="module")
def tiny():
    return genes.gene_catalogue(preset="tiny", rng=np.random.default_rng(7))


@pytest.fixture(scope="module")
def plan(people, tiny):
    return clinical.plan_cases(
        people=people, catalogue=tiny, rng=np.random.default_rng(11), reference_year=REFERENCE_YEAR
    )


# --- the gene catalogue ----------------------------------------------------------------------


def test_teaching_catalogue_holds_all_81_sf_genes(teaching):
    sf = genes.acmg_sf_table()
    assert len(sf) == 81
    in_catalogue = teaching[teaching.role == "acmg_sf"]
    assert set(in_catalogue.gene) == set(sf.gene)
    assert in_catalogue.sf_category.notna().all()
    assert list(teaching.columns[: len(genes.CATALOGUE_COLUMNS)]) == list(genes.CATALOGUE_COLUMNS)


def test_teaching_catalogue_has_enough_of_each_mode(teaching):
    rare = teaching[teaching.role == "rare_disease"]
    counts = rare["mode"].value_counts()
    assert counts["AD"] >= 15 and counts["AR"] >= 15 and counts["XL"] >= 8
    assert 55 <= len(rare) <= 65
    assert not teaching.gene.duplicated().any()


def test_x_linked_genes_and_only_they_sit_on_x(teaching):
    assert (teaching.contig_kind == np.where(teaching["mode"] == "XL", "X", "autosome")).all()
    on_x = set(teaching.loc[teaching.contig_kind == "X", "gene"])
    assert {"OTC", "GLA", "DMD"} <= on_x
    assert "SCN1A" not in on_x


def test_catalogue_diseases_are_known_to_hpo_with_the_stated_inheritance(teaching):
    codes = {"AD": {"AD"}, "AR": {"AR"}, "XL": {"XL", "XLR", "XLD"}}
    for row in teaching.itertuples(index=False):
        assert hpo.disease_inheritance(row.disease_id) & codes[row.mode], row.gene
        assert row.hpo_terms_count == len(hpo.disease_phenotype_terms(row.disease_id))
        if row.role == "rare_disease":
            assert row.hpo_terms_count >= genes.MIN_PHENOTYPE_TERMS
            assert hpo.gene_has_disease(row.gene, row.disease_id)


def test_tiny_catalogue_is_small_and_covers_every_mode(tiny):
    assert 15 <= len(tiny) <= 25
    assert (tiny.role == "acmg_sf").sum() >= 6
    rare = tiny[tiny.role == "rare_disease"]
    assert set(rare["mode"]) == {"AD", "AR", "XL"}
    assert (rare["mode"].value_counts() >= 3).all()


def test_catalogue_is_reproducible_and_seed_dependent(teaching):
    again = genes.gene_catalogue(preset="teaching", rng=np.random.default_rng(7))
    pd.testing.assert_frame_equal(teaching, again)
    other = genes.gene_catalogue(preset="teaching", rng=np.random.default_rng(8))
    assert set(other.gene) != set(teaching.gene)
    assert set(other[other.role == "acmg_sf"].gene) == set(
        teaching[teaching.role == "acmg_sf"].gene
    )


def test_catalogue_rejects_unknown_preset():
    with pytest.raises(InputError, match="preset"):
        genes.gene_catalogue(preset="huge", rng=np.random.default_rng(0))
    with pytest.raises(InputError, match="Generator"):
        genes.gene_catalogue(preset="tiny", rng=42)


# --- the plan --------------------------------------------------------------------------------


def test_every_kind_of_case_is_planned(plan):
    cases = plan.cases
    assert len(cases) == 14 and plan.skipped.empty
    assert set(cases.status) == {"solved", "unsolved", "vus_only", "dual"}
    assert set(clinical.CASE_MODES) <= set(cases["mode"].dropna())
    assert (cases.status == "dual").sum() == 1
    assert 1 <= (cases.status == "unsolved").sum() <= 3


def test_plants_reference_people_and_catalogue_genes(plan, people, tiny):
    plants = plan.plants
    assert tuple(plants.columns) == PLANT_COLUMNS
    assert set(plants.person_id) <= set(people.person_id)
    assert set(plants.gene) <= set(tiny.gene)
    assert set(plants.category) == {"causal", "secondary", "vus", "benign_rare", "benign_common"}
    assert set(plants.origin) <= {"de_novo", "paternal", "maternal", "founder"}
    assert set(plants.copies) <= {1, 2}
    assert (plants.loc[plants.copies == 2, "origin"] == "founder").all()
    # founder only on people without parents in the cohort; inheritance only from a parent there
    with_parents = set(people.loc[people.father_id.notna(), "person_id"])
    assert not (set(plants.loc[plants.origin == "founder", "person_id"]) & with_parents)
    assert (
        set(plants.loc[plants.origin.isin(["paternal", "maternal"]), "person_id"]) <= with_parents
    )
    assert not plants.duplicated(subset=["variant_key", "person_id", "origin"]).any()


def _case_plants(plan, case):
    keys = case.variant_keys.split(",")
    return plan.plants[plan.plants.variant_key.isin(keys)]


def test_each_mode_is_planted_as_its_genetics_require(plan, people, tiny):
    sex = people.set_index("person_id").sex
    affected = people.set_index("person_id").affected
    mode_of = tiny.set_index("gene")["mode"]
    for case in plan.cases[plan.cases.status == "solved"].itertuples(index=False):
        rows = _case_plants(plan, case)
        assert (rows.person_id == case.proband_id).all()
        assert (rows.gene == case.gene).all() and (rows.category == "causal").all()
        origins = sorted(rows.origin)
        if case.mode == "de_novo_dominant":
            assert origins == ["de_novo"] and mode_of[case.gene] == "AD"
        elif case.mode == "recessive_homozygous":
            assert origins == ["maternal", "paternal"] and rows.variant_key.nunique() == 1
            assert mode_of[case.gene] == "AR"
        elif case.mode == "compound_heterozygous":
            assert origins == ["maternal", "paternal"] and rows.variant_key.nunique() == 2
            assert mode_of[case.gene] == "AR"
        elif case.mode == "x_linked":
            assert origins == ["maternal"] and sex[case.proband_id] == "male"
            assert mode_of[case.gene] == "XL"
        else:
            assert case.mode == "dominant_incomplete_penetrance"
            (origin,) = origins
            proband = people.set_index("person_id").loc[case.proband_id]
            parent = proband.father_id if origin == "paternal" else proband.mother_id
            assert not affected[parent] and mode_of[case.gene] == "AD"


def test_vus_only_case_has_one_missense_in_the_phenotype_gene(plan, tiny):
    cases = plan.cases[plan.cases.status == "vus_only"]
    assert len(cases) >= 1
    for case in cases.itertuples(index=False):
        rows = _case_plants(plan, case)
        assert list(rows.category) == ["vus"] and list(rows.gene) == [case.gene]
        # inherited from an unaffected parent: no de novo evidence makes it look pathogenic
        assert list(rows.origin) != ["de_novo"]
        assert case.phenotype_disease_ids == case.disease_id
        assert tiny.set_index("gene").loc[case.gene, "disease_id"] == case.disease_id


def test_causal_and_vus_effects(plan):
    p = plan.plants
    allowed = set(clinical.LOF_EFFECTS) | {"missense_variant"}
    assert set(p.loc[p.category == "causal", "effect"]) <= allowed
    assert set(p.loc[p.category == "vus", "effect"]) == {"missense_variant"}


def test_dual_diagnosis_has_two_genes_and_a_blended_phenotype(plan):
    (dual,) = plan.cases[plan.cases.status == "dual"].itertuples(index=False)
    assert dual.gene != dual.gene2 and dual.disease_id2.startswith("OMIM:")
    assert set(_case_plants(plan, dual).gene) == {dual.gene, dual.gene2}
    observed = plan.phenotypes[
        (plan.phenotypes.person_id == dual.proband_id) & ~plan.phenotypes.excluded
    ]
    for disease_id in (dual.disease_id, dual.disease_id2):
        assert set(observed.hpo_id) & set(hpo.disease_phenotype_terms(disease_id))


def test_unsolved_phenotype_points_at_a_gene_without_a_planted_variant(plan, tiny, people):
    gene_of = tiny.set_index("disease_id").gene
    inheritance = tiny.set_index("disease_id").inheritance
    sex = people.set_index("person_id").sex
    planted = set(plan.plants.loc[plan.plants.category.isin(["causal", "vus"]), "gene"])
    for case in plan.cases[plan.cases.status == "unsolved"].itertuples(index=False):
        assert case.variant_keys == "" and pd.isna(case.gene)
        (source,) = case.phenotype_disease_ids.split(",")
        assert gene_of[source] not in planted
        if sex[case.proband_id] == "female":
            assert inheritance[source] != "XLR"
        observed = plan.phenotypes[
            (plan.phenotypes.person_id == case.proband_id) & ~plan.phenotypes.excluded
        ]
        assert len(set(observed.hpo_id) & set(hpo.disease_phenotype_terms(source))) >= 3


def test_phenotypes_are_real_hpo_terms_drawn_from_the_disease_with_noise(plan):
    ph = plan.phenotypes
    truth = plan.phenotype_truth
    hpo.validate_terms(zip(ph.hpo_id, ph.label, strict=True))  # raises on any bad term
    assert set(ph.person_id) == set(plan.cases.proband_id)
    assert (
        ph[["person_id", "hpo_id"]].to_numpy() == truth[["person_id", "hpo_id"]].to_numpy()
    ).all()
    noise = clinical.PhenotypeNoise()
    for case in plan.cases.itertuples(index=False):
        mine = ph[ph.person_id == case.proband_id]
        kinds = truth[truth.person_id == case.proband_id]
        annotated = {
            t for d in case.phenotype_disease_ids.split(",") for t in hpo.disease_phenotype_terms(d)
        }
        observed = mine[~mine.excluded]
        # each term is what the answer key says: annotated, a parent of an annotated term,
        # or noise from the pool of common unrelated findings
        for row in kinds[kinds.kind != "excluded"].itertuples(index=False):
            if row.kind == "disease":
                assert row.hpo_id in annotated
            elif row.kind == "imprecise":
                assert row.source in annotated and row.hpo_id in hpo.parents(row.source)
            else:
                assert row.kind == "noise" and row.hpo_id in clinical.NOISE_TERM_POOL
        described = kinds.kind.isin(["disease", "imprecise"]).sum()
        assert 1 <= described <= max(noise.terms[1], 12)
        lo, hi = noise.noise_terms
        assert lo <= (kinds.kind == "noise").sum() <= hi
        excluded = mine[mine.excluded]
        assert noise.excluded_terms[0] <= len(excluded) <= noise.excluded_terms[1]
        # nothing excluded that the disease has, nor a relative of an observed term
        for t in excluded.hpo_id:
            assert t not in annotated
            assert not any(hpo.related(t, o) for o in observed.hpo_id)
    assert (truth.kind == "imprecise").any()  # the default imprecision shows


def test_phenotype_noise_levels_are_honoured():
    from workbench.synth.clinical import _phenotype

    rng = np.random.default_rng(3)
    exact = clinical.PhenotypeNoise(
        terms=(6, 6), few_terms_share=0, imprecision=0, noise_terms=(0, 0), excluded_terms=(0, 0)
    )
    features = _phenotype(["OMIM:607208"], rng, exact)  # Dravet syndrome
    assert [k for _, _, k, _ in features] == ["disease"] * len(features)
    assert 1 <= len(features) <= 6
    vague = clinical.PhenotypeNoise(imprecision=1.0, few_terms_share=0)
    kinds = [k for _, _, k, _ in _phenotype(["OMIM:607208"], rng, vague)]
    described = [k for k in kinds if k in ("disease", "imprecise")]
    # every term climbs to a parent unless its only parents are organ systems
    assert described.count("imprecise") >= 0.5 * len(described)
    short = clinical.PhenotypeNoise(few_terms_share=1.0)
    for _ in range(5):
        kinds = [k for _, _, k, _ in _phenotype(["OMIM:607208"], rng, short)]
        assert 1 <= sum(k in ("disease", "imprecise") for k in kinds) <= 3
    with pytest.raises(InputError, match="phenotype noise"):
        clinical.PhenotypeNoise(imprecision=2)


def test_families_carry_an_indication_without_the_diagnosis(plan):
    fam = plan.families.merge(plan.cases, on=["family_id", "proband_id"])
    assert len(fam) == len(plan.cases)
    for row in fam.itertuples(index=False):
        assert "sequencing" in row.indication
        for name in (row.gene, row.disease_name):
            if isinstance(name, str):
                assert name not in row.indication


def test_secondary_findings_are_null_variants_in_adults(plan, people, tiny):
    sec = plan.plants[plan.plants.category == "secondary"]
    assert len(sec) >= 1
    carriers = people.set_index("person_id").loc[sec.person_id]
    assert (carriers.birth_year <= REFERENCE_YEAR - 18).all()
    assert set(carriers.role) <= {"father", "mother", "unrelated"}
    assert set(sec.effect) <= set(clinical.LOF_EFFECTS)
    assert set(sec.gene) <= set(tiny.loc[tiny.role == "acmg_sf", "gene"])


def test_benign_variants_sit_in_the_planted_genes(plan, people):
    p = plan.plants
    target = set(p.loc[p.category.isin(["causal", "vus", "secondary"]), "gene"])
    rare = p[p.category == "benign_rare"]
    assert set(rare.gene) == target
    assert rare.groupby("variant_key").person_id.nunique().between(2, 6).all()
    common = p[p.category == "benign_common"]
    assert 1 <= common.variant_key.nunique() <= 6
    n_founders = people.father_id.isna().sum()
    share = common.groupby("variant_key").person_id.nunique() / n_founders
    assert share.between(0.03, 0.5).all()


def test_x_linked_needs_a_boy(people, tiny):
    girls_only = make_people(proband_sex=("female",))
    plan = clinical.plan_cases(people=girls_only, catalogue=tiny, rng=np.random.default_rng(11))
    assert "x_linked" not in set(plan.cases["mode"].dropna())
    assert len(plan.cases) == 14
    inheritance = tiny.set_index("disease_id").inheritance
    sources = {d for ids in plan.cases.phenotype_disease_ids for d in ids.split(",")}
    assert "XLR" not in {inheritance[d] for d in sources}


def test_families_without_a_usable_proband_are_skipped_with_a_reason(people, tiny):
    broken = people.copy()
    broken.loc[broken.person_id == "P00003", "affected"] = False  # F0001's proband
    broken.loc[(broken.family_id == "F0002") & (broken.role == "proband"), "role"] = "sibling"
    plan = clinical.plan_cases(people=broken, catalogue=tiny, rng=np.random.default_rng(1))
    skipped = plan.skipped.set_index("family_id").reason
    assert set(skipped.index) == {"F0001", "F0002"}
    assert "not marked affected" in skipped["F0001"] and "proband" in skipped["F0002"]
    assert not ({"F0001", "F0002"} & set(plan.cases.family_id))


def test_plan_is_deterministic(people, tiny, plan):
    again = clinical.plan_cases(
        people=people, catalogue=tiny, rng=np.random.default_rng(11), reference_year=REFERENCE_YEAR
    )
    for name in ("cases", "plants", "phenotypes", "families", "skipped"):
        pd.testing.assert_frame_equal(getattr(plan, name), getattr(again, name))


def test_plan_rejects_a_bad_people_table(people, tiny):
    with pytest.raises(InputError, match="lacks columns"):
        clinical.plan_cases(
            people=people.drop(columns=["sex"]), catalogue=tiny, rng=np.random.default_rng(0)
        )


def test_is_a_follows_the_ontology_and_rejects_unknown_terms():
    seizure, nervous = "HP:0001250", "HP:0000707"  # Seizure; Abnormality of the nervous system
    assert hpo.is_a(seizure, nervous) and hpo.is_a(seizure, seizure)
    assert not hpo.is_a(nervous, seizure)
    # the cached lineage agrees with the ontology's own walk for every parent of a term
    for parent in hpo.parents(seizure):
        assert hpo.is_a(seizure, parent) == bool(hpo.term(seizure).child_of(hpo.term(parent)))
    for bad in (("HP:9999999", nervous), (seizure, "HP:9999999"), ("seizure", nervous)):
        with pytest.raises(InputError):
            hpo.is_a(*bad)
