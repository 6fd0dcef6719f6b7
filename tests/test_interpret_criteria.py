"""Computed ACMG/AMP criteria on hand-made facts: each criterion fired and not fired."""

from __future__ import annotations

import math

import pytest

from workbench.errors import InputError
from workbench.genome import Annotation
from workbench.interpret.acmg import CRITERIA, classify
from workbench.interpret.criteria import (
    COMPUTED_CRITERIA,
    NULL_CONSEQUENCES,
    USER_CRITERIA,
    Thresholds,
    VariantFacts,
    ba1,
    bp7,
    bs1,
    bs2,
    compute_criteria,
    de_novo,
    facts_from_annotation,
    frequencies_from_row,
    insilico_score,
    max_credible_af,
    pm2,
    pm3,
    pm4,
    popmax,
    pp1,
    pp3_bp4,
    pvs1,
    trio_origin,
)


def _ann(consequence, pos=1000, *, consequences=None, contig="chr1"):
    return Annotation(
        contig=contig,
        pos=pos,
        ref="A",
        alt="G",
        gene="GENE1",
        transcript="T1",
        consequence=consequence,
        consequences=consequences or (consequence,),
        impact="MODERATE",
    )


def test_user_and_computed_criteria_partition_all_codes():
    assert set(USER_CRITERIA) | set(COMPUTED_CRITERIA) == set(CRITERIA)
    assert not set(USER_CRITERIA) & set(COMPUTED_CRITERIA)


# -- PVS1 -----------------------------------------------------------------------------------


@pytest.mark.parametrize("term", sorted(NULL_CONSEQUENCES))
def test_pvs1_for_each_null_consequence_in_a_lof_gene(term):
    e = pvs1(consequences=(term,), lof_mechanism=True)
    assert (e.code, e.strength, e.source) == ("PVS1", "very_strong", "computed")
    assert term in e.note


@pytest.mark.parametrize(
    ("consequences", "lof"),
    [
        ("missense_variant", True),
        (("splice_region_variant", "intron_variant"), True),
        ("stop_lost", True),
        ("stop_gained", False),
        ("stop_gained", None),
    ],
)
def test_pvs1_not_for_other_variants_or_without_lof_mechanism(consequences, lof):
    assert pvs1(consequences=consequences, lof_mechanism=lof) is None


# -- PS2 / PM6 and phase --------------------------------------------------------------------


def test_de_novo_with_confirmed_parentage_is_ps2_else_pm6():
    ps2 = de_novo(proband=1, father=0, mother=0, parentage_confirmed=True)
    assert ps2.code == "PS2" and "confirmed" in ps2.note
    pm6 = de_novo(proband=1, father=0, mother=0, parentage_confirmed=False)
    assert pm6.code == "PM6" and "assumed" in pm6.note


@pytest.mark.parametrize(
    ("proband", "father", "mother"),
    [(1, 1, 0), (1, 0, 1), (1, None, 0), (1, 0, None), (0, 0, 0), (None, 0, 0)],
)
def test_not_de_novo(proband, father, mother):
    assert de_novo(proband=proband, father=father, mother=mother, parentage_confirmed=True) is None


@pytest.mark.parametrize(
    ("proband", "father", "mother", "origin"),
    [
        (1, 0, 0, "de_novo"),
        (1, 1, 0, "paternal"),
        (1, 2, 0, "paternal"),
        (1, 0, 1, "maternal"),
        (1, 1, 1, None),
        (1, None, 1, None),
        (2, 1, 1, "biparental"),
        (2, 0, 1, None),
    ],
)
def test_trio_origin(proband, father, mother, origin):
    assert trio_origin(proband=proband, father=father, mother=mother) == origin


@pytest.mark.parametrize("bad", [0, 3, -1, 1.0, True, "1"])
def test_trio_origin_rejects_non_carrier_or_bad_genotypes(bad):
    with pytest.raises(InputError):
        trio_origin(proband=bad, father=0, mother=0)


# -- population frequency: PM2, BA1, BS1 ----------------------------------------------------


def test_pm2_absent_from_database():
    e = pm2(af={}, an={}, mode="AD")
    assert e.code == "PM2" and "absent" in e.note
    assert pm2(af={"NOR": 0.0}, an={"NOR": 4000}, mode="AD").code == "PM2"


def test_pm2_thresholds_depend_on_mode():
    af, an = {"NOR": 5e-4, "SAS": 0.0}, {"NOR": 10_000, "SAS": 3000}
    assert pm2(af=af, an=an, mode="AD") is None
    assert pm2(af=af, an=an, mode="XL") is None
    assert pm2(af=af, an=an, mode=None) is None  # unknown mode: the stricter threshold
    e = pm2(af=af, an=an, mode="AR")
    assert e is not None and "recessive" in e.note
    assert pm2(af={"NOR": 5e-5}, an={"NOR": 20_000}, mode="AD").code == "PM2"


