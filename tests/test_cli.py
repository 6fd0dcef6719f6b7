"""The command line: one-line errors, non-zero exits, nothing half-written."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from workbench.cli import main


def _run(*args, cwd=None):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--preset", "huge"], "unknown preset 'huge'; choose one of tiny, teaching, national"),
        (["--preset", "tiny", "--samples", "0"], "samples must exceed"),
        (["--preset", "tiny", "--samples", "-3"], "samples must exceed"),
        (["--preset", "tiny", "--samples", "5000000"], "samples must be at most"),
        (["--preset", "tiny", "--seed", "-1"], "seed must be between"),
    ],
)
def test_bad_generate_arguments_get_one_line(tmp_path, args, message):
    out = tmp_path / "c"
    code, output = _run("generate", *args, "--out", str(out), "--quiet")
    assert code == 2
    assert output.startswith("error: ") and message in output
    assert output.count("\n") == 1, output
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary leftovers"


def test_existing_output_needs_force(tiny_cohort_path):
    before = sorted(p.name for p in tiny_cohort_path.iterdir())
    code, output = _run("generate", "--preset", "tiny", "--out", str(tiny_cohort_path), "--quiet")
    assert code == 1
    assert "already exists; pass --force" in output
    assert sorted(p.name for p in tiny_cohort_path.iterdir()) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_output_is_refused(tmp_path):  # pragma: no cover - CI runs as root
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code, output = _run("generate", "--preset", "tiny", "--out", str(locked / "c"), "--quiet")
    assert code == 2 and "choose a writable --out folder" in output


def test_output_under_a_file_is_refused(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, output = _run("generate", "--preset", "tiny", "--out", str(blocker / "c"), "--quiet")
    assert code == 2
    assert "choose a writable --out folder" in output


def test_verify_names_an_altered_and_a_missing_file(cohort_copy):
    code, output = _run("verify", str(cohort_copy))
    assert code == 0 and output.startswith("ok: ")
    (cohort_copy / "pedigree.ped").write_text("edited\n")
    (cohort_copy / "reference" / "genes.gff3").unlink()
    code, output = _run("verify", str(cohort_copy))
    assert code == 1
    assert "missing reference/genes.gff3" in output and "altered pedigree.ped" in output
    assert output.count("\n") == 1


def test_verify_rejects_a_folder_that_is_not_a_cohort(tmp_path):
    code, output = _run("verify", str(tmp_path))
    assert code == 1 and "has no manifest.json" in output


def test_console_script_is_installed():
    exe = os.path.join(os.path.dirname(sys.executable), "workbench")
    done = subprocess.run([exe, "--help"], capture_output=True, text=True, check=True)
    for command in ("generate", "verify", "regress", "lab"):
        assert command in done.stdout


def test_lab_command_turns_network_calls_off(tmp_path):
    from workbench.serve import lab_command

    cmd = lab_command(root=tmp_path, port=9999)
    assert "--LabApp.news_url=None" in cmd
    assert "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate" in cmd
    assert "--LabApp.extension_manager=readonly" in cmd
    assert "--ServerApp.ip=127.0.0.1" in cmd
    assert f"--ServerApp.root_dir={tmp_path.resolve()}" in cmd
    # Jupyter refuses to start as root unless told; CI and fresh machines run as root
    assert ("--ServerApp.allow_root=True" in cmd) == (os.geteuid() == 0)
