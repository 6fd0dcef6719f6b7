"""What consent-aware access costs: decision + audit per call, the consent filter, gated reads.

Three measurements, printed as JSON lines like the other benchmarks:

* **per call** on a generated cohort (teaching preset; ``--quick``: tiny): the median wall
  time of ``session.samples()`` (decision, consent filter, registry read, pseudonyms, one
  audit entry committed with ``synchronous=FULL``), of a no-op call through the session's
  audited path (decision + audit only) and of ``session.decision()`` (decision only, no
  audit), next to the cost of a bare durable one-row commit on the same disk (the floor
  under any audited call). Target: decision + audit under 2 ms.
* **consent filter over 60,000 people**: :func:`workbench.access.policy.consent_filter` on
  the registry of a national cohort (``/tmp/national`` when it holds one, else a synthetic
  registry of 60,000 people written here with :func:`workbench.synth.registry.write_registry`),
  plus :func:`~workbench.access.policy.evaluate` for a teaching purpose over everyone.
  Target: under 50 ms.
* **gated vs ungated genotype reads**: ``session.genotypes(gene=G)`` against
  ``cohort.genotypes(contig=…, region=…)`` over the same span, interleaved in one run, as a
  ratio.

    python benchmarks/bench_access.py            # teaching cohort (~5 min to generate)
    python benchmarks/bench_access.py --quick    # tiny cohort
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

NATIONAL = Path("/tmp/national")
N_CALLS = 200
N_FILTER = 20
N_READS = 30


def emit(case, metric, value, unit):
    print(
        json.dumps(dict(benchmark="access", case=case, metric=metric, value=value, unit=unit)),
        flush=True,
    )


def median_ms(fn, n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return round(statistics.median(times) * 1000, 3)


def bench_calls(cohort, case: str) -> None:
    from workbench import Teaching

    with cohort.session(user="teacher.berg", purpose=Teaching()) as session:
        session.samples()  # warm caches
        emit(case, "samples() per call, median", median_ms(session.samples, N_CALLS), "ms")

        def noop():
            # The audited path every call takes, with nothing to compute: decision + audit.
            session._call("benchmark", {}, lambda access, people: (None, 0), needs="any")

        emit(case, "decision + audit per call, median", median_ms(noop, N_CALLS), "ms")
        emit(case, "decision only (no audit), median", median_ms(session.decision, N_CALLS), "ms")
    emit(case, "durable commit floor (same disk), median", commit_floor(cohort.path), "ms")


def commit_floor(folder: Path) -> float:
    """One-row transactions in WAL mode with ``synchronous=FULL``: what the disk alone costs.

    Every audited call commits like this (the audit entry must survive a power loss), so this
    is the part of "decision + audit" no code change can remove without weakening durability.
    """
    path = Path(folder) / "commit-floor.sqlite"
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("CREATE TABLE t (x INTEGER)")

        def commit():
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t VALUES (1)")
            conn.execute("COMMIT")

        floor = median_ms(commit, N_CALLS)
    path.unlink()
    return floor


def _largest_gene(cohort):
    best, most = None, -1
    for g in cohort.reference.genes:
        if g.contig not in cohort.contigs:
            continue
        n = len(cohort.variants(contig=g.contig, region=(g.start, g.end)))
        if n > most:
            best, most = g, n
    return best, most


def bench_gated(cohort, case: str) -> None:
    from workbench import Teaching

    gene, n_variants = _largest_gene(cohort)
    region = (gene.start, gene.end)
    with cohort.session(user="teacher.berg", purpose=Teaching()) as session:
        session.genotypes(gene=gene.symbol)  # warm caches
        gated, ungated = [], []
        for _ in range(N_READS):
            t0 = time.perf_counter()
            session.genotypes(gene=gene.symbol)
            t1 = time.perf_counter()
            np.asarray(cohort.genotypes(contig=gene.contig, region=region, dask=False))
            t2 = time.perf_counter()
            gated.append(t1 - t0)
            ungated.append(t2 - t1)
    g, u = statistics.median(gated), statistics.median(ungated)
    label = f"{case} {gene.symbol} ({n_variants} variants)"
    emit(label, "session.genotypes(gene) median", round(g * 1000, 2), "ms")
    emit(label, "cohort.genotypes(contig, region) median", round(u * 1000, 2), "ms")
    emit(label, "gated/ungated time ratio", round(g / u, 2), "x")


def _synthetic_registry(folder: Path, n: int = 60_000) -> Path:
    """A registry of ``n`` unrelated synthetic people (no families, no phenotypes)."""
    from workbench.synth.model import HOSPITALS, REGIONS
    from workbench.synth.registry import write_registry

    rng = np.random.default_rng(1)
    regions = rng.choice(len(REGIONS), size=n)
    people = pd.DataFrame(
        {
            "person_id": [f"P{i:06d}" for i in range(1, n + 1)],
            "family_id": None,
            "father_id": None,
            "mother_id": None,
            "sex": rng.choice(["female", "male"], size=n),
            "population": rng.choice(["NOR", "MEN", "SAS"], size=n, p=[0.86, 0.08, 0.06]),
            "role": "unrelated",
            "affected": False,
            "birth_year": rng.integers(1930, 2024, size=n),
            "region": [REGIONS[i] for i in regions],
            "hospital": [HOSPITALS[REGIONS[i]][0] for i in regions],
        }
    )
    families = pd.DataFrame(columns=["family_id", "proband_id", "indication"])
    phenotypes = pd.DataFrame(columns=["person_id", "hpo_id", "label", "excluded"])
    path = folder / "registry.sqlite"
    write_registry(path, people=people, phenotypes=phenotypes, families=families, rng=rng)
    return path


def bench_filter(tmp: Path) -> None:
    from workbench import Research, Teaching
    from workbench.access.policy import consent_filter, evaluate, today_of
    from workbench.access.schema import connect

    registry = NATIONAL / "registry.sqlite"
    case = "national registry (/tmp/national)"
    if not registry.is_file():
        registry = _synthetic_registry(tmp)
        case = "synthetic registry"
    with contextlib.closing(connect(registry, readonly=True)) as conn:
        people = [r[0] for r in conn.execute("SELECT person_id FROM samples")]
        case = f"{case}, {len(people):,} people"
        purpose = Research(project="EPI-7")
        _, excluded, _ = consent_filter(conn, people, purpose)
        emit(case, "people excluded by consent", excluded, "people")
        emit(
            case,
            "consent_filter median",
            median_ms(lambda: consent_filter(conn, people, purpose), N_FILTER),
            "ms",
        )
        day = today_of(conn)
        emit(
            case,
            "evaluate(teaching: everyone) median",
            median_ms(lambda: evaluate(conn, "teacher.berg", Teaching(), today=day), N_FILTER),
            "ms",
        )


def main(argv) -> None:
    from workbench import open_cohort
    from workbench.synth.generate import generate_cohort

    preset = "tiny" if "--quick" in argv else "teaching"
    with tempfile.TemporaryDirectory() as tmp:
        path = generate_cohort(preset=preset, out=Path(tmp) / "cohort", seed=1, progress=False)
        cohort = open_cohort(path)
        bench_calls(cohort, preset)
        bench_gated(cohort, preset)
        bench_filter(Path(tmp))


if __name__ == "__main__":
    main(sys.argv[1:])
