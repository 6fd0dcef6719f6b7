"""Courses: ``course.yml`` + module notebooks + ``answers.yml``; build the editions and check.

A course folder ``courses/<course>/`` holds:

* ``course.yml`` — ``title``, ``audience``, ``description``, and ``modules``: a list of
  ``{file, title, teaching, exercises}`` (minutes of teaching and of exercises);
* one notebook per module, in the Carpentries episode shape: a first Markdown cell with the
  questions, objectives and a timing line (``Teaching: 20 min · Exercises: 15 min``), content,
  exercises (code cells ``exercise("m1.q1")``), a "Key points" section; cells tagged
  ``solution`` (model solutions, often ``check_solution(...)`` calls) and ``instructor``
  (instructor notes) are for trainers;
* ``answers.yml`` — the answer key (see :mod:`workbench.teach.sealing`).

:func:`build_course` writes three editions: ``student/`` (no solution or instructor cells, the
sealed bundle, no answer key), ``instructor/`` (everything, the bundle and the key) and
``site/`` (a static HTML site of the student edition, built offline by Sphinx and myst-nb, with
each exercise's text written out). :func:`check_course` confirms the answer key marks each
exercise's correct response right and its wrong response wrong, and that every module notebook
(with its model solutions) executes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError, OutputExistsError, WorkbenchError
from .exercises import Exercise, check
from .sealing import ANSWERS_NAME, BUNDLE_NAME, load_answer_key, seal_answers, write_bundle

__all__ = [
    "COURSE_FILE",
    "BuildResult",
    "Course",
    "CourseCheck",
    "Module",
    "build_course",
    "check_course",
    "exercise_ids",
    "load_course",
    "student_notebook",
]

COURSE_FILE = "course.yml"
SOLUTION_TAG = "solution"
INSTRUCTOR_TAG = "instructor"
EXERCISE_TAG = "exercise"
_EXERCISE_CALL = re.compile(r"""\b(?:exercise|check_solution)\(\s*["']([^"']+)["']""")
_SKIP = {"outputs", "__pycache__", ".ipynb_checkpoints", ".progress", "_build"}
_SITE_NOTE = (
    "*The exercises are interactive in JupyterLab and Voila (`make run`, then open this "
    "module); this static page shows their text only.*"
)


@dataclass(frozen=True)
class Module:
    """One module (episode): its notebook, title and minutes of teaching and exercises."""

    file: str
    title: str
    teaching: int
    exercises: int


@dataclass(frozen=True)
class Course:
    """A course folder as ``course.yml`` describes it."""

    path: Path
    id: str
    title: str
    audience: str
    description: str
    modules: tuple[Module, ...]

    @property
    def minutes(self) -> int:
        """Teaching and exercise minutes of every module together."""
        return sum(m.teaching + m.exercises for m in self.modules)


def _minutes(value, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"{where} must be a whole number of minutes ≥ 0, got {value!r}")
    return value


def load_course(path: str | os.PathLike) -> Course:
    """Read and check ``course.yml`` of the course folder ``path``."""
    import yaml

    path = Path(path)
    file = path / COURSE_FILE
    if not file.is_file():
        raise InputError(
            f"{path} is not a course folder: it has no {COURSE_FILE}; pass a folder such as "
            f"courses/genomic-medicine"
        )
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise InputError(f"{file} is not valid YAML ({e})") from e
    if not isinstance(data, dict):
        raise InputError(f"{file} must hold a mapping (title, audience, modules …)")
    missing = [k for k in ("title", "audience", "modules") if not data.get(k)]
    if missing:
        raise InputError(f"{file} lacks {', '.join(missing)}; add them")
    modules = []
    for i, m in enumerate(data["modules"]):
        where = f"{file}: module {i + 1}"
        if not isinstance(m, dict) or not {"file", "title"} <= set(m):
            raise InputError(f"{where} needs file, title, teaching and exercises")
        modules.append(
            Module(
                str(m["file"]),
                str(m["title"]),
                _minutes(m.get("teaching"), f"{where} teaching"),
                _minutes(m.get("exercises"), f"{where} exercises"),
            )
        )
    return Course(
        path=path,
        id=str(data.get("id") or path.name),
        title=str(data["title"]),
        audience=str(data["audience"]).strip(),
        description=str(data.get("description", "")).strip(),
        modules=tuple(modules),
    )


def _tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def exercise_ids(nb) -> list[str]:
    """Exercise ids a notebook shows or checks, in order of first use."""
    seen: list[str] = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for ex_id in _EXERCISE_CALL.findall(cell.source):
            if ex_id not in seen:
                seen.append(ex_id)
    return seen


def _strip(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def student_notebook(nb):
    """A copy of a notebook without solution and instructor cells, outputs cleared."""
    import copy

    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells if not _tags(c) & {SOLUTION_TAG, INSTRUCTOR_TAG}]
    return _strip(nb)


@dataclass(frozen=True)
class BuildResult:
    """Folders :func:`build_course` wrote (``site`` is ``None`` when not asked for)."""

    student: Path
    instructor: Path
    site: Path | None


def _copy_tree(src: Path, dst: Path, *, exclude_names: set[str]) -> None:
    import nbformat

    for item in sorted(src.iterdir()):
        if item.name in _SKIP or item.name.startswith(".") or item.name in exclude_names:
            continue
        target = dst / item.name
        if item.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            _copy_tree(item, target, exclude_names=exclude_names)
        elif item.suffix == ".ipynb":
            nb = nbformat.read(item, as_version=4)
            nbformat.write(_strip(nb), target)
        else:
            shutil.copy2(item, target)


def build_course(
    course: str | os.PathLike,
    *,
    out: str | os.PathLike,
    force: bool = False,
    site: bool = True,
) -> BuildResult:
    """Write the student and instructor editions and the static site of a course.

    Parameters
    ----------
    course
        The course folder (with ``course.yml`` and ``answers.yml``).
    out
        Output folder; ``student/``, ``instructor/`` and ``site/`` are written inside it.
    force
        Replace existing editions in ``out``.
    site
        Also build the static HTML site (Sphinx, offline).

    Returns
    -------
    BuildResult

    Raises
    ------
    OutputExistsError
        When an edition exists in ``out`` and ``force`` is false.
    """
    import nbformat

    info = load_course(course)
    src = info.path
    key = load_answer_key(src / ANSWERS_NAME)
    bundle = seal_answers(key)
    out = Path(out)
    student, instructor = out / "student", out / "instructor"
    site_dir = out / "site" if site else None
    for folder in (student, instructor, site_dir):
        if folder is not None and folder.exists():
            if not force:
                raise OutputExistsError(folder)
            shutil.rmtree(folder)
    for m in info.modules:
        if not (src / m.file).is_file():
            raise InputError(f"course.yml lists {m.file}, which is not in {src}; add it")

    instructor.mkdir(parents=True)
    _copy_tree(src, instructor, exclude_names=set())
    write_bundle(instructor / BUNDLE_NAME, bundle)

    student.mkdir(parents=True)
    _copy_tree(src, student, exclude_names={ANSWERS_NAME})
    for nb_path in sorted(student.rglob("*.ipynb")):
        nbformat.write(student_notebook(nbformat.read(nb_path, as_version=4)), nb_path)
    write_bundle(student / BUNDLE_NAME, bundle)

    if site_dir is not None:
        _build_site(info, student, site_dir, bundle)
    return BuildResult(student, instructor, site_dir)


def _site_notebook(nb, bundle):
    """The student notebook with each exercise's text written out before its cell."""
    import nbformat

    cells = []
    for cell in nb.cells:
        if cell.cell_type == "code" and EXERCISE_TAG in _tags(cell):
            for ex_id in _EXERCISE_CALL.findall(cell.source):
                text = Exercise.from_bundle(bundle, ex_id).describe()
                cells.append(nbformat.v4.new_markdown_cell(f"{text}\n{_SITE_NOTE}"))
        cells.append(cell)
    nb.cells = cells
    for i, cell in enumerate(nb.cells):  # ids must stay unique after inserting cells
        cell["id"] = f"c{i:03d}"
    return nb


def _index(info: Course) -> str:
    rows = "\n".join(
        f"| [{m.title}]({Path(m.file).stem}) | {m.teaching} | {m.exercises} |" for m in info.modules
    )
    toc = "\n".join(Path(m.file).stem for m in info.modules)
    return (
        f"# {info.title}\n\n**Audience:** {info.audience}\n\n{info.description}\n\n"
        f"| Module | Teaching (min) | Exercises (min) |\n|---|---|---|\n{rows}\n\n"
        f"Total: {info.minutes} minutes.\n\n{_SITE_NOTE}\n\n"
        f"```{{toctree}}\n:maxdepth: 1\n:hidden:\n\n{toc}\n```\n"
    )


_CONF = """\
project = {title!r}
extensions = ["myst_nb"]
nb_execution_mode = "off"
html_theme = "alabaster"
html_static_path = []
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header"]
"""


def _build_site(info: Course, student: Path, site_dir: Path, bundle) -> None:
    import nbformat

    with tempfile.TemporaryDirectory(prefix="course-site-") as tmp:
        staging = Path(tmp)
        (staging / "conf.py").write_text(_CONF.format(title=info.title), encoding="utf-8")
        (staging / "index.md").write_text(_index(info), encoding="utf-8")
        for m in info.modules:
            nb = nbformat.read(student / m.file, as_version=4)
            nbformat.write(_site_notebook(nb, bundle), staging / Path(m.file).name)
        html = staging / "_build" / "html"  # myst-nb writes jupyter_execute/ beside it
        cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-E", str(staging), str(html)]
        env = dict(os.environ, PYTHONWARNINGS="ignore")
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            raise WorkbenchError(
                f"Sphinx could not build the site of {info.id} (exit {done.returncode}): "
                f"{done.stderr.strip()[-2000:]}"
            )
        shutil.rmtree(html / ".doctrees", ignore_errors=True)
        shutil.copytree(html, site_dir)


# -- checking ------------------------------------------------------------------------------


@dataclass
class CourseCheck:
    """What :func:`check_course` found: ``failures`` (empty when the course is sound),
    the ``exercises`` checked and the ``notebooks`` executed."""

    course: str
    failures: list[str] = field(default_factory=list)
    exercises: list[str] = field(default_factory=list)
    notebooks: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def format(self) -> str:
        lines = [f"FAIL {f}" for f in self.failures]
        lines.append(
            f"{self.course}: {len(self.exercises)} exercises checked, "
            f"{len(self.notebooks)} notebooks executed, {len(self.failures)} failures"
        )
        return "\n".join(lines)


_TIMING = re.compile(r"Teaching:\s*(\d+)\s*min.*?Exercises:\s*(\d+)\s*min", re.S | re.I)


def _check_shape(nb, module: Module) -> list[str]:
    problems = []
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    first = markdown[0] if markdown else ""
    for heading in ("Questions", "Objectives"):
        if heading.lower() not in first.lower():
            problems.append(f"{module.file}: the first Markdown cell has no {heading!r}")
    timing = _TIMING.search(first)
    if timing is None:
        problems.append(
            f"{module.file}: the first Markdown cell has no 'Teaching: N min · "
            "Exercises: M min' line"
        )
    elif (int(timing[1]), int(timing[2])) != (module.teaching, module.exercises):
        problems.append(
            f"{module.file}: timings {timing[1]}/{timing[2]} min differ from course.yml "
            f"({module.teaching}/{module.exercises}); make them agree"
        )
    if not any("key points" in m.lower() for m in markdown):
        problems.append(f"{module.file}: no 'Key points' section")
    if not any(_tags(c) & {"parameters"} for c in nb.cells):
        problems.append(f"{module.file}: no cell tagged 'parameters'")
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and _EXERCISE_CALL.search(cell.source):
            is_ex = "exercise(" in cell.source
            if is_ex and EXERCISE_TAG not in _tags(cell):
                problems.append(
                    f"{module.file}: cell {i} shows an exercise but is not tagged '{EXERCISE_TAG}'"
                )
            if "check_solution(" in cell.source and SOLUTION_TAG not in _tags(cell):
                problems.append(
                    f"{module.file}: cell {i} checks a solution but is not tagged "
                    f"'{SOLUTION_TAG}' (it would reach students)"
                )
    return problems


def _check_key(bundle, spec: dict, ex_id: str) -> list[str]:
    ex = Exercise.from_bundle(bundle, ex_id)
    if spec["type"] == "text":
        if not ex.model_answer():
            return [f"{ex_id}: the model answer is empty"]
        if not spec.get("keywords"):
            return []
    problems = []
    for field_name, expected in (("answer", True), ("wrong", False)):
        if field_name not in spec:
            problems.append(f"{ex_id}: no {field_name!r} response in the answer key")
            continue
        try:
            got = check(ex, spec[field_name]).correct
        except WorkbenchError as e:
            problems.append(f"{ex_id}: checking its {field_name} response failed: {e}")
            continue
        if got is not expected:
            problems.append(
                f"{ex_id}: its {field_name} response {spec[field_name]!r} is marked "
                f"{'right' if got else 'wrong'}; expected {'right' if expected else 'wrong'}"
            )
    return problems


def check_course(
    course: str | os.PathLike,
    *,
    cohort: str | os.PathLike | None = None,
    execute: bool = True,
    modules: Sequence[str] | None = None,
    timeout: float = 600,
) -> CourseCheck:
    """Check a course: structure, answer key, and (with ``execute``) every module notebook.

    * every module in ``course.yml`` exists and has the episode shape (questions,
      objectives, timings agreeing with ``course.yml``, key points, a parameters cell);
    * every exercise a notebook uses is in the answer key, and every key entry is used;
    * for each exercise, the sealed bundle (the student's path) marks the key's ``answer``
      right and its ``wrong`` response wrong (free text: when it has keywords);
    * each module notebook of the instructor edition — model solutions included, which call
      :func:`~workbench.teach.check_solution` — executes with papermill on ``cohort``.

    Parameters
    ----------
    course
        The course folder.
    cohort
        Cohort folder injected as the notebooks' ``cohort`` parameter (needed to execute).
    execute
        Run the notebooks (else only the static checks).
    modules
        Notebook file names to execute (default: all).
    timeout
        Seconds one cell may run.

    Returns
    -------
    CourseCheck
    """
    import nbformat

    info = load_course(course)
    report = CourseCheck(info.id)
    key = load_answer_key(info.path / ANSWERS_NAME)
    bundle = seal_answers(key)
    if key["course"] != info.id:
        report.failures.append(f"answers.yml is for course {key['course']!r}, not {info.id!r}")
    used: list[str] = []
    for m in info.modules:
        path = info.path / m.file
        if not path.is_file():
            report.failures.append(f"course.yml lists {m.file}, which does not exist")
            continue
        nb = nbformat.read(path, as_version=4)
        report.failures += _check_shape(nb, m)
        for ex_id in exercise_ids(nb):
            used.append(ex_id)
            if ex_id not in key["exercises"]:
                report.failures.append(f"{m.file} uses exercise {ex_id}, not in answers.yml")
    listed = {m.file for m in info.modules}
    for extra in sorted(p.name for p in info.path.glob("*.ipynb")):
        if extra not in listed:
            report.failures.append(f"{extra} is not listed in course.yml")
    for ex_id, spec in key["exercises"].items():
        if ex_id not in used:
            report.failures.append(f"{ex_id} is in answers.yml but no notebook uses it")
        report.failures += _check_key(bundle, spec, ex_id)
        report.exercises.append(ex_id)
    if execute:
        if cohort is None:
            raise InputError("pass cohort=… (a tiny cohort is enough) to execute the notebooks")
        _execute(info, report, cohort=Path(cohort).resolve(), modules=modules, timeout=timeout)
    return report


def _execute(info: Course, report: CourseCheck, *, cohort: Path, modules, timeout) -> None:
    import papermill

    from ..errors import RegressionFailure
    from ..regress import run_notebook

    wanted = None if modules is None else {Path(m).name for m in modules}
    with tempfile.TemporaryDirectory(prefix="course-check-") as tmp:
        built = build_course(info.path, out=Path(tmp), site=False)
        for m in info.modules:
            if wanted is not None and Path(m.file).name not in wanted:
                continue
            path = built.instructor / m.file
            if not path.is_file():
                continue
            declared = set(papermill.inspect_notebook(str(path)))
            params = {"cohort": str(cohort)} if "cohort" in declared else {}
            try:
                run_notebook(
                    path, parameters=params, cwd=path.parent, timeout=timeout, label=m.file
                )
            except RegressionFailure as e:
                report.failures.extend(str(f) for f in e.failures)
            report.notebooks.append(m.file)
