"""Teaching: exercises with instant feedback, sealed answers, learners' progress, courses.

* :class:`Exercise` (``Exercise.load("m1.q1")`` from the sealed bundle beside the notebook),
  :func:`check` → :class:`Feedback`, :func:`check_solution` for model-solution cells;
* :func:`seal_answers`, :func:`load_answer_key`: the answer key ``answers.yml`` and its
  sealed bundle (hashes, not answers; see :mod:`workbench.teach.sealing` for what is secret
  and what is only obfuscated);
* :class:`ProgressStore` (a learner's attempts in SQLite, CSV export) and
  :func:`class_progress` (a class's progress per exercise, for the trainer);
* :func:`load_course`, :func:`build_course` (student and instructor editions, static site)
  and :func:`check_course` (every exercise marks right right and wrong wrong; every module
  notebook runs).

The widgets are in :mod:`workbench.widgets.exercises`.
"""

from .course import (
    BuildResult,
    Course,
    CourseCheck,
    Module,
    build_course,
    check_course,
    load_course,
)
from .exercises import Exercise, Feedback, SolutionMismatch, check, check_solution, load_bundle
from .progress import ProgressStore, class_progress, default_progress_path
from .sealing import load_answer_key, seal_answers

__all__ = [
    "BuildResult",
    "Course",
    "CourseCheck",
    "Exercise",
    "Feedback",
    "Module",
    "ProgressStore",
    "SolutionMismatch",
    "build_course",
    "check",
    "check_course",
    "check_solution",
    "class_progress",
    "default_progress_path",
    "load_answer_key",
    "load_bundle",
    "load_course",
    "seal_answers",
]
