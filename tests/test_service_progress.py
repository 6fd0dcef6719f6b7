"""A class's progress kept by the data-access service, under each learner's identity."""

from __future__ import annotations

import contextlib
import sqlite3

import pytest
import requests

from workbench import Stewardship
from workbench.errors import AccessDenied, InputError
from workbench.teach.progress import learner_grid, summarise_attempts


def _second_learner(service) -> str:
    """A learner joins the class: a steward adds her, and she gets a token of her own."""
    steward = service.connect("steward.larsen").session(purpose=Stewardship())
    steward.add_principal(
        user_id="student.bo",
        display_name="Bo Holm",
        role="student",
        affiliation="student@ku.dk",
        accepted_terms="workbench-teaching-terms-v1",
        accepted_on="2024-01-01",
    )
    service.tokens["student.bo"] = service.state.issue_token("student.bo")[1]
    return "student.bo"


def test_attempts_are_kept_under_the_learners_identity_and_the_trainer_sees_the_class(service):
    bo = _second_learner(service)
    ali = service.connect("student.ali")
    assert ali.record_attempt(course="genomic-medicine", exercise_id="m1.q2", response=0.18,
                              correct=False) == 1  # fmt: skip
    assert ali.record_attempt(course="genomic-medicine", exercise_id="m1.q2", response=0.1,
                              correct=True) == 2  # fmt: skip
    service.connect(bo).progress_store().record(
        course="genomic-medicine", exercise_id="m1.q2", response=0.18, correct=False
    )
    mine = ali.attempts()
    assert list(mine.learner.unique()) == ["student.ali"] and list(mine.attempt) == [1, 2]
    # The trainer sees every learner; responses are keyed digests, never the answer in clear
    everyone = service.connect("teacher.berg").class_attempts()
    assert sorted(everyone.learner.unique()) == ["student.ali", "student.bo"]
    assert not everyone.response.isin(["0.18", "0.1", 0.18, 0.1]).any()
    wrong = everyone[everyone.correct.eq(False)]
    assert wrong.response.nunique() == 1  # the same wrong answer, seen as the same digest
    summary = summarise_attempts(everyone)
    assert summary[["learners", "solved", "attempts"]].values.tolist() == [[2, 1, 3]]
    assert learner_grid(everyone).to_dict() == {
        "m1.q2": {"student.ali": "✔ 2", "student.bo": "✘ 1"}
    }
    with contextlib.closing(sqlite3.connect(service.state_path / "progress.sqlite")) as conn:
        kept = conn.execute("SELECT group_concat(response) FROM attempts").fetchone()[0]
    assert "0.18" not in kept and "hmac:" in kept
    # A learner sees the class's progress no more than she resets someone
    with pytest.raises(AccessDenied, match="only a trainer"):
        ali.class_attempts()
    with pytest.raises(AccessDenied, match="only a trainer"):
        ali.reset_learner(bo)
    assert service.connect("teacher.berg").reset_learner("student.ali") == 2
    assert list(service.connect("teacher.berg").class_attempts().learner.unique()) == [bo]
    assert ali.attempts().empty


def test_who_answered_is_the_tokens_user_and_bad_ids_are_refused(service):
    headers = {"Authorization": f"token {service.tokens['student.ali']}"}
    url = f"{service.url}/api/v1/progress"
    forged = {"course": "genomic-medicine", "exercise_id": "m1.q1", "response": "b",
              "correct": True, "learner": "teacher.berg"}  # fmt: skip
    r = requests.post(url, json=forged, headers=headers, timeout=5)
    assert r.status_code == 400 and "unexpected field(s) learner" in r.json()["message"]
    assert requests.post(url, json={"course": "x"}, timeout=5).status_code == 401
    ali = service.connect("student.ali")
    with pytest.raises(InputError, match="exercise_id must be an id"):
        ali.record_attempt(course="genomic-medicine", exercise_id="../m1", response=1, correct=True)
    with pytest.raises(InputError, match="correct must be"):
        ali.record_attempt(course="genomic-medicine", exercise_id="m1.q1", response=1, correct="y")
    assert ali.attempts().empty


def test_a_learners_exercise_widget_records_with_the_service_and_the_trainer_dashboard_shows_it(
    service, monkeypatch, tmp_path
):
    # In a hosted class the kernel has WORKBENCH_SERVICE and the learner's own token: the
    # exercise widgets of a course module send each attempt there, and nothing is kept locally.
    from conftest import REPO

    from workbench.regress.runner import run_notebook
    from workbench.widgets.exercises import exercise

    bo = _second_learner(service)
    monkeypatch.setenv("WORKBENCH_SERVICE", service.url)
    monkeypatch.setenv("WORKBENCH_PROGRESS", str(tmp_path / "local.sqlite"))
    course = REPO / "courses" / "genomic-medicine"
    for learner, answers in (("student.ali", ["a", "b"]), (bo, ["d"])):
        monkeypatch.setenv("WORKBENCH_TOKEN", service.tokens[learner])
        w = exercise("m1.q1", path=course)
        for answer in answers:
            w.choices.value = answer
            w.check_button.click()
            assert "progress not saved" not in w.feedback.value
    assert not (tmp_path / "local.sqlite").exists()
    # The trainer's dashboard reads the class from the service: both learners, every attempt
    monkeypatch.delenv("WORKBENCH_SERVICE")
    path = REPO / "notebooks" / "dashboards" / "class_progress.ipynb"
    result = run_notebook(
        path,
        parameters={"service": service.url, "token": service.tokens["teacher.berg"]},
        output_path=tmp_path / "executed.ipynb",
        cwd=path.parent,
    )
    records = {r.name: r.value for r in result.records}
    assert records["progress.demo"] is False
    assert (records["progress.learners"], records["progress.attempts"]) == (2, 3)
    # … and a learner's token opens no one's progress: the dashboard says so in one line
    from workbench.widgets.progress import ClassProgress, progress_sources

    board = ClassProgress(progress_sources(service=service.url, token=service.tokens[bo]))
    assert "only a trainer" in str(board.errors.outputs) and board.attempts.empty
    # The trainer resets a learner from the dashboard: a first click asks, a second deletes
    board = ClassProgress(
        progress_sources(service=service.url, token=service.tokens["teacher.berg"])
    )
    assert "student.bo" in board.grid.value and "Download the 3 attempts" in board.download.value
    board.learner.value = bo
    board.reset_button.click()
    assert board.reset_button.description == f"Confirm: reset {bo}"
    assert set(board.attempts.learner) == {"student.ali", bo}
    board.reset_button.click()
    assert (
        set(board.attempts.learner) == {"student.ali"} and "1 attempts deleted" in board.note.value
    )
