"""Shared fixtures.

Fixture rules:

* ``tiny_cohort`` is generated once per test session (preset ``tiny``, seed 42) into a
  temporary folder and must be treated as read-only; a test that alters cohort files makes
  its own copy (``cohort_copy``).
* Tests never touch ``datasets/synthetic/`` in the working tree, and need no network.
* Warnings are errors (pyproject's ``filterwarnings``); ignore a third-party warning there, with
  its reason, rather than in a test.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tiny_cohort_path(tmp_path_factory) -> Path:
    from workbench.synth.generate import generate_cohort

    out = tmp_path_factory.mktemp("cohorts") / "tiny"
    return generate_cohort(preset="tiny", out=out, seed=42, progress=False)


@pytest.fixture(scope="session")
def tiny_cohort(tiny_cohort_path):
    from workbench import open_cohort

    return open_cohort(tiny_cohort_path)


@pytest.fixture
def cohort_copy(tiny_cohort_path, tmp_path) -> Path:
    dest = tmp_path / "cohort"
    shutil.copytree(tiny_cohort_path, dest)
    return dest
