"""The genomic-medicine course (workbench.teach.course): the built student edition holds no
solution and no answer in clear, the instructor edition keeps everything, the static site
carries the exercise text, and `course check` marks each key's answers right and wrong."""

from __future__ import annotations

import json
import re
import shutil

import nbformat
import pytest
import yaml
from click.testing import CliRunner
from conftest import REPO
from course_support import assert_no_answer_in_clear

from workbench.cli import main
from workbench.teach import build_course, check_course, load_answer_key, load_course

COURSE = REPO / "courses" / "genomic-medicine"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_course(COURSE, out=tmp_path_factory.mktemp("course"))


def test_course_description_and_modules():
    course = load_course(COURSE)
    assert course.title.startswith("Genomic medicine for clinicians")
    assert course.modules[0].file == "01_genome_and_variants.ipynb"
    assert all(m.teaching > 0 and m.exercises > 0 for m in course.modules)


def test_student_edition_has_no_answer_key_and_no_solution(built):
    student = built.student
    assert not (student / "answers.yml").exists()
    assert (student / "answers.sealed.json").is_file()
    for path in student.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        tags = {t for c in nb.cells for t in c.metadata.get("tags", [])}
        assert not tags & {"solution", "instructor"}, path.name
        assert "check_solution" not in path.read_text(encoding="utf-8")
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("edition", ["student", "site"])
def test_no_answer_in_clear_in_any_file(built, edition):
    assert_no_answer_in_clear(COURSE, getattr(built, edition))


def test_sealed_answers_are_digests(built):
    bundle = json.loads((built.student / "answers.sealed.json").read_text(encoding="utf-8"))
    for ex_id, sealed in bundle["exercises"].items():
        if "answer" in sealed:
            assert re.fullmatch(r"[0-9a-f]{64}", sealed["answer"]), ex_id


def test_instructor_edition_keeps_solutions_notes_and_key(built):
    instructor = built.instructor
    assert (instructor / "answers.yml").is_file()
    tags = set()
    for path in instructor.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        tags |= {t for c in nb.cells for t in c.metadata.get("tags", [])}
    assert {"solution", "instructor", "parameters", "exercise"} <= tags


def test_site_has_every_module_and_its_exercise_text(built):
    course = load_course(COURSE)
    index = (built.site / "index.html").read_text(encoding="utf-8")
    assert course.title.split(":")[0] in index
    key = load_answer_key(COURSE / "answers.yml")
    pages = {m.file: (built.site / m.file.replace(".ipynb", ".html")) for m in course.modules}
    html = {f: p.read_text(encoding="utf-8") for f, p in pages.items()}
    for ex_id in key["exercises"]:
        assert any(f"Exercise {ex_id}." in h for h in html.values()), ex_id
    assert all("interactive in JupyterLab and Voila" in h for h in html.values())


def test_course_check_static_passes():
    report = check_course(COURSE, execute=False)
    assert report.ok, report.format()
    assert len(report.exercises) == len(load_answer_key(COURSE / "answers.yml")["exercises"])


def test_course_check_finds_a_broken_key(tmp_path):
    course = tmp_path / "c"
    shutil.copytree(COURSE, course, ignore=shutil.ignore_patterns("outputs", ".*"))
    key = yaml.safe_load((course / "answers.yml").read_text(encoding="utf-8"))
    key["exercises"]["m1.q1"]["wrong"] = key["exercises"]["m1.q1"]["answer"]
    key["exercises"]["m9.unused"] = dict(key["exercises"]["m1.q1"], wrong="a")
    (course / "answers.yml").write_text(yaml.safe_dump(key), encoding="utf-8")
    report = check_course(course, execute=False)
    text = report.format()
    assert "m1.q1: its wrong response 'b' is marked right" in text
    assert "m9.unused is in answers.yml but no notebook uses it" in text


@pytest.mark.slow
def test_course_check_executes_model_solutions(tiny_cohort_path):
    report = check_course(
        COURSE,
        cohort=tiny_cohort_path,
        modules=["01_genome_and_variants.ipynb", "07_acmg_classification.ipynb"],
    )
    assert report.ok, report.format()
    assert report.notebooks == ["01_genome_and_variants.ipynb", "07_acmg_classification.ipynb"]


def test_cli_build_and_check(tmp_path):
    runner = CliRunner()
    out = tmp_path / "out"
    result = runner.invoke(main, ["course", "build", str(COURSE), "--out", str(out), "--no-site"])
    assert result.exit_code == 0, result.output
    assert (out / "student" / "answers.sealed.json").is_file() and not (out / "site").exists()
    again = runner.invoke(main, ["course", "build", str(COURSE), "--out", str(out), "--no-site"])
    assert again.exit_code == 1 and "already exists" in again.output
    result = runner.invoke(main, ["course", "check", str(COURSE), "--no-execute"])
    assert result.exit_code == 0 and "0 failures" in result.output
    bad = runner.invoke(main, ["course", "check", str(tmp_path), "--no-execute"])
    assert bad.exit_code == 2 and "no course.yml" in bad.output
