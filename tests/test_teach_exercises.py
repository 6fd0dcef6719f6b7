"""Exercise checking and sealing (workbench.teach.exercises, workbench.teach.sealing):
right answers are marked right and wrong ones wrong for every exercise type, and the sealed
bundle holds no answer in clear."""

from __future__ import annotations

import json

import pytest
import yaml

from workbench.errors import InputError
from workbench.teach import (
    Exercise,
    SolutionMismatch,
    check,
    check_solution,
    load_answer_key,
    load_bundle,
    seal_answers,
)
from workbench.teach.sealing import normalise_class, numeric_bucket, obfuscate, reveal

KEY = {
    "course": "demo",
    "exercises": {
        "q.choice": {
            "type": "choice",
            "prompt": "Pick one",
            "options": {"a": "apple", "b": "banana", "c": "cherry"},
            "answer": "b",
            "wrong": "a",
            "hints": ["It is yellow.", "It is curved."],
            "explanation": "Bananas are the yellow curved fruit.",
        },
        "q.multi": {
            "type": "choice",
            "multiple": True,
            "prompt": "Pick two",
            "options": {"a": "x", "b": "y", "c": "z"},
            "answer": ["c", "a"],
            "wrong": ["a"],
        },
        "q.num": {
            "type": "numeric",
            "prompt": "How much?",
            "tolerance": 0.02,
            "answer": 0.37,
            "wrong": 0.5,
        },
        "q.pick": {
            "type": "pick",
            "prompt": "Which rows?",
            "table": [{"id": "r1", "v": 1}, {"id": "r2", "v": 2}, {"id": "r3", "v": 3}],
            "answer": ["r1", "r3"],
            "wrong": ["r2"],
        },
        "q.cls": {
            "type": "classify",
            "prompt": "Classify",
            "variant": "a frameshift, de novo, absent",
            "criteria_panel": True,
            "criteria": ["PVS1", "PS2", "PM2"],
            "answer": {"class": "Pathogenic", "criteria": ["PVS1", "PS2", "PM2"]},
            "wrong": "Likely benign",
        },
        "q.text": {
            "type": "text",
            "prompt": "Why?",
            "model_answer": "Because of consent and privacy.",
            "keywords": [["consent", "permission"], "privacy"],
            "answer": "Privacy matters, and so does permission",
            "wrong": "No idea",
        },
        "q.open": {"type": "text", "prompt": "Discuss", "model_answer": "Anything thoughtful."},
    },
}


@pytest.fixture
def course_dir(tmp_path):
    (tmp_path / "answers.yml").write_text(yaml.safe_dump(KEY), encoding="utf-8")
    return tmp_path


@pytest.fixture
def bundle():
    return seal_answers(load_key_from_dict(KEY))


def load_key_from_dict(data):
    from workbench.teach.sealing import _check_spec

    return {
        "course": data["course"],
        "exercises": {k: _check_spec(k, v, where="test") for k, v in data["exercises"].items()},
    }


def ex(bundle, ex_id):
    return Exercise.from_bundle(bundle, ex_id)


@pytest.mark.parametrize("ex_id", [k for k in KEY["exercises"] if k != "q.open"])
def test_answer_marked_right_and_wrong_marked_wrong(bundle, ex_id):
    spec = KEY["exercises"][ex_id]
    assert check(ex(bundle, ex_id), spec["answer"]).correct is True
    assert check(ex(bundle, ex_id), spec["wrong"]).correct is False


def test_choice_feedback_explains_only_when_right(bundle):
    right = check(ex(bundle, "q.choice"), "b")
    wrong = check(ex(bundle, "q.choice"), "c")
    assert right.explanation == "Bananas are the yellow curved fruit."
    assert wrong.explanation is None and "hint" in wrong.message
    with pytest.raises(InputError, match="not an option"):
        check(ex(bundle, "q.choice"), "z")
    assert check(ex(bundle, "q.choice"), None).correct is False
    assert check(ex(bundle, "q.choice"), ["a", "b"]).message == "Choose one answer only."


def test_multiple_choice_is_a_set(bundle):
    e = ex(bundle, "q.multi")
    assert check(e, ["a", "c"]).correct and check(e, ("c", "a", "a")).correct
    assert not check(e, ["a", "b", "c"]).correct


@pytest.mark.parametrize(
    ("response", "correct"),
    [
        (0.37, True),
        ("0.35", True),
        (0.39, True),
        ("0,38", True),
        (0.36999, True),
        (0.345, False),
        (0.4, False),
        (-0.37, False),
        ("", False),
        ("abc", False),
    ],
)
def test_numeric_tolerance(bundle, response, correct):
    assert check(ex(bundle, "q.num"), response).correct is correct


def test_numeric_bucket_is_exact_in_decimal():
    assert numeric_bucket(0.3, 0.02) == 60  # 0.3 / 0.005 is exactly 60, not 59.999…
    assert numeric_bucket(-0.001, 0.02) == -1