def test_pm2_not_when_a_well_sampled_population_is_too_frequent():
    # pooled frequency is low, but one population with enough alleles is above 1e-4
    af, an = {"NOR": 0.0, "SAS": 5e-4}, {"NOR": 100_000, "SAS": 4000}
    assert pm2(af=af, an=an, mode="AD") is None


def test_pm2_strength_and_unknown_frequency():
    e = pm2(af={}, mode="AD", strength="supporting")
    assert e.label == "PM2_Supporting"
    assert pm2(af=None, mode="AD") is None
    assert pm2(af={"NOR": 0.0}, an={"NOR": 0}, mode="AD") is None  # site not covered


def test_pm2_needs_allele_numbers():
    with pytest.raises(InputError, match="allele numbers"):
        pm2(af={"NOR": 1e-5}, an=None, mode="AD")


def test_ba1_needs_enough_alleles_and_more_than_five_percent():
    assert ba1(af={"NOR": 0.06}, an={"NOR": 5000}).code == "BA1"
    assert ba1(af={"NOR": 0.06}, an={"NOR": 1000}) is None  # fewer than 2,000 alleles
    assert ba1(af={"NOR": 0.06}, an={"NOR": 1000}, min_an=500).code == "BA1"
    assert ba1(af={"NOR": 0.05}, an={"NOR": 5000}) is None  # "above 5 %"
    assert ba1(af=None, an=None) is None


def test_bs1_against_maximum_credible_frequency():
    e = bs1(af={"NOR": 0.002, "SAS": 0.004}, an={"NOR": 9000, "SAS": 3000}, max_credible_af=1e-3)
    assert e.code == "BS1" and "SAS" in e.note
    assert bs1(af={"NOR": 5e-4}, an={"NOR": 9000}, max_credible_af=1e-3) is None
    assert bs1(af={"NOR": 0.002}, an={"NOR": 9000}, max_credible_af=None) is None


def test_popmax_uses_only_well_sampled_populations():
    af, an = {"A": 0.5, "B": 0.01, "C": 0.02}, {"A": 10, "B": 5000, "C": 3000}
    assert popmax(af, an) == ("C", 0.02)
    assert popmax(af, an, min_an=5) == ("A", 0.5)
    assert popmax(af, an, min_an=10_000) is None


def test_max_credible_af_follows_whiffin_2017():
    # hypertrophic cardiomyopathy: prevalence 1/500, 2 % of cases from one variant, penetrance
    # 50 % → 4e-5 (Whiffin et al. 2017)
    hcm = max_credible_af(prevalence=1 / 500, mode="AD", allelic_contribution=0.02, penetrance=0.5)
    assert math.isclose(hcm, 4e-5)
    assert math.isclose(max_credible_af(prevalence=1e-4, mode="AR"), 0.01)
    assert math.isclose(max_credible_af(prevalence=1e-4, mode="XL", genetic_contribution=0.5), 5e-5)
    with pytest.raises(InputError):
        max_credible_af(prevalence=1e-4, mode=None)
    with pytest.raises(InputError):
        max_credible_af(prevalence=1e-4, mode="AD", penetrance=0)


# -- PM3 ------------------------------------------------------------------------------------


def test_pm3_in_trans_with_pathogenic_in_recessive_gene():
    e = pm3(
        mode="AR", origin="paternal", partner_origin="maternal", partner_classification="Pathogenic"
    )
    assert e.label == "PM3" and "in trans" in e.note
    lp = pm3(
        mode="AR",
        origin="maternal",
        partner_origin="paternal",
        partner_classification="Likely pathogenic",
    )
    assert lp.label == "PM3_Supporting"


@pytest.mark.parametrize(
    ("mode", "origin", "partner", "cls"),
    [
        ("AR", "paternal", "paternal", "Pathogenic"),  # in cis
        ("AR", "de_novo", "maternal", "Pathogenic"),  # phase unknown
        ("AR", None, "maternal", "Pathogenic"),
        ("AD", "paternal", "maternal", "Pathogenic"),  # not a recessive disorder
        ("AR", "paternal", "maternal", "Uncertain significance"),
        ("AR", "paternal", "maternal", None),
    ],
)
def test_pm3_not_applied(mode, origin, partner, cls):
    assert pm3(mode=mode, origin=origin, partner_origin=partner, partner_classification=cls) is None


# -- PM4 ------------------------------------------------------------------------------------


