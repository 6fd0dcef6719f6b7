"""Phenotype-driven ranking and the whole case through a treatment session (tiny cohort)."""

from __future__ import annotations

import shutil
import sqlite3

import pandas as pd
import pytest

import workbench
from workbench.errors import InputError
from workbench.interpret import (
    check_terms,
    classify_candidates,
    interpret_case,
    phenotype_scores,
    rank_candidates,
    rerank,
)
from workbench.interpret.acmg import Evidence


@pytest.fixture(scope="module")
def copy(tiny_cohort_path, tmp_path_factory):
    dest = tmp_path_factory.mktemp("rank") / "cohort"
    shutil.copytree(tiny_cohort_path, dest)
    return dest


@pytest.fixture(scope="module")
def cohort(copy):
    return workbench.open_cohort(copy, verify=False)


def clinician_of(path, proband):
    with sqlite3.connect(f"file:{path}/registry.sqlite?mode=ro", uri=True) as conn:
        today = conn.execute("SELECT value FROM meta WHERE key='reference_date'").fetchone()[0]
        row = conn.execute(
            "SELECT user_id FROM care_relationships WHERE person_id=? AND since<=? "
            "AND (until IS NULL OR ?<=until) ORDER BY user_id",
            (proband, today, today),
        ).fetchone()
    return None if row is None else row[0]


@pytest.fixture(scope="module")
def cases(copy, cohort):
    """Every proband a synthetic clinician cares for, interpreted through their session."""
    out = {}
    for case in cohort.truth()["cases"].itertuples(index=False):
        user = clinician_of(copy, case.proband_id)
        if user is None:
            continue
        s = cohort.session(user=user, purpose=workbench.Treatment(patient=case.proband_id))
        out[case.family_id] = (case, interpret_case(s, case.proband_id))
        s.close()
    return out


def test_the_planted_gene_is_ranked_first(cases):
    solvable = [(c, r) for c, r in cases.values() if c.status in ("solved", "dual")]
    assert len(solvable) >= 5
    for case, result in solvable:
        planted = {g for g in (case.gene, case.gene2) if isinstance(g, str)}
        assert result.ranking.gene.iat[0] in planted, (case.family_id, result.ranking.gene)


def test_unsolved_case_is_not_reported_as_solved(cases):
    unsolved = [r for c, r in cases.values() if c.status == "unsolved"]
    assert unsolved
    assert not any(r.solved for r in unsolved)


def test_explanation_names_phenotype_variant_evidence_and_inheritance(cases):
    _, result = next(iter(cases.values()))
    top = result.top
    assert top is not None
    for part in ("Phenotype: similarity", "Variant evidence:", "Inheritance:"):
        assert part in top.explanation
    assert top.matched_terms
    assert top.classification in ("Pathogenic", "Likely pathogenic")
    assert result.candidates.criteria.str.contains("PM2").all()


def test_without_a_phenotype_genes_are_ranked_on_variant_evidence(cases, cohort):
    solvable = [(c, r) for c, r in cases.values() if c.status in ("solved", "dual")]
    blind = phenotype_scores([], cohort.knowledge.gene_disease)
    for case, result in solvable:
        ranking = rank_candidates(result.candidates, blind, terms=[])
        assert (ranking.score > 0).all(), case.family_id  # not every gene tied at 0
        assert ranking.score.is_monotonic_decreasing
        planted = {g for g in (case.gene, case.gene2) if isinstance(g, str)}
        assert ranking.gene.iat[0] in planted, (case.family_id, ranking.gene)  # tiny: clean
        assert "no phenotype to compare" in ranking.explanation.iat[0]


def test_rerank_under_the_same_terms_gives_the_same_ranking_and_fewer_terms_change_it(
    cases, cohort
):
    sf = cohort.knowledge.acmg_sf.gene
    for _, result in cases.values():
        same = rerank(result, result.terms, acmg_sf_genes=sf)
        pd.testing.assert_frame_equal(same, result.ranking)
    _, result = next(iter(cases.values()))
    blind = rerank(result, [], acmg_sf_genes=sf)
    assert blind.explanation.str.contains("no phenotype to compare").all()
    assert "no phenotype" not in result.ranking.explanation.iat[0]


def test_ranking_is_deterministic(cases, cohort, copy):
    case, result = next(iter(cases.values()))
    user = clinician_of(copy, case.proband_id)
    with cohort.session(user=user, purpose=workbench.Treatment(patient=case.proband_id)) as s:
        again = interpret_case(s, case.proband_id)
    pd.testing.assert_frame_equal(result.ranking, again.ranking)


