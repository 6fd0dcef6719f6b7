"""``workbench audit …`` and ``workbench consent …``: one-line errors, honest exit codes."""

from __future__ import annotations

import contextlib
import re
import sqlite3

from click.testing import CliRunner

from workbench import Treatment, open_cohort
from workbench.cli import main


def _run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.output


def _audit_rows(path):
    with contextlib.closing(sqlite3.connect(path / "registry.sqlite")) as conn:
        return conn.execute("SELECT seq, user_id, action FROM audit_log ORDER BY seq").fetchall()


def _cells(header: str, row: str) -> dict[str, str]:
    """Split an aligned table row by the header's column starts (cells may hold spaces)."""
    starts = [m.start() for m in re.finditer(r"\S+", header)]
    names = header.split()
    bounds = [*starts[1:], None]
    return {n: row[a:b].strip() for n, a, b in zip(names, starts, bounds, strict=True)}


def test_audit_verify_passes_on_a_fresh_cohort(cohort_copy):
    n = len(_audit_rows(cohort_copy))
    code, out = _run("audit", "verify", cohort_copy)
    assert code == 0, out
    # The count is of the entries checked, which includes this command's session opening.
    assert re.fullmatch(r"ok: (\d+) entries, (\d+) checkpoints\n", out)
    assert int(re.match(r"ok: (\d+)", out)[1]) == n + 1
    assert _audit_rows(cohort_copy)[-1][1:] == ("steward.larsen", "audit_verify")


def test_audit_verify_names_the_first_tampered_entry(cohort_copy):
    for _ in range(2):
        assert _run("audit", "verify", cohort_copy)[0] == 0
    # Someone with the file drops the append-only guards and edits one entry.
    with contextlib.closing(sqlite3.connect(cohort_copy / "registry.sqlite")) as conn:
        conn.execute("DROP TRIGGER audit_log_no_update")
        conn.execute("UPDATE audit_log SET user_id = 'dr.nobody' WHERE seq = 2")
        conn.commit()
    code, out = _run("audit", "verify", cohort_copy)
    assert code == 1
    assert out.count("\n") == 1 and out.startswith("error: ")
    assert "entry 2 was altered" in out and "first bad entry: 2" in out
    assert "Traceback" not in out


def test_audit_verify_refuses_a_non_steward(cohort_copy):
    code, out = _run("audit", "verify", cohort_copy, "--user", "dr.jensen")
    assert code == 1
    assert out == "error: access deny: role clinician is not a steward\n"


def test_audit_show_filters_by_user(cohort_copy):
    with contextlib.closing(
        open_cohort(cohort_copy, verify=False).session(
            user="dr.jensen", purpose=Treatment(patient="P00001")
        )
    ) as s:
        s.samples()
    code, out = _run("audit", "show", cohort_copy, "--user", "dr.jensen")
    assert code == 0, out
    header, *rows = out.splitlines()
    assert header.split()[:5] == ["seq", "at", "user", "purpose", "action"]
    expected = [r for r in _audit_rows(cohort_copy) if r[1] == "dr.jensen"]
    assert len(rows) == len(expected) == 2
    for line, (seq, user, action) in zip(rows, expected, strict=True):
        cells = _cells(header, line)
        assert (int(cells["seq"]), cells["user"], cells["purpose"], cells["action"]) == (
            seq, user, "treatment(P00001)", action
        )  # fmt: skip
    # Filters combine; a filter nobody matches says so instead of printing an empty table.
    code, out = _run("audit", "show", cohort_copy, "--user", "dr.jensen", "--purpose", "research")
    assert (code, out) == (0, "no audit entries match\n")
    code, out = _run("audit", "show", cohort_copy, "--patient", "P00001", "--since", "2026-13-01")
    assert code == 2 and out.startswith("error: --since must be") and out.count("\n") == 1


def test_consent_withdraw_then_show(cohort_copy):
    code, out = _run(
        "consent", "withdraw", cohort_copy, "P00001", "--by", "steward.larsen",
        "--date", "2026-01-01", "--note", "withdrew by letter",
    )  # fmt: skip
    assert code == 0, out
    assert out == (
        "recorded consent version 2 of P00001: withdrawn "
        "(signed 2026-01-01, recorded by steward.larsen)\n"
    )
    code, out = _run("consent", "show", cohort_copy, "P00001")
    assert code == 0, out
    header, *rows = out.splitlines()
    cells = [_cells(header, r) for r in rows]
    assert [c["version"] for c in cells] == ["1", "2"]
    assert [c["withdrawn"] for c in cells] == ["no", "yes"]
    assert [c["recontact"] for c in cells] == ["yes", "no"]
    assert cells[1]["note"] == "withdrew by letter"
    assert cells[1]["secondary_findings"] == cells[0]["secondary_findings"]
    # Withdrawing again changes nothing and says so.
    code, out = _run(
        "consent", "withdraw", cohort_copy, "P00001", "--by", "steward.larsen",
        "--date", "2026-01-01", "--note", "again",
    )  # fmt: skip
    assert code == 2 and out.startswith("error: nothing changed")


def test_consent_opt_out_on_and_off(cohort_copy):
    common = ["--by", "steward.larsen", "--date", "2026-01-01", "--note", "tissue-use register"]
    code, out = _run("consent", "opt-out", cohort_copy, "P00002", "--on", *common)
    assert (code, out) == (
        0,
        "recorded consent version 2 of P00002: research opt-out on (signed 2026-01-01)\n",
    )
    code, out = _run("consent", "opt-out", cohort_copy, "P00002", "--off", *common)
    assert code == 0 and "version 3" in out and "opt-out off" in out


def test_bad_person_id_is_one_line_and_exit_2(cohort_copy):
    n = len(_audit_rows(cohort_copy))
    for args in (
        ["consent", "show", cohort_copy, "P99999"],
        ["consent", "withdraw", cohort_copy, "P99999", "--by", "steward.larsen",
         "--date", "2026-01-01", "--note", "x"],
    ):  # fmt: skip
        code, out = _run(*args)
        assert code == 2
        assert out.startswith("error: unknown person 'P99999'") and out.count("\n") == 1
    code, out = _run(
        "consent", "withdraw", cohort_copy, "P00001", "--by", "steward.larsen",
        "--date", "2026-02-30", "--note", "x",
    )  # fmt: skip
    assert code == 2 and out.startswith("error: --date must be an ISO date")
    # Refused requests are still audited (open + refused call, three times).
    assert len(_audit_rows(cohort_copy)) == n + 6