def test_pm4_inframe_outside_repeat_and_stop_loss():
    assert pm4(consequences="inframe_deletion", in_repeat=False).code == "PM4"
    assert pm4(consequences="inframe_insertion", in_repeat=True) is None
    assert pm4(consequences="stop_lost", in_repeat=True).code == "PM4"
    assert pm4(consequences="missense_variant", in_repeat=False) is None
    assert pm4(consequences=("frameshift_variant", "stop_lost"), in_repeat=False) is None


# -- PP1 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "carriers", "clear", "label"),
    [
        ("AD", 2, 0, None),
        ("AD", 2, 1, "PP1"),
        ("AD", 3, 2, "PP1_Moderate"),
        ("AD", 4, 3, "PP1_Strong"),
        ("XL", 3, 0, "PP1"),
        ("AR", 1, 5, None),  # unaffected relatives do not count for a recessive disorder
        ("AR", 2, 0, "PP1"),  # two affected siblings sharing the genotype: 4 meioses
        ("AR", 3, 0, "PP1_Moderate"),
    ],
)
def test_pp1_strength_by_informative_meioses(mode, carriers, clear, label):
    e = pp1(mode=mode, affected_carriers=carriers, unaffected_noncarriers=clear)
    assert (e.label if e else None) == label


def test_pp1_not_with_an_affected_noncarrier():
    assert (
        pp1(mode="AD", affected_carriers=5, unaffected_noncarriers=3, affected_noncarriers=1)
        is None
    )


# -- PP3 / BP4 and the synthetic score ------------------------------------------------------


def test_pp3_bp4_cutoffs():
    assert pp3_bp4(score=0.644).code == "PP3"
    assert pp3_bp4(score=0.9).code == "PP3"
    assert pp3_bp4(score=0.290).code == "BP4"
    assert pp3_bp4(score=0.1).code == "BP4"
    assert pp3_bp4(score=0.5) is None
    assert pp3_bp4(score=None) is None
    with pytest.raises(InputError):
        pp3_bp4(score=1.5)


def test_insilico_score_is_deterministic_and_bounded_by_consequence():
    assert insilico_score(_ann("missense_variant", 1234)) == insilico_score(
        _ann("missense_variant", 1234)
    )
    missense = [insilico_score(_ann("missense_variant", p)) for p in range(1, 400)]
    assert len(set(missense)) > 100  # varies with the variant
    assert min(missense) < 0.290 < 0.644 < max(missense)  # both predictions occur
    assert all(0.85 <= insilico_score(_ann("stop_gained", p)) <= 1.0 for p in range(1, 50))
    assert all(insilico_score(_ann("synonymous_variant", p)) <= 0.25 for p in range(1, 50))
    assert all(insilico_score(_ann("intron_variant", p)) <= 0.20 for p in range(1, 50))
    with pytest.raises(InputError):
        insilico_score("chr1:1000:A:G")


# -- BS2, BP7 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "hom", "het", "full", "fires"),
    [
        ("AR", 1, 0, False, True),
        ("AR", 0, 12, True, False),  # heterozygotes are expected for a recessive disorder
        ("XL", 1, None, False, True),
        ("AD", None, 2, True, True),
        ("AD", None, 2, False, False),  # not fully penetrant: a healthy carrier proves little
        ("AD", None, None, True, False),
        (None, 3, 3, True, False),
    ],
)
def test_bs2(mode, hom, het, full, fires):
    e = bs2(
        mode=mode,
        healthy_adult_homozygotes=hom,
        healthy_adult_heterozygotes=het,
        fully_penetrant=full,
    )
    assert (e is not None) == fires


def test_bp7_synonymous_outside_splice_region():
    assert bp7(consequences="synonymous_variant").code == "BP7"
    assert bp7(consequences=("splice_region_variant", "synonymous_variant")) is None
    assert bp7(consequences="missense_variant") is None


# -- compute_criteria -----------------------------------------------------------------------


def test_de_novo_null_variant_in_dominant_lof_gene_is_pathogenic():
    facts = VariantFacts(
        consequences=("stop_gained",),
        gene="SCN1A",
        mode="AD",
        lof_mechanism=True,
        af={},
        an={},
        insilico=0.97,
        proband_genotype=1,
        father_genotype=0,
        mother_genotype=0,
        parentage_confirmed=True,
    )
    evidence = compute_criteria(facts)
    assert [e.code for e in evidence] == ["PVS1", "PS2", "PM2"]  # PP3 not beside PVS1
    assert all(e.source == "computed" and e.note for e in evidence)
    assert classify(evidence).classification == "Pathogenic"


def test_compound_heterozygous_missense_in_recessive_gene():
    facts = VariantFacts(
        consequences="missense_variant",
        mode="AR",
        lof_mechanism=True,
        af={"NOR": 2e-4},
        an={"NOR": 10_000},
        insilico=0.8,
        proband_genotype=1,
        father_genotype=1,
        mother_genotype=0,
        partner_origin="maternal",
        partner_classification="Pathogenic",
        affected_carriers=2,
    )
    codes = [e.label for e in compute_criteria(facts)]
    assert codes == ["PM2", "PM3", "PP1", "PP3"]
    assert classify(compute_criteria(facts)).classification == "Likely pathogenic"


