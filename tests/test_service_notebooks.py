"""Notebooks and course modules run through the data-access service and give the in-process answers.

Each runs against a service over a copy of the tiny cohort, with the tokens of the users it
acts as, and must reproduce the baseline its in-process run recorded. The notebooks that stay in
process: 01 shows the cohort folder itself, 02–04 the pipeline's tools on files and the planted
answers (instructor material the service never serves), and the safe-research modules take
private copies to show the mechanisms. The
clinicians' course runs whole: modules 2–4 sequence a family through the clinician's treatment
session (the service simulates the reads), module 1 reads the cohort in a teaching session.
The dashboards reach the service as their Voila app would, as the token's user.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest
from conftest import REPO

import workbench
from workbench.access.audit import load_audit_key
from workbench.access.explain import worklist
from workbench.regress.baselines import baseline_filename, compare, load_baseline
from workbench.regress.runner import run_notebook

pytestmark = pytest.mark.slow


def _run_through(service, name: str, parameters: dict, tmp_path, *, yours=()) -> dict:
    """Run a notebook against the service; fail on any value differing from its baseline.

    ``yours`` names records that differ by design: through the service a user sees their own
    part only (a clinician's own worklist); the caller checks those.
    """
    path = REPO / name if "/" in name else REPO / "notebooks" / name
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
    mismatches = [m for m in compare(records, baseline) if m.name not in yours]
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


#: (notebook, the users it acts as): the first is the token's user, given as ``token``, when it
#: acts as one; all go in ``tokens`` when it acts as several.
THROUGH_THE_SERVICE = [
    ("courses/genomic-medicine/01_genome_and_variants.ipynb", ("teacher.berg",)),
    ("courses/genomic-medicine/02_sequencing_and_read_qc.ipynb", ("dr.hansen",)),
    ("courses/genomic-medicine/03_alignment_and_variant_calling.ipynb", ("dr.hansen",)),
    ("courses/genomic-medicine/04_vcf_and_annotation.ipynb", ("dr.hansen",)),
    ("06_population_structure.ipynb", ("anc.researcher", "lab.researcher")),
    ("08_trio_analysis.ipynb", ("dr.hansen",)),
    ("09_acmg_classification.ipynb", ("dr.hansen",)),
    ("10_secondary_findings_and_consent.ipynb", ("dr.jensen", "lab.researcher")),
    ("courses/genomic-medicine/05_inheritance_and_trio_analysis.ipynb", ("dr.hansen",)),
    ("courses/genomic-medicine/06_phenotypes_and_hpo.ipynb", ("dr.hansen",)),
    (
        "courses/genomic-medicine/08_secondary_findings_and_consent.ipynb",
        ("dr.hansen", "lab.researcher"),
    ),
    ("notebooks/dashboards/case_review.ipynb", ("dr.jensen",)),
    ("notebooks/dashboards/cohort_explorer.ipynb", ("teacher.berg",)),
    ("notebooks/dashboards/consent_console.ipynb", ("steward.larsen",)),
    # dr.jensen's first family is the cohort's first: the in-process baseline's
    ("notebooks/dashboards/pipeline_qc.ipynb", ("dr.jensen",)),
]
#: Records that are the signed-in user's own through the service: name → its expected value.
YOURS = {
    "case_review": {"case.families_in_care": lambda local: len(worklist(local, user="dr.jensen"))},
    # the people a teaching session may see: those whose consent admits teaching
    "01_genome_and_variants": {"people_in_view": lambda local: len(_teachable(local))},
}
#: Records computed over the people in view (checked through ``people_in_view``).
OVER_THE_VIEW = {"01_genome_and_variants": ("chr1.median_af", "chr1.rare_variants")}


@pytest.mark.parametrize(
    ("name", "users"), THROUGH_THE_SERVICE, ids=[Path(n).stem for n, _ in THROUGH_THE_SERVICE]
)
def test_notebooks_and_courses_run_unchanged_through_the_service(
    service, tmp_path, monkeypatch, name, users
):
    # The public parts (reference genome, knowledge bases) are fetched into this cache
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    if len(users) == 1:
        parameters = {"token": service.tokens[users[0]]}
    else:
        parameters = {"tokens": {u: service.tokens[u] for u in users}}
        if "clinician" in _parameters_of(name):
            parameters["clinician"] = users[0]
    yours = YOURS.get(Path(name).stem, {})
    over_the_view = OVER_THE_VIEW.get(Path(name).stem, ())
    records = _run_through(service, name, parameters, tmp_path, yours=(*yours, *over_the_view))
    local = workbench.open_cohort(service.cohort, verify=False)
    assert {k: records[k] for k in yours} == {k: f(local) for k, f in yours.items()}
    # … and each of its users was served: the service, not the kernel, audited their reads
    assert set(users) <= set(_audited_by_the_service(service))


def _teachable(local) -> list[str]:
    """Who a teaching session sees (consent admits teaching), with genotypes."""
    from workbench.access.policy import Teaching, consent_filter

    with contextlib.closing(sqlite3.connect(local.path / "registry.sqlite")) as conn:
        people, _, _ = consent_filter(conn, local.sample_ids, Teaching(sandbox=True))
    return list(people)


def _audited_by_the_service(service) -> dict[str, int]:
    """User → entries the service wrote to the audit log (under its own key's version)."""
    key = load_audit_key(service.state_path / "secrets" / "audit.key")
    with contextlib.closing(sqlite3.connect(service.cohort / "registry.sqlite")) as conn:
        rows = conn.execute(
            "SELECT user_id, count(*) FROM audit_log WHERE key_version = ? GROUP BY 1",
            (key.version,),
        ).fetchall()
    return dict(rows)


def _parameters_of(name: str) -> str:
    import nbformat

    nb = nbformat.read(REPO / (name if "/" in name else f"notebooks/{name}"), as_version=4)
    return next(c.source for c in nb.cells if "parameters" in c.metadata.get("tags", []))