def test_pick_rejects_unknown_rows(bundle):
    with pytest.raises(InputError, match="no rows"):
        check(ex(bundle, "q.pick"), ["r9"])
    assert list(ex(bundle, "q.pick").table.index) == ["r1", "r2", "r3"]


def test_classify_reports_class_implied_by_ticked_criteria(bundle):
    e = ex(bundle, "q.cls")
    fb = check(e, {"class": "LP", "criteria": ["PVS1", "PM2"]})
    assert fb.correct is False
    assert "give Likely pathogenic by Table 5" in fb.details[0]
    assert "agrees with the class you chose" in fb.details[0]
    assert "differ from the answer key" in fb.details[1]
    fb = check(e, {"class": "P", "criteria": ["PM2", "PS2", "PVS1"]})
    assert fb.correct and "are the ones in the answer key" in fb.details[1]
    assert check(e, "pathogenic").correct
    with pytest.raises(InputError, match="ACMG class"):
        check(e, "very bad")


def test_free_text_keywords_and_model_answer(bundle):
    e = ex(bundle, "q.text")
    half = check(e, "It is about consent.")
    assert half.correct is False and "1 of 2" in half.message
    assert half.explanation == "Because of consent and privacy."
    open_ex = ex(bundle, "q.open")
    fb = check(open_ex, "Some thoughts")
    assert fb.correct is None and fb.explanation == "Anything thoughtful."
    assert check(open_ex, "  ").explanation is None  # no model answer before an attempt


def test_hints_revealed_by_number(bundle):
    e = ex(bundle, "q.choice")
    assert e.n_hints == 2 and e.hint(1) == "It is curved."
    with pytest.raises(InputError, match="has 2 hints"):
        e.hint(2)


def test_bundle_holds_no_answer_in_clear(bundle):
    text = json.dumps(bundle)
    for secret in (
        "Bananas are the yellow",
        "It is yellow",
        "consent and privacy",
        "Anything thoughtful",
        "0.37",
        '"r1", "r3"',
        "PVS1",
    ):
        assert secret not in text
    sealed = bundle["exercises"]["q.choice"]
    assert set(sealed) >= {"answer", "salt"} and len(sealed["answer"]) == 64
    # salts differ per exercise, so equal answers do not give equal digests
    assert bundle["exercises"]["q.multi"]["salt"] != sealed["salt"]


def test_sealing_is_deterministic():
    key = load_key_from_dict(KEY)
    assert json.dumps(seal_answers(key)) == json.dumps(seal_answers(load_key_from_dict(KEY)))


def test_obfuscation_round_trips_and_depends_on_purpose():
    blob = obfuscate("hint text", key="k", exercise_id="e", purpose="hint0")
    assert reveal(blob, key="k", exercise_id="e", purpose="hint0") == "hint text"
    assert blob != obfuscate("hint text", key="k", exercise_id="e", purpose="hint1")


def test_load_from_source_tree_and_sealed_bundle(course_dir):
    from_yaml = Exercise.load("q.num", path=course_dir)
    assert check(from_yaml, 0.37).correct
    (course_dir / "answers.sealed.json").write_text(
        json.dumps(load_bundle(course_dir)), encoding="utf-8"
    )
    (course_dir / "answers.yml").unlink()
    assert check(Exercise.load("q.num", path=course_dir), 0.37).correct
    with pytest.raises(InputError, match=r"no exercise 'q\.none'"):
        Exercise.load("q.none", path=course_dir)


def test_missing_bundle_says_what_to_do(tmp_path):
    with pytest.raises(InputError, match="workbench course build"):
        Exercise.load("q.num", path=tmp_path / "empty")


def test_check_solution_raises_on_a_broken_key(course_dir):
    assert check_solution("q.choice", "b", path=course_dir).correct
    with pytest.raises(SolutionMismatch, match=r"q\.choice") as err:
        check_solution("q.choice", "a", path=course_dir)
    assert err.value.exercise_id == "q.choice"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "quiz", "prompt": "p", "answer": 1, "wrong": 2}, "type 'quiz'"),
        ({"type": "choice", "prompt": "p", "answer": "a"}, "lacks wrong"),
        (
            {
                "type": "choice",
                "prompt": "p",
                "options": {"a": 1, "b": 2},
                "answer": "z",
                "wrong": "a",
            },
            "unknown options",
        ),
        ({"type": "numeric", "prompt": "p", "answer": 1, "wrong": 2, "tolerance": 0}, "> 0"),
        ({"type": "classify", "prompt": "p", "answer": "Bad", "wrong": "B"}, "ACMG class"),
    ],
)
def test_answer_key_errors_name_the_exercise(tmp_path, spec, message):
    path = tmp_path / "answers.yml"
    path.write_text(yaml.safe_dump({"course": "c", "exercises": {"x1": spec}}), encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_answer_key(path)


def test_class_aliases():
    assert normalise_class("VUS") == normalise_class("Uncertain significance")
    assert normalise_class("likely_pathogenic") == "likely pathogenic"
