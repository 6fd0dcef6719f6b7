"""Learners' progress (workbench.teach.progress): attempts in SQLite, CSV export, and the
class summary a trainer's dashboard reads."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from workbench.errors import InputError
from workbench.teach import ProgressStore, class_progress, default_progress_path


def _store(tmp_path, learner):
    return ProgressStore(
        tmp_path / f"{learner}.sqlite", learner=learner, clock=lambda: "2024-05-01T10:00:00Z"
    )


def test_attempts_are_numbered_per_exercise(tmp_path):
    s = _store(tmp_path, "ana")
    assert s.record(course="c", exercise_id="m1.q1", response="a", correct=False) == 1
    assert s.record(course="c", exercise_id="m1.q1", response="b", correct=True) == 2
    assert s.record(course="c", exercise_id="m1.q2", response=[1, 2], correct=None) == 1
    a = s.attempts()
    assert list(a.attempt) == [1, 2, 1]
    assert list(a.correct) == [False, True, None]
    assert a.response.iloc[2] == "[1, 2]"


def test_csv_export_round_trips_into_the_class_summary(tmp_path):
    ana, bo = _store(tmp_path, "ana"), _store(tmp_path, "bo")
    ana.record(course="c", exercise_id="q1", response="a", correct=False)
    ana.record(course="c", exercise_id="q1", response="b", correct=True)
    bo.record(course="c", exercise_id="q1", response="b", correct=True)
    bo.record(course="c", exercise_id="q2", response="x", correct=False)
    csv = ana.export_csv(tmp_path / "ana.csv")
    assert pd.read_csv(csv).columns.tolist() == [
        "learner",
        "course",
        "exercise_id",
        "attempt",
        "response",
        "correct",
        "at",
    ]
    summary = class_progress([csv, bo.path, csv]).set_index("exercise_id")  # csv twice
    q1, q2 = summary.loc["q1"], summary.loc["q2"]
    assert (q1.learners, q1.solved, q1.first_try, q1.attempts) == (2, 2, 1, 3)
    assert q1.solved_percent == 100.0 and q1.mean_attempts_to_solve == 1.5
    assert (q2.learners, q2.solved, q2.solved_percent) == (1, 0, 0.0)
    assert math.isnan(q2.mean_attempts_to_solve)


def test_empty_and_bad_inputs(tmp_path):
    assert _store(tmp_path, "nobody").attempts().empty
    with pytest.raises(InputError, match="does not exist"):
        class_progress(tmp_path / "missing.sqlite")
    with pytest.raises(InputError, match="at least one"):
        class_progress([])
    with pytest.raises(InputError, match="correct must be"):
        _store(tmp_path, "x").record(course="c", exercise_id="q", response=1, correct="yes")


def test_default_path_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_PROGRESS", str(tmp_path / "p.sqlite"))
    assert default_progress_path() == tmp_path / "p.sqlite"
    monkeypatch.setenv("WORKBENCH_LEARNER", "carl")
    assert ProgressStore().learner == "carl"