def test_common_variant_gets_ba1_only():
    facts = VariantFacts(
        consequences="synonymous_variant",
        mode="AD",
        af={"NOR": 0.12, "SAS": 0.08},
        an={"NOR": 8000, "SAS": 2400},
        max_credible_af=1e-4,
        insilico=0.1,
    )
    assert [e.code for e in compute_criteria(facts)] == ["BA1", "BP4", "BP7"]
    assert classify(compute_criteria(facts)).classification == "Benign"


def test_bs1_replaces_pm2_when_more_frequent_than_the_disorder_allows():
    facts = VariantFacts(
        consequences="missense_variant",
        mode="AD",
        af={"NOR": 8e-5},
        an={"NOR": 50_000},
        max_credible_af=4e-5,
    )
    assert [e.code for e in compute_criteria(facts)] == ["BS1"]


def test_thresholds_change_the_outcome():
    facts = VariantFacts(consequences="missense_variant", mode="AD", af={}, an={}, insilico=0.6)
    assert [e.label for e in compute_criteria(facts)] == ["PM2"]
    strict = Thresholds(pm2_strength="supporting", pp3_min=0.55)
    assert [e.label for e in compute_criteria(facts, thresholds=strict)] == [
        "PM2_Supporting",
        "PP3",
    ]
    with pytest.raises(InputError):
        Thresholds(pp3_min=0.2, bp4_max=0.3)
    with pytest.raises(InputError):
        Thresholds(pp1_meioses=(5, 3, 7))


def test_explicit_origin_overrides_trio_inference_and_pm4_stays_off_with_pvs1():
    facts = VariantFacts(
        consequences="inframe_deletion",
        mode="AR",
        origin="paternal",
        partner_origin="maternal",
        partner_classification="Likely pathogenic",
    )
    assert [e.label for e in compute_criteria(facts)] == ["PM3_Supporting", "PM4"]
    null = VariantFacts(consequences=("frameshift_variant", "stop_lost"), lof_mechanism=True)
    assert [e.code for e in compute_criteria(null)] == ["PVS1"]


def test_facts_from_annotation():
    ann = _ann("missense_variant", 4242)
    facts = facts_from_annotation(ann, mode="AD")
    assert facts.consequences == ("missense_variant",)
    assert facts.gene == "GENE1"
    assert facts.insilico == insilico_score(ann)
    with pytest.raises(InputError):
        facts_from_annotation(ann, gene="OTHER")


@pytest.mark.parametrize(
    "bad",
    [
        {"consequences": ()},
        {"consequences": "missense_variant", "mode": "dominant"},
        {"consequences": "missense_variant", "proband_genotype": 3},
        {"consequences": "missense_variant", "af": {"NOR": 0.1}},
        {"consequences": "missense_variant", "af": {"NOR": 1.5}, "an": {"NOR": 10}},
        {"consequences": "missense_variant", "affected_carriers": -1},
        {"consequences": "missense_variant", "partner_classification": "VUS"},
        {"consequences": "missense_variant", "origin": "father"},
        {"consequences": "missense_variant", "lof_mechanism": "yes"},
        {"consequences": "missense_variant", "in_repeat": None},
    ],
)
def test_variant_facts_reject_bad_values(bad):
    with pytest.raises(InputError):
        VariantFacts(**bad)


def test_compute_criteria_checks_its_arguments():
    with pytest.raises(InputError):
        compute_criteria({"consequences": "missense_variant"})
    with pytest.raises(InputError):
        compute_criteria(VariantFacts(consequences="missense_variant"), thresholds={})


def test_frequencies_from_a_knowledge_row():
    import pandas as pd

    row = pd.Series(
        {"contig": "chr1", "position": 5, "ac": 9, "an": 240, "af": 0.0375, "ac_NOR": 9,
         "an_NOR": 120, "af_NOR": 0.075, "ac_SAS": 0, "an_SAS": 120, "af_SAS": 0.0}
    )  # fmt: skip
    af, an = frequencies_from_row(row)
    assert af == {"NOR": 0.075, "SAS": 0.0}
    assert an == {"NOR": 120, "SAS": 120}
    assert ba1(af=af, an=an, min_an=100).code == "BA1"
    assert frequencies_from_row(None) == ({}, {})
    with pytest.raises(InputError):
        frequencies_from_row({"af_NOR": 0.1})
    with pytest.raises(InputError):
        frequencies_from_row({"contig": "chr1"})