def test_phenotype_scores_put_the_source_disease_first(cohort):
    ph = cohort.phenotypes()
    case = cohort.truth()["cases"].iloc[0]
    terms = ph[(ph.person_id == case.proband_id) & (ph.excluded == 0)].hpo_id.tolist()
    scores = phenotype_scores(terms, cohort.knowledge.gene_disease)
    best = scores.sort_values("phenotype_rank").iloc[0]
    assert best.disease_id == case.disease_id
    assert best.phenotype_relative == 1.0
    assert scores.phenotype_score.between(0, 1).all()


def test_unknown_obsolete_and_non_phenotype_terms_are_named():
    ok, msgs = check_terms(["HP:0001250", "HP:9999999", "HP:0000057", "HP:0000006", "HP:12"])
    assert ok == ["HP:0001250"]
    text = " ".join(msgs)
    assert "HP:9999999 does not exist" in text
    assert "HP:0000057" in text and "obsolete" in text
    assert "HP:0000006" in text and "not a phenotypic abnormality" in text
    assert "HP:12" in text
    with pytest.raises(InputError, match="HP:9999999"):
        phenotype_scores(
            ["HP:9999999"], pd.DataFrame(columns=["gene", "disease_id", "disease_name"])
        )


def test_unknown_hpo_term_in_a_case_is_a_message_not_a_crash(cases, cohort, copy):
    case, result = next(iter(cases.values()))
    user = clinician_of(copy, case.proband_id)
    with cohort.session(user=user, purpose=workbench.Treatment(patient=case.proband_id)) as s:
        packet = s.phenopacket(case.proband_id)
        packet["phenotypicFeatures"].append({"type": {"id": "HP:9999999", "label": "Made up"}})
        s.phenopacket = lambda person: packet  # the referral carries a bad id
        again = interpret_case(s, case.proband_id)
    assert any("HP:9999999 does not exist" in m for m in again.messages)
    assert "HP:9999999" not in again.terms
    pd.testing.assert_frame_equal(again.ranking, result.ranking)


def test_user_criteria_are_merged_before_classification(cases, cohort):
    _, result = next(iter(cases.values()))
    vid = result.ranking.variants.iat[0].split(",")[0]
    cand = result.filtered.candidates
    benign = {vid: [Evidence("BA1", source="user", note="seen in a large control cohort")]}
    table, classes = classify_candidates(
        cand,
        frequencies=cohort.knowledge.frequencies,
        parentage_confirmed=result.filtered.parentage_confirmed,
        thresholds=result.thresholds,
        user_criteria=benign,
    )
    assert classes[vid].classification == "Uncertain significance"  # contradictory
    assert "BA1" in table.set_index("variant_id").loc[vid, "criteria"]
    with pytest.raises(InputError, match="not candidates"):
        classify_candidates(
            cand,
            frequencies=cohort.knowledge.frequencies,
            parentage_confirmed=True,
            user_criteria={"chr9:1:A>C": ["PS3"]},
        )


def test_a_session_that_does_not_show_the_proband_is_refused_clearly(cohort, copy):
    case = next(iter(cohort.truth()["cases"].itertuples(index=False)))
    user = clinician_of(copy, case.proband_id)
    purpose = workbench.Treatment(patient=case.proband_id)
    with (
        cohort.session(user=user, purpose=purpose) as s,
        pytest.raises(InputError, match="not among the people this session shows"),
    ):
        interpret_case(s, "P99999")


# -- phenotype helpers (module 6 of the clinicians' course shows them) -------------------------
WORKED = pd.DataFrame(
    [
        ("SCN1A", "OMIM:607208", "Dravet syndrome"),
        ("DMD", "OMIM:310200", "Duchenne muscular dystrophy"),
        ("CFTR", "OMIM:219700", "Cystic fibrosis"),
    ],
    columns=["gene", "disease_id", "disease_name"],
)
BOY = ["HP:0001324", "HP:0002194", "HP:0001263"]  # muscle weakness, delayed gross motor, GDD
SEIZURE = "HP:0001250"


