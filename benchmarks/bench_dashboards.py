"""Time to first render of each dashboard (cold and pre-heated) and a filter change's latency.

Render time is the wall time of ``GET /voila/render/<dashboard>.ipynb`` against a Voila
started with the project's configuration (``workbench.serve.voila_config``): Voila answers
once the notebook has run, so this is what a visitor waits for before the page can draw.

* cold: no kernel pool — a kernel starts and runs the notebook per visit (target < 5 s),
  measured twice: the first visit ever (it computes what later visits read from the results
  caches) and a second visit, again in a new kernel;
* pre-heated: every dashboard in a pool of one kernel that has already run it (< 1.5 s);
* filter change: the cohort explorer's population filter, in-process (table, count and PCA
  redraw; < 100 ms at teaching scale).

    python benchmarks/bench_dashboards.py [--cohort DIR]   # default datasets/synthetic/teaching
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from workbench.serve import (
    DASHBOARD_DIR,
    DASHBOARDS,
    free_port,
    serve_environment,
    voila_command,
    voila_config,
    write_voila_config,
)

REPO = Path(__file__).resolve().parents[1]


def emit(case, metric, value, unit):
    print(
        json.dumps(dict(benchmark="dashboards", case=case, metric=metric, value=value, unit=unit))
    )


def _get(url: str, timeout: float = 600) -> float:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=timeout) as r:
        r.read()
    return time.perf_counter() - t0


def _serve(cohort: Path, tmp: Path, *, preheat):
    config = tmp / ("heated" if preheat else "cold")
    write_voila_config(config, voila_config(preheat=preheat))
    port = free_port()
    log = (config / "voila.log").open("wb")
    proc = subprocess.Popen(
        voila_command(REPO / DASHBOARD_DIR, port=port, config_dir=config),
        env=serve_environment(cohort=cohort),
        cwd=config,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            _get(f"{base}/", timeout=2)
            break
        except OSError:
            time.sleep(0.2)
    return proc, base, config / "voila.log"


def _stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def renders(cohort: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "cohort"
        shutil.copytree(cohort, work)  # sessions write audit entries: never the real one
        proc, base, _ = _serve(work, Path(tmp), preheat=[])
        try:
            # The very first visit computes and fills the results caches (the explorer's
            # table, the pipeline's steps); a later visitor gets a new kernel (cold) that
            # finds them.
            for label in ("first visit ever", "cold kernel, warm caches"):
                for name in DASHBOARDS:
                    emit(
                        name,
                        f"first render, cold ({label})",
                        round(_get(f"{base}/voila/render/{name}.ipynb"), 2),
                        "s",
                    )
        finally:
            _stop(proc)
        proc, base, log = _serve(work, Path(tmp), preheat=list(DASHBOARDS))
        try:
            # wait until every pool is filled, then for the pre-runs to finish (a render
            # request on a kernel still running its notebook would measure the pre-run)
            deadline = time.monotonic() + 900
            while time.monotonic() < deadline:
                text = log.read_text(errors="replace")
                if all(f"Kernel pool of {n}.ipynb is filled" in text for n in DASHBOARDS):
                    break
                time.sleep(0.5)
            time.sleep(90)
            for name in DASHBOARDS:
                emit(
                    name,
                    "first render, pre-heated",
                    round(_get(f"{base}/voila/render/{name}.ipynb"), 2),
                    "s",
                )
        finally:
            _stop(proc)


def filter_latency(cohort: Path) -> None:
    import workbench
    from workbench.widgets.dashboards import ANY, CohortExplorer, explorer_table

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "cohort"
        shutil.copytree(cohort, work)
        c = workbench.open_cohort(work, verify=False)
        session = c.session(user="teacher.berg", purpose=workbench.Teaching())
        t0 = time.perf_counter()
        data = explorer_table(session)
        emit(
            "cohort_explorer",
            "explorer_table (in-process)",
            round(time.perf_counter() - t0, 2),
            "s",
        )
        explorer = CohortExplorer(data)
        populations = sorted(data.table.population.unique())
        times = []
        for i in range(12):
            value = populations[i % len(populations)] if i % 2 == 0 else ANY
            t0 = time.perf_counter()
            explorer.population.value = value
            times.append(time.perf_counter() - t0)
        emit(
            "cohort_explorer",
            f"filter change ({len(data.table)} people), median",
            round(1000 * statistics.median(times), 1),
            "ms",
        )


def main(argv):
    cohort = (
        Path(argv[argv.index("--cohort") + 1])
        if "--cohort" in argv
        else (REPO / "datasets" / "synthetic" / "teaching")
    )
    if not (cohort / "manifest.json").is_file():
        print(f"no cohort at {cohort}; run `workbench generate --preset teaching`", file=sys.stderr)
        return 1
    filter_latency(cohort)
    renders(cohort)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
