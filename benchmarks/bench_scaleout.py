"""Scale-out of the cohort statistics: 1 and 2 dask workers, on this machine and as SLURM jobs.

The statistics a national QC starts with — ``fused_stats`` (every per-variant and per-sample
count, per population) over a researcher's consent-aware genotype view — run on

* ``threads``: the default local thread pool (the peer every other case is compared with);
* ``local-1``, ``local-2``: a ``distributed.LocalCluster`` of 1 or 2 one-thread workers;
* ``slurm-1``, ``slurm-2``: 1 or 2 one-core worker jobs of a one-node SLURM cluster on
  127.0.0.1 (``workbench._slurm_local``; needs root and Debian's slurm packages, as
  ``make test`` installs them), submitted through ``workbench.compute.use(slurm_cluster(...))``.

For each: wall time (best of two, after a warm-up that compiles the kernels on every worker),
its ratio to ``threads``, the time to get the workers (cluster start + job submission), the
scheduler's overhead (wall time minus the busiest worker's task time), the peak memory of each
worker (``ru_maxrss``) and the cost per chunk (task seconds per million diploid calls), from
which the extrapolation to 650 M sites × 60,000 genomes is printed.

    python benchmarks/bench_scaleout.py                       # /tmp/national, else teaching
    python benchmarks/bench_scaleout.py --cohort PATH
    python benchmarks/bench_scaleout.py --quick               # a tiny cohort, made here

The cohort is copied to a temporary folder first: sessions write their audit log.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import workbench
from workbench import compute
from workbench._slurm_local import OneNodeSlurm, unavailable
from workbench.analysis.kernels import fused_stats

#: The extrapolation target: sites × genomes of a national whole-genome cohort.
TARGET_SITES, TARGET_GENOMES = 650_000_000, 60_000


def emit(case, metric, value, unit):
    print(
        json.dumps(dict(benchmark="scaleout", case=case, metric=metric, value=value, unit=unit)),
        flush=True,
    )


def _cohort(argv: list[str], tmp: Path) -> Path:
    if "--cohort" in argv:
        source = Path(argv[argv.index("--cohort") + 1])
    elif "--quick" in argv:
        from workbench.synth.generate import generate_cohort

        return generate_cohort(preset="tiny", out=tmp / "c", seed=42, progress=False)
    else:
        source = next(
            (p for p in (Path("/tmp/national"), Path("datasets/synthetic/teaching")) if p.is_dir()),
            None,
        )
        if source is None:
            from workbench.synth.generate import generate_cohort

            return generate_cohort(preset="teaching", out=tmp / "c", seed=42, progress=False)
    shutil.copytree(source, tmp / "c")
    return tmp / "c"


def _statistics(view):
    """The genotypes read and their fused statistics (variant and sample counts)."""
    gt = view.genotypes()
    fused_stats(gt, populations=view.samples().population)
    return gt


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _measure(case: str, view, handle=None, *, setup_seconds: float = 0.0) -> dict:
    """Run the statistics twice under the selected scheduler; emit and return the figures."""
    import distributed

    _statistics(view)  # warm-up: numba compiles (or loads its cache) on every worker
    walls, busy, calls = [], [], 0
    for _ in range(2):
        t = time.perf_counter()
        if handle is not None and handle.client is not None:
            with distributed.get_task_stream(handle.client) as stream:
                gt = _statistics(view)
            per_worker: dict[str, float] = {}
            for task in stream.data:
                for part in task["startstops"]:
                    if part["action"] == "compute":
                        per_worker[task["worker"]] = (
                            per_worker.get(task["worker"], 0.0) + part["stop"] - part["start"]
                        )
            busy.append(max(per_worker.values(), default=0.0))
            task_seconds = sum(per_worker.values())
        else:
            gt = _statistics(view)
            task_seconds = None
        walls.append(time.perf_counter() - t)
        calls = gt.shape[0] * gt.shape[1]
    wall = min(walls)
    emit(case, "wall", round(wall, 3), "s")
    emit(case, "Mcalls_per_s", round(calls / wall / 1e6, 1), "M diploid calls/s")
    out = {"wall": wall, "calls": calls}
    if setup_seconds:
        emit(case, "workers_ready", round(setup_seconds, 2), "s")
    if handle is not None and handle.client is not None:
        overhead = wall - busy[int(np.argmin(walls))]
        emit(case, "scheduler_overhead", round(overhead, 3), "s")
        rss = handle.client.run(_peak_rss_mb)
        emit(case, "peak_rss_per_worker", round(max(rss.values()), 0), "MB")
        out.update(overhead=overhead, rss=max(rss.values()), task_seconds=task_seconds)
        emit(case, "task_s_per_Mcalls", round(task_seconds / (calls / 1e6), 4), "s")
    return out


def _store_bytes_per_call(cohort: Path, calls: int) -> float:
    store = cohort / "genotypes.vcz" / "call_genotype"
    size = sum(p.stat().st_size for p in store.rglob("*") if p.is_file())
    return size / calls


def _extrapolate(results: dict, cohort: Path, n_samples_in_store: int, n_variants: int) -> None:
    """Core-hours, memory and storage for TARGET_SITES × TARGET_GENOMES from per-chunk costs."""
    base = results.get("slurm-1") or results.get("local-1")
    if not base or "task_seconds" not in base:
        return
    target_calls = TARGET_SITES * TARGET_GENOMES
    seconds_per_call = base["task_seconds"] / base["calls"]
    core_hours = seconds_per_call * target_calls / 3600
    emit("extrapolated", "core_hours", round(core_hours, 1), "core-h")
    emit("extrapolated", "wall_on_100_workers", round(core_hours / 100, 2), "h")
    # One worker holds about one chunk per thread plus the running totals; the totals per
    # sample grow with the genomes, per variant with the chunk, so memory per worker stays
    # near what was measured for a chunk of the same shape.
    emit("extrapolated", "memory_per_worker", round(base["rss"], 0), "MB")
    per_call = _store_bytes_per_call(cohort, n_samples_in_store * n_variants)
    emit("extrapolated", "store_bytes_per_call", round(per_call, 4), "bytes")
    emit("extrapolated", "call_genotype_storage", round(per_call * target_calls / 1e12, 1), "TB")


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        path = _cohort(argv, tmp)
        cohort = workbench.open_cohort(path, verify=False)
        session = cohort.session(user="anc.researcher", purpose=workbench.Research(project="ANC-3"))
        view = session.genotype_view()
        n_variants = len(cohort.variants())
        emit("cohort", "people_in_view", len(view.sample_ids), "people")
        emit("cohort", "variants", n_variants, "sites")
        results = {}
        with compute.use("threads"):
            results["threads"] = _measure("threads", view)
        for n in (1, 2):
            t = time.perf_counter()
            with compute.use("local", n_workers=n, threads_per_worker=1, memory_limit="4GiB") as h:
                results[f"local-{n}"] = _measure(
                    f"local-{n}", view, h, setup_seconds=time.perf_counter() - t
                )
        reason = unavailable()
        if reason:
            print(f"slurm cases skipped: {reason}", file=sys.stderr)
        else:
            with OneNodeSlurm(memory_mb=16_000, folder=tmp / "slurm") as slurm:
                for n in (1, 2):
                    t = time.perf_counter()
                    cluster = slurm.worker_cluster(
                        log_directory=tmp / "logs",
                        local_directory=tmp / "scratch",
                        memory="6GB",
                        walltime="01:00:00",
                    )
                    with compute.use(cluster, jobs=n, timeout=120) as h:
                        results[f"slurm-{n}"] = _measure(
                            f"slurm-{n}", view, h, setup_seconds=time.perf_counter() - t
                        )
        peer = results["threads"]["wall"]
        for case, r in results.items():
            if case != "threads":
                emit(case, "ratio_to_threads", round(r["wall"] / peer, 2), "x")
        _extrapolate(results, path, len(cohort.sample_ids), n_variants)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main(sys.argv[1:]))