def test_phenopacket_features_keep_order_and_status():
    from workbench.interpret.case import phenopacket_features

    packet = {
        "phenotypicFeatures": [
            {"type": {"id": SEIZURE, "label": "Seizure"}},
            {"type": {"id": "HP:0001263", "label": "Global developmental delay"}, "excluded": True},
            {"type": {}},
        ]
    }
    table = phenopacket_features(packet)
    assert table.values.tolist() == [
        [SEIZURE, "Seizure", "observed"],
        ["HP:0001263", "Global developmental delay", "excluded"],
    ]
    assert phenopacket_features({}).empty
    with pytest.raises(InputError, match="phenopacket"):
        phenopacket_features("P00003")


def test_excluded_conflicts_name_the_diseases_that_list_an_absent_finding():
    from workbench.interpret.rank import excluded_conflicts

    scores = phenotype_scores(BOY, WORKED)
    conflicts = excluded_conflicts([SEIZURE], scores)
    assert conflicts.get("SCN1A")
    assert excluded_conflicts([], scores) == {}
    assert set(excluded_conflicts([SEIZURE], scores, top=1)) <= {
        scores.gene[scores.phenotype_rank == 1].iloc[0]
    }


def test_rank_under_follows_the_diagnosis_across_scenarios():
    from workbench.interpret.rank import rank_under

    table = rank_under({"as written": BOY, "one term": BOY[:1]}, WORKED, gene="DMD")
    assert table.scenario.tolist() == ["as written", "one term"]
    assert table.terms.tolist() == [3, 1]
    row = table.iloc[0]
    assert row["rank"] == 1 and row.best_disease == "Duchenne muscular dystrophy"
    assert row.relative == 1.0
    with pytest.raises(InputError, match="no disease"):
        rank_under({"x": BOY}, WORKED, gene="BRCA2")


def test_choose_case_picks_from_the_clinicians_worklists(tiny_cohort):
    from workbench.access.explain import worklist
    from workbench.interpret.case import choose_case

    clinician, proband = choose_case(tiny_cohort)
    mine = worklist(tiny_cohort, user=clinician)
    assert proband == next(iter(mine))
    # A family picks its proband and the first clinician caring for it
    family = list(mine.values())[-1]
    assert choose_case(tiny_cohort, family=family) == (clinician, list(mine)[-1])
    with pytest.raises(InputError, match="no family 'F9999'"):
        choose_case(tiny_cohort, family="F9999")
    with pytest.raises(InputError, match="is not a clinician"):
        choose_case(tiny_cohort, clinician="lab.researcher")


def _ranking(*rows):
    cols = ["gene", "classification", "inheritance_fit", "phenotype_score", "phenotype_relative"]
    rows = [r if len(r) == 5 else (*r, 1.0) for r in rows]  # the panel's best match by default
    return pd.DataFrame([dict(zip(cols, r, strict=True)) for r in rows], columns=cols)


@pytest.mark.parametrize(
    ("rows", "solved"),
    [
        (
            (("A", "Likely pathogenic", "full", 0.1), ("B", "Uncertain significance", "full", 0.9)),
            True,
        ),
        # a parent missing: the origin is unknown, so the phenotype must speak for it
        ((("A", "Pathogenic", "partial", 0.0),), False),
        (
            (("A", "Pathogenic", "partial", 0.4), ("B", "Likely pathogenic", "partial", 0.6)),
            False,
        ),
        (
            (("A", "Pathogenic", "partial", 0.6), ("B", "Likely pathogenic", "full", 0.4)),
            True,
        ),
        ((("A", "Uncertain significance", "full", 0.9),), False),
        # from an unaffected parent, and another candidate's disease fits the child better
        (
            (
                ("A", "Likely pathogenic", "weak", 0.12),
                ("B", "Uncertain significance", "full", 0.15),
            ),
            False,
        ),
        (
            (("A", "Likely pathogenic", "weak", 0.8), ("B", "Uncertain significance", "full", 0.3)),
            True,
        ),
        ((("A", "Likely pathogenic", "weak", 0.0),), False),  # no phenotype to speak for it
        # the best of the candidates, but a disease whose gene carries nothing fits far better
        (
            (
                ("A", "Likely pathogenic", "weak", 0.445, 0.56),
                ("B", "Uncertain significance", "weak", 0.443, 0.56),
            ),
            False,
        ),
        ((("A", "Likely pathogenic", "partial", 0.445, 0.56),), True),  # origin may be de novo
        ((), False),
    ],
)
def test_a_diagnosis_is_reported_only_when_the_top_candidate_explains_the_patient(rows, solved):
    from workbench.interpret.case import reported_as_solved

    assert reported_as_solved(_ranking(*rows)) is solved
