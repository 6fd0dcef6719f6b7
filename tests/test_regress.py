"""Tests of the notebook regression harness (workbench.regress).

Comparison, baselines and discovery are tested on plain data; three tests execute throwaway
notebooks for real with papermill on the venv's ``python3`` kernel (five kernel runs, about
1–2 s each).
"""

from __future__ import annotations

import json
import sys

import nbformat
import numpy as np
import pandas as pd
import pytest

from workbench.errors import InputError
from workbench.regress import (
    RECORD_MIME,
    baseline_filename,
    check_notebook,
    collect_records,
    compare,
    discover_notebooks,
    load_baseline,
    make_baseline,
    normalise_value,
    record,
    regress,
    run_notebook,
    write_baseline,
)
from workbench.regress.runner import Failure, RegressReport

PARAMS = 'cohort = "datasets/synthetic/teaching"  # the cohort folder\nscale = 1.0'


def make_notebook(path, cells, *, params=PARAMS):
    """Write a stripped notebook: a markdown title, a parameters cell (unless ``params`` is
    None), then ``cells`` (code sources). Code cell ``i`` of ``cells`` is cell ``i + 2``."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells.append(nbformat.v4.new_markdown_cell("# A throwaway notebook"))
    if params is not None:
        cell = nbformat.v4.new_code_cell(params)
        cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    nb.cells += [nbformat.v4.new_code_cell(src) for src in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


@pytest.fixture
def repo(tmp_path):
    """A repository root with an (empty) cohort folder."""
    (tmp_path / "cohort").mkdir()
    return tmp_path


# ---------------------------------------------------------------------------------------------
# record()


def test_record_outside_ipython_returns_the_value_itself():
    arr = np.arange(3)
    assert record("qc.n", arr) is arr


@pytest.mark.parametrize("name", ["", "1x", "a-b", "a..b", "a.", "x y", 3, None])
def test_record_rejects_names_that_are_not_identifiers(name):
    with pytest.raises(InputError, match="identifier"):
        record(name, 1)


def test_normalise_value_converts_numpy_pandas_and_non_finite_floats():
    value = {
        "i": np.int64(3),
        "f": np.float32(0.5),
        "b": np.bool_(True),
        "a": np.array([[1, 2], [3, 4]]),
        "t": (1, "x"),
        "na": pd.NA,
        "ts": pd.Timestamp("2024-01-02"),
        "s": pd.Series([1.5, float("nan")]),
        "nan": float("nan"),
        "inf": -np.inf,
    }
    got = normalise_value(value)
    assert got == {
        "i": 3,
        "f": 0.5,
        "b": True,
        "a": [[1, 2], [3, 4]],
        "t": [1, "x"],
        "na": None,
        "ts": "2024-01-02T00:00:00",
        "s": [1.5, {"$float": "NaN"}],
        "nan": {"$float": "NaN"},
        "inf": {"$float": "-Infinity"},
    }
    assert type(got["i"]) is int and type(got["b"]) is bool
    json.dumps(got, allow_nan=False)  # strict JSON


@pytest.mark.parametrize(
    ("value", "match"),
    [({1, 2}, r"v is a builtins.set"), ({1: "a"}, "string keys"), ([object()], r"v\[0\]")],
)
def test_normalise_value_rejects_what_json_cannot_hold(value, match):
    with pytest.raises(InputError, match=match):
        normalise_value(value, where="v")


# ---------------------------------------------------------------------------------------------
# Baselines and comparison (plain dicts)


def test_baseline_filename_follows_the_notebook_path():
    assert baseline_filename("notebooks/01_synthetic_cohort.ipynb") == (
        "notebooks__01_synthetic_cohort.json"
    )
    assert baseline_filename("courses/intro/02_qc.ipynb") == "courses__intro__02_qc.json"
    with pytest.raises(InputError):
        baseline_filename("/abs/x.ipynb")


def base(records, **tolerance):
    return make_baseline("nb.ipynb", parameters={}, records=records, tolerance=tolerance or None)


def test_compare_equal_values_pass_and_floats_use_the_tolerance():
    b = base({"x": 1.0, "n": 3, "s": "a", "flag": True, "nothing": None})
    assert compare({"x": 1.0 + 1e-9, "n": 3, "s": "a", "flag": True, "nothing": None}, b) == []
    [m] = compare({"x": 1.001, "n": 3, "s": "a", "flag": True, "nothing": None}, b)
    assert (m.name, m.kind, m.expected, m.got) == ("x", "changed", 1.0, 1.001)
    assert "tolerance" in m.reason


def test_compare_is_exact_for_integers_strings_and_booleans():
    b = base({"n": 3, "s": "a", "flag": True})
    got = {m.name: m for m in compare({"n": 4, "s": "A", "flag": 1}, b)}
    assert set(got) == {"n", "s", "flag"}
    assert got["flag"].reason == "int instead of bool"


def test_compare_recurses_and_locates_the_first_difference():
    b = base({"table": [{"af": 0.1, "gene": "SCN1A"}, {"af": 0.2, "gene": "BRCA2"}]})
    [m] = compare({"table": [{"af": 0.1, "gene": "SCN1A"}, {"af": 0.3, "gene": "BRCA1"}]}, b)
    assert m.where == "[1]['af']" and (m.expected, m.got) == (0.2, 0.3)
    assert m.n_differences == 2
    [m] = compare({"table": [{"af": 0.1, "gene": "SCN1A"}]}, b)
    assert "length 1, expected 2" in m.reason


def test_compare_reports_missing_and_unexpected_names():
    mismatches = compare({"new": 1}, base({"old": 1}))
    assert [(m.name, m.kind) for m in mismatches] == [("new", "unexpected"), ("old", "missing")]


def test_compare_treats_nan_as_equal_to_nan_only():
    nan = {"$float": "NaN"}
    assert compare({"x": nan}, base({"x": nan})) == []
    [m] = compare({"x": 0.5}, base({"x": nan}))
    assert m.reason == "float instead of NaN"


def test_tolerance_overrides_apply_to_a_name_and_its_dotted_children():
    b = base({"qc.rate": 1.0, "other": 1.0}, rel=1e-6, abs=0, by_name={"qc": {"rel": 0.1}})
    mismatches = compare({"qc.rate": 1.05, "other": 1.05}, b)
    assert [m.name for m in mismatches] == ["other"]


def test_baselines_are_written_deterministically_and_checked_when_read(tmp_path):
    b = base({"b": [1, 2.5], "a": "x"})
    write_baseline(tmp_path / "one.json", b)
    write_baseline(tmp_path / "two.json", dict(reversed(list(b.items()))))
    one = (tmp_path / "one.json").read_bytes()
    assert one == (tmp_path / "two.json").read_bytes()
    assert load_baseline(tmp_path / "one.json") == b
    assert load_baseline(tmp_path / "absent.json") is None
    (tmp_path / "bad.json").write_text('{"records": [1]}')
    with pytest.raises(InputError, match="'records' object"):
        load_baseline(tmp_path / "bad.json")
    with pytest.raises(InputError, match="rel"):
        make_baseline("nb.ipynb", parameters={}, records={}, tolerance={"rel": -1})


# ---------------------------------------------------------------------------------------------
# Reading notebooks without running them


def test_collect_records_counts_cells_as_committed():
    nb = nbformat.v4.new_notebook()
    out = nbformat.v4.new_output(
        "display_data", data={RECORD_MIME: {"name": "x", "value": 2}, "text/plain": "x = 2"}
    )
    params, injected, marker = (nbformat.v4.new_code_cell(s) for s in ("a = 1", "a = 2", ""))
    params.metadata["tags"] = ["parameters"]
    injected.metadata["tags"] = ["injected-parameters"]
    marker.metadata["tags"] = ["papermill-error-cell-tag"]
    recorded = nbformat.v4.new_code_cell("record('x', 2)", outputs=[out])
    nb.cells = [marker, nbformat.v4.new_markdown_cell("t"), params, injected, recorded]
    [r] = collect_records(nb)
    assert (r.name, r.value, r.cell_index) == ("x", 2, 2)


def test_check_notebook_requires_a_parameters_cell_and_stripped_outputs(tmp_path):
    nb = nbformat.read(make_notebook(tmp_path / "a.ipynb", ["1 + 1"], params=None), 4)
    [f] = check_notebook(nb, label="a.ipynb")
    assert "tagged parameters" in f.message and f.cell_index is None
    nb = nbformat.read(make_notebook(tmp_path / "b.ipynb", ["1 + 1", "2"]), 4)
    nb.cells[2].execution_count = 1
    nb.cells[2].outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "2"})]
    [f] = check_notebook(nb, label="b.ipynb")
    assert f.cell_index == 2 and "stripped" in f.message


def test_discover_notebooks_skips_checkpoints_and_checks_paths(repo):
    a = make_notebook(repo / "notebooks" / "01_a.ipynb", [])
    b = make_notebook(repo / "courses" / "intro" / "episodes" / "b.ipynb", [])
    make_notebook(repo / "notebooks" / ".ipynb_checkpoints" / "01_a-checkpoint.ipynb", [])
    make_notebook(repo / "elsewhere" / "c.ipynb", [])
    assert discover_notebooks(repo) == [b, a]
    assert discover_notebooks(repo, [repo / "courses"]) == [b]
    (repo / "notes.txt").write_text("")
    for bad, match in [
        (repo / "absent.ipynb", "does not exist"),
        (repo / "notes.txt", "not a notebook"),
        (repo.parent, "outside the repository root"),
    ]:
        with pytest.raises(InputError, match=match):
            discover_notebooks(repo, [bad])


def test_regress_reports_rule_breaking_notebooks_without_running_them(repo):
    make_notebook(repo / "notebooks" / "no_params.ipynb", ["1"], params=None)
    path = make_notebook(repo / "notebooks" / "with_outputs.ipynb", ["1"])
    nb = nbformat.read(path, 4)
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    nbformat.write(nb, path)
    report = regress(root=repo, cohort=repo / "cohort", progress=False)
    assert not report.ok
    assert [(f.notebook, f.cell_index) for f in report.failures] == [
        ("notebooks/no_params.ipynb", None),
        ("notebooks/with_outputs.ipynb", 2),
    ]
    assert "add a cell tagged parameters" in report.failures[0].message
    assert report.format().splitlines()[-1] == "2 notebooks: 0 passed, 2 failed (2 failures)"


def test_regress_checks_its_arguments(repo):
    with pytest.raises(InputError, match="cohort folder"):
        regress(root=repo, cohort=repo / "absent")
    with pytest.raises(InputError, match="cohort=…"):
        regress(root=repo, cohort=repo / "cohort", parameters={"cohort": "x"})


def test_report_format_names_notebook_cell_and_value():
    report = RegressReport(
        notebooks=["notebooks/a.ipynb", "notebooks/b.ipynb"],
        failures=[Failure("notebooks/a.ipynb", "changed", "'x' expected 1, got 2", 4, "x", 1, 2)],
    )
    assert report.format().splitlines() == [
        "FAIL notebooks/a.ipynb cell 4: 'x' expected 1, got 2",
        "2 notebooks: 1 passed, 1 failed (1 failures)",
    ]


# ---------------------------------------------------------------------------------------------
# Executing notebooks (each test starts one kernel per run)


def test_run_notebook_collects_records_with_their_cells(tmp_path):
    path = make_notebook(
        tmp_path / "nb.ipynb",
        [
            "import sys\nimport numpy as np\nfrom workbench.regress import record",
            "record('python', sys.executable)\nrecord('cohort', cohort)",
            "x = record('stats.mean', np.float64(1.5) * scale)\nprint(type(x).__name__)",
        ],
    )
    result = run_notebook(path, parameters={"cohort": "/data/tiny"}, cwd=tmp_path)
    assert [(r.name, r.value, r.cell_index) for r in result.records] == [
        ("python", sys.executable, 3),  # the python3 kernel is this venv's interpreter
        ("cohort", "/data/tiny", 3),
        ("stats.mean", 1.5, 4),
    ]
    # record() returns the value unchanged, and shows a one-line text echo
    assert result.notebook.cells[5].outputs[-1]["text"] == "float64\n"
    shown = result.notebook.cells[5].outputs[0]["data"]["text/plain"]
    assert shown == "recorded stats.mean = 1.5"
    assert "outputs" not in nbformat.read(path, 4).cells[0]  # the input is left untouched


def test_regress_update_then_compare_then_report_changes(repo):
    make_notebook(
        repo / "notebooks" / "sub" / "01_demo.ipynb",
        [
            "import os\nfrom workbench.regress import record",
            "record('x', 1.5 * scale)\nrecord('label', 'demo')\n"
            "record('folder', os.path.basename(os.getcwd()))",
            "record('cohort_seen', os.path.isdir(cohort))",
        ],
    )
    report = regress(root=repo, cohort=repo / "cohort", update=True, progress=False)
    assert report.ok, report.format()
    assert report.updated == ["tests/baselines/notebooks__sub__01_demo.json"]
    baseline_path = repo / "tests" / "baselines" / "notebooks__sub__01_demo.json"
    baseline = json.loads(baseline_path.read_text())
    assert baseline == {
        "notebook": "notebooks/sub/01_demo.ipynb",
        "parameters": {"cohort": "<cohort>"},
        "records": {"x": 1.5, "label": "demo", "folder": "sub", "cohort_seen": True},
        "tolerance": {"rel": 1e-6, "abs": 1e-9},
    }

    baseline["records"]["x"] = 1.5 * (1 + 1e-8)  # within the relative tolerance
    write_baseline(baseline_path, baseline)
    report = regress(root=repo, cohort=repo / "cohort", progress=False)
    assert report.ok, report.format()
    assert report.format() == "1 notebook: 1 passed"

    baseline["records"].update(x=1.6, label="old", gone=7)
    write_baseline(baseline_path, baseline)
    report = regress(
        [repo / "notebooks" / "sub"], root=repo, cohort=repo / "cohort", progress=False
    )
    assert not report.ok
    failures = {f.name: f for f in report.failures}
    assert set(failures) == {"x", "label", "gone"}
    x, label = failures["x"], failures["label"]
    assert (x.notebook, x.cell_index, x.expected, x.got) == (
        "notebooks/sub/01_demo.ipynb",
        3,
        1.6,
        1.5,
    )
    assert "outside tolerance" in x.message
    assert str(label) == (
        'FAIL notebooks/sub/01_demo.ipynb cell 3: \'label\' expected "old", got "demo": '
        "values differ"
    )
    assert (failures["gone"].kind, failures["gone"].cell_index) == ("missing", None)


def test_an_exception_in_a_cell_is_reported_with_its_cell(repo):
    path = make_notebook(
        repo / "courses" / "intro" / "broken.ipynb",
        [
            "from workbench.regress import record\nrecord('ok', 1)",
            "x = 1\n1 / 0",
            "record('late', 2)",
        ],
    )
    report = regress(root=repo, cohort=repo / "cohort", progress=False)
    [f] = report.failures
    assert (f.notebook, f.kind, f.cell_index) == ("courses/intro/broken.ipynb", "error", 3)
    assert f.message == "ZeroDivisionError: division by zero"
    assert not (repo / "tests" / "baselines").exists()  # nothing was compared or written
    assert all(not c.get("outputs") for c in nbformat.read(path, 4).cells)  # input untouched
