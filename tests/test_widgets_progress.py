"""The trainer's progress dashboard without a browser: sources, demo class, table, widget."""

from __future__ import annotations

import tempfile

import pandas as pd
import pytest

from workbench.errors import InputError
from workbench.teach import ProgressStore, class_progress
from workbench.widgets.progress import (
    ALL_COURSES,
    ClassProgress,
    ProgressSources,
    course_table,
    demo_progress,
    progress_html,
    progress_png,
    progress_sources,
)

T = "2026-01-05T09:00:00Z"


def _store(path, learner):
    return ProgressStore(path, learner=learner, clock=lambda: T)


def test_demo_progress_is_reproducible_and_never_overwrites(tmp_path):
    a = class_progress(demo_progress(tmp_path / "a.sqlite", seed=3))
    b = class_progress(demo_progress(tmp_path / "b.sqlite", seed=3))
    pd.testing.assert_frame_equal(a, b)
    assert list(a.exercise_id) == ["m1.q1", "m1.q2", "m1.q3", "m1.q4", "m1.q5"]
    assert (a.learners <= 12).all() and (a.attempts >= a.learners).all()
    assert not a.equals(class_progress(demo_progress(tmp_path / "c.sqlite", seed=4)))
    with pytest.raises(InputError, match="exists already"):
        demo_progress(tmp_path / "a.sqlite")


def test_sources_default_store_demo_file_and_folder(tmp_path, monkeypatch):
    default = tmp_path / "home" / "progress.sqlite"
    monkeypatch.setenv("WORKBENCH_PROGRESS", str(default))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # the demo goes there
    demo = progress_sources("")
    assert demo.demo and "DEMO" in demo.note and str(default) in demo.note
    assert demo.paths[0].is_relative_to(tmp_path / "tmp")
    assert not default.exists()  # the demo never writes the learner's store
    _store(default, "ana").record(course="c", exercise_id="x", response="a", correct=True)
    own = progress_sources("")
    assert own == ProgressSources((default,), f"Attempts recorded in {default}.")

    folder = tmp_path / "class"
    folder.mkdir()
    _store(default, "ana").export_csv(folder / "ana.csv")
    (folder / "notes.txt").write_text("not progress")
    assert progress_sources(folder).paths == (folder / "ana.csv",)
    assert progress_sources(str(folder / "ana.csv")).paths == (folder / "ana.csv",)
    with pytest.raises(InputError, match="holds no progress file"):
        progress_sources(tmp_path / "tmp")  # only the demo's folder
    with pytest.raises(InputError, match="does not exist"):
        progress_sources(tmp_path / "missing.csv")


def test_course_table_html_and_png(tmp_path):
    db = tmp_path / "p.sqlite"
    _store(db, "ana").record(course="gm", exercise_id="m1.q1", response="b", correct=True)
    _store(db, "bo").record(course="gm", exercise_id="m1.q1", response="a", correct=False)
    _store(db, "bo").record(course="sr", exercise_id="s1.q1", response="a", correct=False)
    table = class_progress(db)
    gm = course_table(table, course="gm")
    assert list(gm.exercise_id) == ["m1.q1"] and gm.solved_percent[0] == 50.0
    assert len(course_table(table, course=ALL_COURSES)) == 2
    with pytest.raises(InputError, match="courses: gm, sr"):
        course_table(table, course="nope")
    html = progress_html(table)
    assert "Progress per exercise (2 exercises)" in html and "—" in html  # nobody solved s1.q1
    assert progress_png(table).startswith(b"\x89PNG")
    with pytest.raises(InputError, match="no attempts"):
        progress_png(table.iloc[:0])


def test_widget_filters_by_course_and_reloads(tmp_path):
    db = tmp_path / "p.sqlite"
    _store(db, "ana").record(course="gm", exercise_id="m1.q1", response="b", correct=True)
    board = ClassProgress(ProgressSources((db,), "one learner"))
    assert list(board.course.options) == [ALL_COURSES, "gm"]
    assert "m1.q1" in board.table.value and bytes(board.chart.value).startswith(b"\x89PNG")
    _store(db, "bo").record(course="sr", exercise_id="s1.q1", response="a", correct=False)
    assert "s1.q1" not in board.table.value
    board.reload_button.click()
    assert list(board.course.options) == [ALL_COURSES, "gm", "sr"]
    assert "s1.q1" in board.table.value
    board.course.value = "sr"
    assert "m1.q1" not in board.table.value and "s1.q1" in board.table.value
    assert board.errors.outputs == ()


def test_widget_shows_an_empty_store_and_errors_in_words(tmp_path):
    db = ProgressStore(tmp_path / "p.sqlite", learner="ana").export_csv(tmp_path / "ana.csv")
    board = ClassProgress([db])  # a learner who has not checked any answer yet
    assert "No attempts" in board.summary.value and board.table.value == ""
    db.write_text("not,an,export\n1,2,3\n")
    board.reload_button.click()
    assert "lacks the columns" in "".join(o["text"] for o in board.errors.outputs)
