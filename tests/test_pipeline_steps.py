"""Cached pipeline steps and the family pipeline (workbench.pipeline.steps, pipeline.cli)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from workbench.cli import main
from workbench.errors import InputError, PipelineInputError
from workbench.pipeline import steps as steps_mod
from workbench.pipeline.steps import STEPS, Step, cache_key, run_pipeline, run_step
from workbench.provenance import validate

FAMILY = "F0004"
GENES = ["ASPA"]


def _copy_step(src, calls, *, factor=1, fail=False, skip_output=False):
    def run(folder, inputs, params):
        calls.append(params["factor"])
        if fail:
            (folder / "out.txt").write_text("half-written")
            raise RuntimeError("boom")
        if not skip_output:
            text = inputs["src"].read_text() * params["factor"]
            (folder / "out.txt").write_text(text)

    return Step("copy", run, {"src": src}, {"factor": factor}, ("out.txt",))


def test_second_run_is_cached_and_provenance_is_recorded(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("abc")
    calls = []
    first = run_step(_copy_step(src, calls), out_dir=tmp_path / "out")
    second = run_step(_copy_step(src, calls), out_dir=tmp_path / "out")
    assert (first.cached, second.cached) == (False, True)
    assert calls == [1]
    assert second.outputs["out.txt"].read_text() == "abc"
    rec = json.loads((tmp_path / "out" / "copy" / "provenance.json").read_text())
    validate(rec)
    assert rec["parameters"]["cache_key"] == first.cache_key == second.cache_key
    assert rec["parameters"]["step_parameters"] == {"factor": 1}
    assert set(rec["parameters"]["outputs"]) == {"out.txt"}


def test_changed_parameters_inputs_or_outputs_rerun(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("abc")
    out = tmp_path / "out"
    calls = []
    run_step(_copy_step(src, calls), out_dir=out)
    assert not run_step(_copy_step(src, calls, factor=2), out_dir=out).cached
    assert (out / "copy" / "out.txt").read_text() == "abcabc"
    src.write_text("xyz")
    assert not run_step(_copy_step(src, calls, factor=2), out_dir=out).cached
    (out / "copy" / "out.txt").write_text("tampered")
    assert not run_step(_copy_step(src, calls, factor=2), out_dir=out).cached
    assert run_step(_copy_step(src, calls, factor=2), out_dir=out).cached
    assert not run_step(_copy_step(src, calls, factor=2), out_dir=out, force=True).cached
    assert calls == [1, 2, 2, 2, 2]


def test_cache_key_covers_the_workbench_version(tmp_path, monkeypatch):
    src = tmp_path / "in.txt"
    src.write_text("abc")
    key = cache_key({"src": src}, {"a": 1})
    assert key == cache_key({"src": src}, {"a": 1})
    assert key != cache_key({"src": src}, {"a": 2})
    monkeypatch.setattr(steps_mod, "_version", lambda: "999.0")
    assert key != cache_key({"src": src}, {"a": 1})


def test_a_failing_step_leaves_the_previous_outputs(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("abc")
    out = tmp_path / "out"
    run_step(_copy_step(src, []), out_dir=out)
    with pytest.raises(RuntimeError, match="boom"):
        run_step(_copy_step(src, [], factor=3, fail=True), out_dir=out)
    assert (out / "copy" / "out.txt").read_text() == "abc"
    assert sorted(p.name for p in out.iterdir()) == ["copy"]  # no partial folder left
    with pytest.raises(PipelineInputError, match=r"did not write out\.txt"):
        run_step(_copy_step(src, [], factor=4, skip_output=True), out_dir=out)
    with pytest.raises(PipelineInputError, match="missing") as err:
        run_step(_copy_step(tmp_path / "absent.txt", []), out_dir=out)
    assert err.value.path == tmp_path / "absent.txt"


@pytest.fixture(scope="module")
def pipeline_dir(tiny_cohort, tmp_path_factory):
    out = tmp_path_factory.mktemp("pipeline") / FAMILY
    first = run_pipeline(
        tiny_cohort, family=FAMILY, out_dir=out, genes=GENES, depth=20, progress=False
    )
    return out, first


def test_full_pipeline_runs_every_step_then_reuses_every_step(tiny_cohort, pipeline_dir):
    out, first = pipeline_dir
    assert first.ran == list(STEPS)
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    again = run_pipeline(
        tiny_cohort, family=FAMILY, out_dir=out, genes=GENES, depth=20, progress=False
    )
    assert again.ran == [] and again.cached == list(STEPS)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == mtimes
    metrics = again.metrics()
    assert metrics["SNV"]["precision"] >= 0.95
    # A record-level filter (LowGQ when one carrier's GQ is low) can drop a site for the whole
    # family, so recall over the few SNVs of one gene is lower: every miss is a filtered call.
    assert metrics["SNV"]["recall"] >= 0.6
    misses = again.misses()
    assert (misses["filter"].fillna("") != "").all() or misses.empty
    assert again.annotated_vcf.is_file() and set(again.bams) == set(again.members)
    assert set(again.coverage()["sample"]) == set(again.members)
    assert again.members[-1] == "P00012"  # father, mother, then the proband


def test_changing_a_caller_option_reruns_call_and_what_follows_only(tiny_cohort, pipeline_dir):
    out, _ = pipeline_dir
    changed = run_pipeline(
        tiny_cohort, family=FAMILY, out_dir=out, genes=GENES, depth=20, min_qual=30,
        progress=False,
    )  # fmt: skip
    assert changed.ran == ["call", "compare", "annotate"]
    assert changed.cached == ["simulate_reads", "qc", "trim", "align"]
    partial = run_pipeline(
        tiny_cohort, family=FAMILY, out_dir=out, genes=GENES, depth=20, steps=["call"],
        progress=False,
    )  # fmt: skip
    assert list(partial.steps) == ["simulate_reads", "trim", "align", "call"]
    assert partial.ran == ["call"]
    with pytest.raises(InputError, match="compare"):
        partial.metrics()


def test_pipeline_rejects_unknown_family_and_step(tiny_cohort, tmp_path):
    with pytest.raises(InputError, match="F9999"):
        run_pipeline(tiny_cohort, family="F9999", out_dir=tmp_path, progress=False)
    with pytest.raises(InputError, match="unknown step"):
        run_pipeline(tiny_cohort, family=FAMILY, out_dir=tmp_path, steps=["nap"], progress=False)
    assert not any(tmp_path.iterdir())


def test_cli_runs_reuses_and_reports(tiny_cohort_path, pipeline_dir, tmp_path):
    out, first = pipeline_dir
    runner = CliRunner()
    args = ["pipeline", "run", "--cohort", str(tiny_cohort_path), "--family", FAMILY,
            "--genes", ",".join(GENES), "--depth", "20", "--quiet"]  # fmt: skip
    res = runner.invoke(main, [*args, "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "compare" in res.output and "cached" in res.output and "recall" in res.output
    # a fresh folder gives byte-identical calls (the pipeline is deterministic)
    res = runner.invoke(main, [*args, "--out", str(tmp_path / "fresh"), "--steps", "call"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "fresh" / "call" / "family.vcf.gz").read_bytes() == first.vcf.read_bytes()
    bad = runner.invoke(main, [*args, "--out", str(tmp_path / "x"), "--steps", "nap"])
    assert bad.exit_code == 2 and "unknown step" in bad.output


def test_a_treatment_session_runs_the_pipeline_the_folder_runs(cohort_copy, pipeline_dir):
    # Through a clinician's session (as through the data-access service) the reads are made by
    # the session and the truth is its audited true_genotypes, yet every output is the same: a
    # copy of the cohort is the same cohort (its version), so nothing is made again.
    import workbench

    out, first = pipeline_dir
    local = workbench.open_cohort(cohort_copy)
    clinician = "dr.nielsen"  # a data steward records that she now cares for the family
    with local.session(user="steward.larsen", purpose=workbench.Stewardship()) as steward:
        for person in local.samples().query("family_id == @FAMILY").person_id:
            steward.add_care_relationship(user_id=clinician, person_id=person, since="2024-01-01")
    session = local.session(user=clinician, purpose=workbench.Treatment(patient="P00012"))
    again = run_pipeline(session, family=FAMILY, out_dir=out, genes=GENES, depth=20, progress=False)
    assert again.cached == list(STEPS)
    fresh = run_pipeline(
        session, family=FAMILY, out_dir=out.parent / "through-a-session", genes=GENES, depth=20,
        progress=False,
    )  # fmt: skip
    assert fresh.ran == list(STEPS)
    for name in ("simulate_reads", "compare"):
        for file, path in fresh.steps[name].outputs.items():
            assert path.read_bytes() == first.steps[name].outputs[file].read_bytes(), file
