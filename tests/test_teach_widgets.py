"""Exercise widgets without a browser (workbench.widgets.exercises): set the controls, click
Check or Hint, read the feedback — and every attempt lands in the progress store."""

from __future__ import annotations

import pytest
import yaml

from workbench.teach import ProgressStore
from workbench.widgets.exercises import (
    ClassifyVariant,
    FreeText,
    MultipleChoice,
    Numeric,
    PickVariants,
    case_exercise,
    exercise,
    feedback_html,
)

KEY = {
    "course": "demo",
    "exercises": {
        "w.one": {
            "type": "choice",
            "prompt": "Which *fruit*?",
            "options": {"a": "x", "b": "y"},
            "answer": "b",
            "wrong": "a",
            "hints": ["Not x.", "Think y."],
            "explanation": "Y is right.",
        },
        "w.many": {
            "type": "choice",
            "multiple": True,
            "prompt": "Which?",
            "options": {"a": "x", "b": "y", "c": "z"},
            "answer": ["a", "c"],
            "wrong": ["a"],
        },
        "w.num": {
            "type": "numeric",
            "prompt": "How much?",
            "tolerance": 0.01,
            "answer": 0.25,
            "wrong": 0.5,
            "unit": "fraction",
        },
        "w.pick": {
            "type": "pick",
            "prompt": "Pick",
            "answer": ["v2"],
            "wrong": ["v1"],
            "table": [{"id": "v1", "gene": "A"}, {"id": "v2", "gene": "B"}],
        },
        "w.cls": {
            "type": "classify",
            "prompt": "Classify",
            "variant": "frameshift",
            "criteria_panel": True,
            "answer": "Likely pathogenic",
            "wrong": "Benign",
        },
        "w.text": {"type": "text", "prompt": "Explain", "model_answer": "The model answer."},
    },
}


@pytest.fixture
def course(tmp_path):
    (tmp_path / "answers.yml").write_text(yaml.safe_dump(KEY), encoding="utf-8")
    return tmp_path


@pytest.fixture
def store(tmp_path):
    return ProgressStore(
        tmp_path / "progress" / "p.sqlite", learner="ana", clock=lambda: "2024-01-01T00:00:00Z"
    )


def test_factory_picks_the_widget_for_each_type(course):
    kinds = {
        "w.one": MultipleChoice,
        "w.many": MultipleChoice,
        "w.num": Numeric,
        "w.pick": PickVariants,
        "w.cls": ClassifyVariant,
        "w.text": FreeText,
    }
    for ex_id, cls in kinds.items():
        assert type(exercise(ex_id, path=course, store=None)) is cls


def test_single_choice_check_and_progress(course, store):
    w = exercise("w.one", path=course, store=store)
    assert "<i>fruit</i>" in w.prompt.value
    w.check_button.click()
    assert "Choose an answer first" in w.feedback.value
    w.choices.value = "a"
    w.check_button.click()
    assert "Not yet" in w.feedback.value and "Y is right" not in w.feedback.value
    w.choices.value = "b"
    w.check_button.click()
    assert "Right" in w.feedback.value and "Y is right." in w.feedback.value
    attempts = store.attempts()
    assert list(attempts.correct) == [False, False, True]
    assert list(attempts.attempt) == [1, 2, 3]


def test_hints_one_at_a_time(course):
    w = exercise("w.one", path=course, store=None)
    assert w.hint_button.description == "Hint (1 of 2)"
    w.hint_button.click()
    assert "Not x." in w.hints.value and "Think y." not in w.hints.value
    w.hint_button.click()
    assert "Think y." in w.hints.value and w.hint_button.disabled
    assert exercise("w.num", path=course, store=None).hint_button.layout.display == "none"


def test_multiple_choice_checkboxes(course):
    w = exercise("w.many", path=course, store=None)
    w.choices["a"].value = True
    w.check_button.click()
    assert w.last.correct is False
    w.choices["c"].value = True
    w.check_button.click()
    assert w.last.correct is True


def test_numeric_bad_input_is_feedback_not_a_traceback(course):
    w = exercise("w.num", path=course, store=None)
    w.answer.value = "a quarter"
    w.check_button.click()
    assert "is not a number" in w.feedback.value
    w.answer.value = "0.255"
    w.check_button.click()
    assert "Right" in w.feedback.value


def test_pick_variants(course):
    w = exercise("w.pick", path=course, store=None)
    assert "<caption>" in w.table_html.value
    w.rows.value = ("v2",)
    w.check_button.click()
    assert w.last.correct is True


def test_a_case_exercise_is_marked_and_recorded_in_the_folder_s_course(course, store):
    spec = {
        "type": "pick",
        "prompt": "Which fit?",
        "table": [{"id": "V1", "gene": "PAH"}, {"id": "V2", "gene": "GJB2"}],
        "answer": ["V1"],
        "wrong": ["V1", "V2"],
        "explanation": "V2 is a lone heterozygous variant in a recessive gene.",
    }
    w = case_exercise("m5.case", spec, path=course, store=store)
    assert isinstance(w, PickVariants) and "V2 is a lone" not in w.prompt.value
    w.rows.value = ("V1", "V2")
    w.check_button.click()
    assert w.last.correct is False and "V2 is a lone" not in w.feedback.value
    w.rows.value = ("V1",)
    w.check_button.click()
    assert w.last.correct is True and "V2 is a lone" in w.feedback.value
    attempts = store.attempts()
    assert set(attempts.course) == {"demo"} and set(attempts.exercise_id) == {"m5.case"}


def test_classify_with_criteria_panel(course):
    w = exercise("w.cls", path=course, store=None)
    w.panel.checkboxes["PVS1"].value = True
    w.panel.checkboxes["PM2"].value = True
    w.classification.value = "Likely pathogenic"
    w.check_button.click()
    assert "Right" in w.feedback.value
    assert "give Likely pathogenic by Table 5" in w.feedback.value
    w.classification.value = "Benign"
    w.check_button.click()
    assert "Not yet" in w.feedback.value and "not the class you chose" in w.feedback.value


def test_free_text_reveals_model_answer_after_an_attempt(course):
    w = exercise("w.text", path=course, store=None)
    assert "model answer." not in w.feedback.value
    w.answer.value = "My own words."
    w.check_button.click()
    assert "Model answer" in w.feedback.value and "The model answer." in w.feedback.value


def test_progress_failure_is_reported_not_raised(course, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    w = exercise("w.one", path=course, store=ProgressStore(blocker / "p.sqlite", learner="a"))
    w.choices.value = "b"
    w.check_button.click()
    assert "Right" in w.feedback.value and "progress not saved" in w.feedback.value


def test_feedback_html_needs_feedback():
    assert feedback_html(None) == ""
    with pytest.raises(Exception, match="Feedback"):
        feedback_html("right")
