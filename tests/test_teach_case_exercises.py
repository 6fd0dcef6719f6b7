"""Exercises made from the learner's own case (course 1, modules 05 and 07): built, sealed and
marked."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from workbench.errors import InputError, SolutionMismatch
from workbench.interpret.acmg import classify
from workbench.interpret.criteria import VariantFacts, compute_criteria
from workbench.teach import check, check_solution
from workbench.teach.case_exercises import classification_exercise, inheritance_exercise
from workbench.teach.exercises import Exercise

FREQ = "allele frequency 0.2 (pooled) is above the dominant/X-linked limit 0.001"
CIS = "heterozygous in a recessive gene; every other variant in CFTR is also paternal (in cis)"
ALONE = "heterozygous in a recessive gene with no second qualifying variant"


def _row(vid, gene, mode, pos, child, father, mother, kept, reason=""):
    return {
        "variant_id": vid,
        "gene": gene,
        "mode": mode,
        "position": pos,
        "hgvs_p": f"p.Arg{pos}Ter",
        "consequence": "stop_gained",
        "proband_count": child,
        "father_count": father,
        "mother_count": mother,
        "kept": kept,
        "reason": reason,
    }


def _table():
    """A trio's filter table: what the inheritance step saw and decided."""
    return pd.DataFrame(
        [
            _row("a", "SCN1A", "AD", 10, 1, 0, 0, True),  # de novo
            _row("b", "CFTR", "AR", 20, 1, 1, 0, False, CIS),  # two paternal hets: in cis
            _row("c", "CFTR", "AR", 30, 1, 1, 0, False, CIS),
            _row("d", "PAH", "AR", 40, 1, 1, 0, True),  # paternal + maternal: in trans
            _row("e", "PAH", "AR", 50, 1, 0, 1, True),
            _row("f", "GJB2", "AR", 60, 1, 0, 1, False, ALONE),
            _row("g", "DMD", "XL", 70, 1, None, 1, True),  # hemizygous, father not sequenced
            _row("h", "FBN1", "AD", 80, 1, 1, 0, False, FREQ),  # common: never judged
        ]
    )


def _by_gene(spec):
    return {r["id"]: r["gene"] for r in spec["table"]}


def test_the_answer_is_what_the_inheritance_step_keeps():
    spec = inheritance_exercise(_table())
    genes = _by_gene(spec)
    assert sorted(genes[v] for v in spec["answer"]) == ["DMD", "PAH", "PAH", "SCN1A"]
    assert "FBN1" not in genes.values()  # the frequency step dropped it before inheritance
    assert "7 rare, protein-altering variants in 5 genes" in spec["prompt"]
    # the table shows genotypes, not the workbench's verdict
    assert set(spec["columns"]) == {"gene", "mode", "change", "child", "father", "mother"}
    dmd = next(r for r in spec["table"] if r["gene"] == "DMD")
    assert (dmd["mode"], dmd["child"], dmd["father"], dmd["mother"]) == ("X-linked", "1", ".", "1")
    # the reasons for what it drops are the explanation, shown only to a right answer
    assert "in cis" in spec["explanation"] and "no second qualifying variant" in spec["explanation"]


def test_a_small_exercise_shows_whole_genes_recessive_first_and_is_seeded():
    spec = inheritance_exercise(_table(), max_rows=3, seed=1)
    genes = list(_by_gene(spec).values())
    assert len(genes) <= 3
    assert all(genes.count(g) == (_table().gene == g).sum() for g in set(genes))
    assert {"CFTR", "PAH", "GJB2"} & set(genes)  # a recessive gene comes first
    assert spec == inheritance_exercise(_table(), max_rows=3, seed=1)
    assert "of them, in" in spec["prompt"]


def test_sealed_the_exercise_marks_right_and_wrong_without_the_answer_in_it():
    spec = inheritance_exercise(_table())
    ex = Exercise.from_spec("genomic-medicine", "m5.case", spec)
    assert check(ex, spec["answer"]).correct is True
    assert check(ex, spec["wrong"]).correct is False
    assert check(ex, spec["answer"][:-1]).correct is False
    sealed = json.dumps(ex.sealed)
    assert "in cis" not in sealed  # the explanation is locked to the right answer
    assert json.dumps(spec["answer"]) not in sealed
    assert check_solution(ex, spec["answer"]).correct is True
    with pytest.raises(SolutionMismatch, match=r"m5\.case"):
        check_solution(ex, spec["wrong"])


def test_cases_without_a_fitting_candidate_get_no_exercise():
    t = _table()
    assert inheritance_exercise(t[t.variant_id == "h"]) is None  # nothing reached the step
    assert inheritance_exercise(t[t.variant_id == "f"]) is None  # nothing fits


