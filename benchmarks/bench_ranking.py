"""How often the whole interpretation puts the planted diagnosis first, on a teaching cohort.

For every proband of the cohort's answer key (``truth/cases.tsv``) the benchmark runs
:func:`workbench.interpret.interpret_case` through a treatment session — filtering,
ACMG classification and phenotype-driven ranking, exactly as a clinician would — and
compares the ranking with the planted answer:

* solvable probands (status ``solved`` or ``dual``): the share with a planted causal gene
  ranked first, and the share with every planted causal gene within the top 5;
* probands whose case is ``unsolved`` or ``vus_only``: how many are nevertheless *reported as
  solved*, meaning the top candidate is classified Pathogenic or Likely pathogenic.

The answer key is read only to score the result, never by the interpretation. The cohort is
copied to a temporary folder first (sessions write audit entries), and there a data steward
records a care relationship for the families no synthetic clinician treats yet, so that every
proband can be opened in a treatment session.

    python benchmarks/bench_ranking.py                    # /tmp/teaching, or a fresh one
    python benchmarks/bench_ranking.py --cohort PATH      # another teaching-size cohort
    python benchmarks/bench_ranking.py --details          # one line per proband on stderr
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

CLINICIAN = "dr.jensen"


def emit(case, metric, value, unit):
    print(json.dumps(dict(benchmark="ranking", case=case, metric=metric, value=value, unit=unit)))


def _cohort_path(argv, tmp: Path) -> Path:
    if "--cohort" in argv:
        return Path(argv[argv.index("--cohort") + 1])
    default = Path("/tmp/teaching")
    if (default / "service").is_dir() and (default / "truth" / "cases.tsv").is_file():
        return default
    from workbench.synth.generate import generate_cohort

    print("generating a teaching cohort …", file=sys.stderr, flush=True)
    return generate_cohort(preset="teaching", out=tmp / "generated", seed=42, progress=False)


def _care_for_everyone(path: Path) -> int:
    """Record a care relationship for every family member nobody treats; return how many."""
    from workbench.access.admin import add_care_relationship
    from workbench.access.schema import connect, transaction

    added = 0
    with contextlib.closing(connect(path / "registry.sqlite")) as conn, transaction(conn):
        today = conn.execute("SELECT value FROM meta WHERE key = 'reference_date'").fetchone()[0]
        families = conn.execute("SELECT family_id, proband_id FROM families").fetchall()
        for family_id, proband in families:
            treated = conn.execute(
                "SELECT count(*) FROM care_relationships WHERE person_id = ? AND since <= ? "
                "AND (until IS NULL OR ? <= until)",
                (proband, today, today),
            ).fetchone()[0]
            if treated:
                continue
            members = conn.execute(
                "SELECT person_id FROM samples WHERE family_id = ?", (family_id,)
            ).fetchall()
            for (pid,) in members:
                with contextlib.suppress(Exception):
                    add_care_relationship(conn, user_id=CLINICIAN, person_id=pid, since=today)
                    added += 1
    return added


def _clinician(path: Path, proband: str) -> str:
    with contextlib.closing(sqlite3.connect(f"file:{path}/registry.sqlite?mode=ro", uri=True)) as c:
        today = c.execute("SELECT value FROM meta WHERE key = 'reference_date'").fetchone()[0]
        row = c.execute(
            "SELECT user_id FROM care_relationships WHERE person_id = ? AND since <= ? "
            "AND (until IS NULL OR ? <= until) ORDER BY user_id LIMIT 1",
            (proband, today, today),
        ).fetchone()
    return row[0] if row else CLINICIAN


def main(argv):
    import pandas as pd

    import workbench
    from workbench.interpret import interpret_case

    details = "--details" in argv
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        source = _cohort_path(argv, tmp)
        work = tmp / "cohort"
        shutil.copytree(source, work)
        added = _care_for_everyone(work)
        cohort = workbench.open_cohort(work, verify=False)
        cases = pd.read_csv(work / "truth" / "cases.tsv", sep="\t")
        first = top5 = solvable = 0
        false_solved = negatives = 0
        errors = []
        seconds = []
        for case in cases.itertuples(index=False):
            t0 = time.perf_counter()
            try:
                session = cohort.session(
                    user=_clinician(work, case.proband_id),
                    purpose=workbench.Treatment(patient=case.proband_id),
                )
                result = interpret_case(session, case.proband_id)
                session.close()
            except workbench.errors.WorkbenchError as e:
                errors.append(f"{case.family_id}: {e}")
                continue
            seconds.append(time.perf_counter() - t0)
            ranked = list(result.ranking.gene)
            planted = [g for g in (case.gene, case.gene2) if isinstance(g, str) and g]
            ranks = [ranked.index(g) + 1 if g in ranked else None for g in planted]
            if case.status in ("solved", "dual"):
                solvable += 1
                first += any(r == 1 for r in ranks)
                top5 += all(r is not None and r <= 5 for r in ranks)
            else:
                negatives += 1
                false_solved += result.solved
            if details:
                top = result.top
                print(
                    f"{case.family_id} {case.status:9} {case.mode!s:31} planted={planted} "
                    f"ranks={ranks} top={None if top is None else top.gene} "
                    f"class={None if top is None else top.classification} "
                    f"candidates={len(result.ranking)} {result.filtered.analysis}",
                    file=sys.stderr,
                )
        label = Path(source).name
        emit(label, "solvable probands", solvable, "probands")
        emit(label, "planted gene ranked first", round(first / max(solvable, 1), 3), "fraction")
        emit(label, "planted genes within top 5", round(top5 / max(solvable, 1), 3), "fraction")
        emit(label, "unsolved/vus_only probands", negatives, "probands")
        emit(label, "unsolved/vus_only reported as solved", false_solved, "probands")
        emit(label, "care relationships added for the benchmark", added, "rows")
        emit(
            label,
            "interpretation wall time per proband",
            round(sum(seconds) / max(len(seconds), 1), 2),
            "s",
        )
        emit(label, "probands that failed", len(errors), "probands")
        for e in errors:
            print(e, file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
