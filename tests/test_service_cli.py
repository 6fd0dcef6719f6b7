"""``workbench service …``: set-up and token administration from the command line."""

from __future__ import annotations

from click.testing import CliRunner

from workbench.cli import main
from workbench.service import open_state


def _run(*args):
    return CliRunner().invoke(main, ["service", *map(str, args)])


def test_a_steward_sets_up_issues_lists_and_revokes_tokens(cohort_copy, tmp_path):
    state = tmp_path / "state"
    done = _run("init", cohort_copy, "--state", state, "--disclosure-profile", "all-of-us")
    assert done.exit_code == 0, done.output
    assert "checkpoint public key" in done.output
    issued = _run("token", "issue", "lab.researcher", "--state", state, "--days", "7")
    assert issued.exit_code == 0
    token = issued.stdout.strip().splitlines()[-1]
    assert token.startswith("cgw_") and open_state(state).authenticate(token).user == (
        "lab.researcher"
    )
    listed = _run("token", "list", "--state", state)
    assert "lab.researcher" in listed.output and token not in listed.output
    token_id = listed.output.split()[0]
    assert _run("token", "revoke", token_id, "--state", state).exit_code == 0
    assert open_state(state).authenticate(token) is None
    assert _run("entitle", "student.ali", "teaching.sandbox", "--state", state).exit_code == 0
    assert open_state(state).authenticated_entitlements("student.ali") == {"teaching.sandbox"}


def test_bad_input_gets_one_line_and_a_non_zero_exit(cohort_copy, tmp_path):
    state = tmp_path / "state"
    assert _run("init", cohort_copy, "--state", state).exit_code == 0
    for args, status, words in (
        (("token", "issue", "nobody.here", "--state", state), 2, "not a principal"),
        (("token", "issue", "lab.researcher", "--state", state, "--days", "0"), 2, "--days"),
        (("token", "revoke", "deadbeef", "--state", state), 2, "no token"),
        (("entitle", "student.ali", "root", "--state", state), 2, "unknown entitlement"),
        (("init", cohort_copy, "--state", state), 1, "exists"),
        (("init", tmp_path, "--state", tmp_path / "s2"), 2, "not a cohort folder"),
        (("run", "--state", tmp_path / "nothing"), 1, "not a service state folder"),
    ):
        done = _run(*args)
        assert done.exit_code == status, (args, done.output)
        assert done.output.startswith("error: ") and words in done.output, done.output
        assert done.output.count("\n") == 1 and "Traceback" not in done.output
