"""Every notebook under notebooks/ and courses/ runs on the tiny cohort and records the values
in its baseline (the regression harness, as `workbench regress` runs it)."""

from __future__ import annotations

import papermill
import pytest
from conftest import REPO

from workbench.regress import discover_notebooks, regress

NOTEBOOKS = discover_notebooks(REPO)


def test_there_are_notebooks_to_check():
    assert any(p.name == "01_synthetic_cohort.ipynb" for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_parameters_cell_declares_the_cohort(path):
    params = papermill.inspect_notebook(str(path))
    assert "cohort" in params, f"{path.name}: the parameters cell must declare `cohort`"
    assert params["cohort"]["help"], f"{path.name}: comment the `cohort` parameter"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_notebook_matches_its_baseline(path, tiny_cohort_path):
    report = regress([path], root=REPO, cohort=tiny_cohort_path, progress=False)
    assert report.ok, report.format()
