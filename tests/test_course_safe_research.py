"""The safe-research course (workbench.teach.course): its course.yml and answer key are sound,
the student edition holds no solution and no answer in clear, and the modules that write to a
cohort do so on a private copy only."""

from __future__ import annotations

import json
import re

import nbformat
import pytest
from conftest import REPO
from course_support import assert_no_answer_in_clear

from workbench.teach import build_course, check_course, load_answer_key, load_course

COURSE = REPO / "courses" / "safe-research"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_course(COURSE, out=tmp_path_factory.mktemp("course"), site=False)


def test_course_description_and_modules():
    course = load_course(COURSE)
    assert course.id == "safe-research"
    assert course.title == "Safe, consent-aware genomic research"
    files = [m.file for m in course.modules]
    assert files[0] == "01_pseudonymisation.ipynb"
    assert files == sorted(files)
    assert all(m.teaching > 0 and m.exercises > 0 for m in course.modules)


def test_course_check_static_passes():
    report = check_course(COURSE, execute=False)
    assert report.ok, report.format()
    key = load_answer_key(COURSE / "answers.yml")
    assert len(report.exercises) == len(key["exercises"])


def test_every_module_has_two_exercise_types():
    key = load_answer_key(COURSE / "answers.yml")["exercises"]
    for n, module in enumerate(load_course(COURSE).modules, start=1):
        ours = {spec["type"] for ex_id, spec in key.items() if ex_id.startswith(f"m{n}.")}
        assert len(ours) >= 2, (module.file, ours)


def test_student_edition_has_no_answer_key_and_no_solution(built):
    student = built.student
    assert not (student / "answers.yml").exists()
    assert (student / "answers.sealed.json").is_file()
    notebooks = sorted(student.glob("*.ipynb"))
    assert len(notebooks) == len(load_course(COURSE).modules)
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        tags = {t for c in nb.cells for t in c.metadata.get("tags", [])}
        assert not tags & {"solution", "instructor"}, path.name
        assert "check_solution" not in path.read_text(encoding="utf-8")


def test_no_answer_in_clear_in_the_student_edition(built):
    assert_no_answer_in_clear(COURSE, built.student)


def test_sealed_answers_are_digests(built):
    bundle = json.loads((built.student / "answers.sealed.json").read_text(encoding="utf-8"))
    assert bundle["course"] == "safe-research"
    for ex_id, sealed in bundle["exercises"].items():
        if "answer" in sealed:
            assert re.fullmatch(r"[0-9a-f]{64}", sealed["answer"]), ex_id


def test_modules_that_open_sessions_work_on_a_private_copy():
    for module in load_course(COURSE).modules:
        nb = nbformat.read(COURSE / module.file, as_version=4)
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        if ".session(" not in code:
            continue
        setup = code.index("shutil.copytree(cohort")
        assert setup < code.index(".session("), module.file
        assert "open_cohort(private)" in code and "open_cohort(cohort)" not in code, module.file
        assert "shutil.rmtree(workdir)" in code, module.file
