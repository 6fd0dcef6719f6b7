"""Notebooks run unchanged through the data-access service and give the in-process answers."""

from __future__ import annotations

import contextlib
import sqlite3

import pytest
from conftest import REPO

from workbench.access.audit import load_audit_key
from workbench.regress.baselines import baseline_filename, compare, load_baseline
from workbench.regress.runner import run_notebook

pytestmark = pytest.mark.slow


def _run_through(service, name: str, parameters: dict, tmp_path) -> dict:
    """Run a notebook against the service; fail on any value differing from its baseline."""
    path = REPO / "notebooks" / name
    result = run_notebook(
        path,
        parameters={"cohort": str(service.cohort), "service": service.url, **parameters},
        output_path=tmp_path / "executed.ipynb",
        cwd=path.parent,
    )
    records = {r.name: r.value for r in result.records}
    baseline = load_baseline(
        REPO / "tests" / "baselines" / baseline_filename(path.relative_to(REPO))
    )
    mismatches = compare(records, baseline)
    assert not mismatches, "\n".join(str(m) for m in mismatches)
    return records


def test_notebook_05_reads_its_genotype_view_through_the_service(service, tmp_path):
    # Variant and sample QC of a research view, its genotype chunks streamed by the service.
    token = service.tokens["anc.researcher"]
    records = _run_through(service, "05_variant_and_sample_qc.ipynb", {"token": token}, tmp_path)
    assert records["people_in_view"] > 0


def test_notebook_07_through_the_service_matches_its_in_process_baseline(service, tmp_path):
    records = _run_through(
        service, "07_consent_aware_access.ipynb", {"tokens": service.tokens}, tmp_path
    )
    # … and the service, not the kernel, wrote the audit trail: under its own key's version
    key = load_audit_key(service.state_path / "secrets" / "audit.key")
    with contextlib.closing(sqlite3.connect(service.cohort / "registry.sqlite")) as conn:
        versions = conn.execute("SELECT key_version, count(*) FROM audit_log GROUP BY 1").fetchall()
    assert dict(versions) == {key.version: records["audit.entries_written"] + 2}