def test_bad_input_gets_a_clear_error():
    with pytest.raises(InputError, match="filter table lacks columns"):
        inheritance_exercise(_table().drop(columns="father_count"))
    with pytest.raises(ValueError, match="max_rows"):
        inheritance_exercise(_table(), max_rows=0)
    with pytest.raises(InputError, match="case exercise"):
        Exercise.from_spec("genomic-medicine", "m5.case", {"type": "pick", "prompt": "p"})


# -- module 07: classify the first candidate -----------------------------------------------


def _candidate(vid, consequence, *, gene="SCN1A", mode="AD", af=0.0, insilico=0.9, **facts):
    """A candidate row and its classification, computed as the interpretation does."""
    child, father, mother = facts.pop("genotypes", (1, 0, 0))
    ev = compute_criteria(
        VariantFacts(
            consequences=(consequence,),
            gene=gene,
            mode=mode,
            lof_mechanism=True,
            af={"NOR": af} if af else {},
            an={"NOR": 50_000} if af else {},
            insilico=insilico,
            proband_genotype=child,
            father_genotype=father,
            mother_genotype=mother,
            **facts,
        )
    )
    row = {
        "variant_id": vid,
        "gene": gene,
        "mode": mode,
        "disease_name": f"{gene} disease",
        "consequence": consequence,
        "hgvs_c": "SYNT1.1:c.100del",
        "hgvs_p": "p.(Gly34fs)",
        "insilico": insilico,
        "af": af,
        "popmax_af": af,
        "popmax_population": "NOR",
        "proband_count": child,
        "father_count": father,
        "mother_count": mother,
        "reason": "the inheritance step's reason",
    }
    return row, classify(ev)


def _case(*candidates):
    rows = pd.DataFrame([row for row, _ in candidates])
    return rows, {row["variant_id"]: c for row, c in candidates}


CODES = re.compile(r"\b(PVS|PS|PM|PP|BA|BS|BP)[0-9]")


def test_a_classify_exercise_gives_the_facts_and_keys_the_workbench_s_class():
    table, classes = _case(
        _candidate("dn", "frameshift_variant", origin="de_novo", parentage_confirmed=True),
        _candidate("mis", "missense_variant", insilico=0.1, genotypes=(1, 0, 1), origin="maternal"),
    )
    spec = classification_exercise(table, classes, "dn")
    assert spec["type"] == "classify" and spec["criteria_panel"] is True
    assert spec["answer"] == {"class": "Pathogenic", "criteria": ["PVS1", "PS2", "PM2"]}
    facts = spec["variant"]
    for said in ("frameshift", "through loss of function", "absent from the population",
                 "the father does not carry it, the mother does not carry it",
                 "paternity are confirmed"):  # fmt: skip
        assert said in facts, said
    assert not CODES.search(facts)  # facts, never the criteria they meet
    assert "PVS1: " in spec["explanation"] and "Pathogenic" in spec["explanation"]
    other = classification_exercise(table, classes, "mis")
    assert other["answer"] == {"class": "Uncertain significance", "criteria": ["PM2", "BP4"]}
    assert "score it 0.100" in other["variant"] and "confirmed" not in other["variant"]
    assert "the mother carries one copy" in other["variant"]


def test_a_criterion_resting_on_other_facts_is_stated_in_the_workbench_s_words():
    table, classes = _case(
        _candidate(
            "p1",
            "missense_variant",
            gene="PAH",
            mode="AR",
            af=2e-4,
            genotypes=(1, 1, 0),
            origin="paternal",
            partner_origin="maternal",
            partner_classification="Pathogenic",
        )
    )
    spec = classification_exercise(table, classes, "p1")
    assert spec["answer"]["criteria"] == ["PM2", "PM3", "PP3"]
    assert "Also: in trans (paternal here, maternal partner)" in spec["variant"]
    assert "allele frequency in the population database is 0.0002" in spec["variant"]
    assert "a recessive disease" in spec["variant"]


def test_sealed_the_classify_exercise_marks_the_class_without_showing_it():
    table, classes = _case(
        _candidate("dn", "stop_gained", origin="de_novo", parentage_confirmed=True)
    )
    spec = classification_exercise(table, classes, "dn")
    ex = Exercise.from_spec("genomic-medicine", "m7.case", spec)
    assert check(ex, spec["answer"]).correct is True
    assert check(ex, spec["wrong"]).correct is False
    right_class_other_criteria = {"class": "Pathogenic", "criteria": ["PVS1", "PM2"]}
    feedback = check(ex, right_class_other_criteria)
    assert feedback.correct is True and "differ from the answer key" in " ".join(feedback.details)
    sealed = json.dumps(ex.sealed)
    assert "Pathogenic" not in sealed and "PS2" not in sealed and ex.variant == spec["variant"]


def test_no_classify_exercise_for_a_variant_that_is_not_a_candidate():
    table, classes = _case(_candidate("dn", "stop_gained", origin="de_novo"))
    assert classification_exercise(table, classes, "chr1:1:A>G") is None
    with pytest.raises(InputError, match="candidates lacks columns"):
        classification_exercise(table.drop(columns="insilico"), classes, "dn")
