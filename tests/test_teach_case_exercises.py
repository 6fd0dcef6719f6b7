"""Exercises made from the learner's own case (course 1, module 05): built, sealed and marked."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from workbench.errors import InputError, SolutionMismatch
from workbench.teach import check, check_solution
from workbench.teach.case_exercises import inheritance_exercise
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
