"""What the trust boundary costs: the data-access service against the in-process session.

All measured in one run, on one cohort, as ratios against the in-process peer:

* **per call**: median wall time of ``session.samples()`` (decided, consent-filtered,
  audited with a durable commit) and of ``session.decision()`` (decided only), through the
  service on 127.0.0.1 and in process. Target: an audited call through the service under
  5 ms.
* **genotype reads**: a genotype view's calls over a whole contig, streamed as ``.npy`` chunks
  from the service, against the same read in process, as throughput (MB/s) and a ratio.
  Target: at least 50 % of in-process throughput.
* **a class**: 25 learners at once, each on a connection and session of their own, asking
  for ``allele_counts`` of a gene (decided, masked, checked against every release, audited)
  and for ``decision()``, against one learner alone: median latency per call and the ratio.
* **sequencing**: a clinician's trio sequenced over two genes at 30×, the reads made by the
  service and sent as gzipped FASTQ (``simulate_reads(session, …)``), against the same reads
  made in process from the folder: wall time and the ratio.
* **notebooks**: notebook 05 (variant and sample QC of a research view: genotype chunks
  streamed) and 07 (one question, three roles), through the service and in process, each on
  a fresh copy of the cohort. Target: within 1.5× of in-process.

    python benchmarks/bench_service.py            # teaching cohort (~5 min to generate)
    python benchmarks/bench_service.py --quick    # tiny cohort
    python benchmarks/bench_service.py --class    # only the class under load
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_access import median_ms  # the same timing as the in-process access benchmark

REPO = Path(__file__).resolve().parents[1]
USERS = ("teacher.berg", "lab.researcher", "anc.researcher", "student.ali", "steward.larsen",
         "dr.jensen")  # fmt: skip
N_CALLS = 200
N_READS = 7


def emit(case, metric, value, unit):
    print(
        json.dumps(dict(benchmark="service", case=case, metric=metric, value=value, unit=unit)),
        flush=True,
    )


@contextlib.contextmanager
def running_service(cohort: Path, root: Path):
    from workbench.service import init_state

    state = init_state(root / "state", cohort)
    tokens = {u: state.issue_token(u)[1] for u in USERS}
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = Path(sys.executable).with_name("workbench")
    proc = subprocess.Popen(
        [exe, "service", "run", "--state", root / "state", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        import requests

        for _ in range(300):
            with contextlib.suppress(requests.RequestException):
                requests.get(f"{url}/api/v1/health", timeout=1).raise_for_status()
                break
            time.sleep(0.2)
        yield url, tokens
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def bench_calls(local, remote, clinician, case: str) -> None:
    from workbench import Teaching

    for where, cohort in (("in process", local), ("service", remote)):
        session = cohort.session(user="teacher.berg", purpose=Teaching())
        session.samples()
        samples = median_ms(session.samples, N_CALLS)
        decision = median_ms(session.decision, N_CALLS)
        emit(case, f"samples() per call, median, {where}", samples, "ms")
        emit(case, f"decision() per call, median, {where}", decision, "ms")
        if where == "in process":
            base = samples
    emit(case, "samples() service/in-process", round(samples / base, 2), "x")
    # The smallest audited call with data: a clinician re-identifies their own patient (one
    # decision, one audit entry committed durably, one short string back).
    from workbench import Treatment
    from workbench.access.explain import patients_of

    times = {}
    for where, cohort in (("in process", local), ("service", clinician)):
        patient = patients_of(cohort, user="dr.jensen")[0]
        care = cohort.session(user="dr.jensen", purpose=Treatment(patient=patient))
        times[where] = median_ms(lambda s=care, p=patient: s.reidentify(p), N_CALLS)
        emit(case, f"decision + audit (reidentify) per call, median, {where}", times[where], "ms")


def bench_reads(local, remote, case: str) -> None:
    """Whole-contig reads, in process and through the service, taken in turns.

    One read of each is not timed (files and memory warm up); then the two alternate, so
    that anything else the machine does falls on both alike.
    """
    from workbench import Teaching

    contig = max(local.contigs, key=local.contigs.get)
    views = {
        where: cohort.session(user="teacher.berg", purpose=Teaching()).genotype_view()
        for where, cohort in (("in process", local), ("service", remote))
    }
    times = {where: [] for where in views}
    nbytes = 0
    for n in range(N_READS + 1):
        for where, view in views.items():
            t0 = time.perf_counter()
            calls = np.asarray(view.genotypes(contig=contig).values.compute())
            if n:  # the first round warms up
                times[where].append(time.perf_counter() - t0)
            nbytes = calls.nbytes
            del calls
    speeds = {where: nbytes / statistics.median(t) / 1e6 for where, t in times.items()}
    for where, speed in speeds.items():
        emit(f"{case} {contig}", f"genotype view read, {where}", round(speed, 1), "MB/s")
    ratio = speeds["service"] / speeds["in process"]
    emit(f"{case} {contig}", "service/in-process throughput", round(ratio, 2), "x")


def bench_sequencing(local, clinician, case: str) -> None:
    from workbench import Treatment
    from workbench.interpret.case import choose_case
    from workbench.synth.reads import simulate_reads

    _, proband = choose_case(clinician)
    session = clinician.session(purpose=Treatment(patient=proband))
    trio = list(session.samples().person_id)
    genes = [g.symbol for g in local.reference.genes[:2]]
    timings = {}
    with tempfile.TemporaryDirectory() as tmp:
        for where, source in (("in process", local), ("service", session)):
            runs = []
            for i in range(3):
                t0 = time.perf_counter()
                simulate_reads(source, person_ids=trio, regions=genes, out_dir=Path(tmp) / f"{i}",
                               depth=30, seed=i, progress=False)  # fmt: skip
                runs.append(time.perf_counter() - t0)
            timings[where] = statistics.median(runs)
            emit(case, f"trio reads over 2 genes, {where}", round(timings[where], 2), "s")
    emit(
        case,
        "trio reads service/in-process",
        round(timings["service"] / timings["in process"], 2),
        "x",
    )


CLASS_SIZE = 25
CLASS_CALLS = 8


def bench_class(url: str, tokens: dict, case: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import workbench
    from workbench import Teaching

    def learner(i: int) -> dict[str, list[float]]:
        user = ("student.ali", "teacher.berg")[i % 2]
        session = workbench.connect(url, token=tokens[user]).session(purpose=Teaching())
        session.decision()
        out = {"allele_counts": [], "decision": []}
        for _ in range(CLASS_CALLS):
            for name, call in (
                ("allele_counts", lambda: session.allele_counts(gene="SCN1A")),
                ("decision", session.decision),
            ):
                t0 = time.perf_counter()
                call()
                out[name].append(1000 * (time.perf_counter() - t0))
        session.close()
        return out

    alone = learner(0)
    with ThreadPoolExecutor(CLASS_SIZE) as pool:
        together = list(pool.map(learner, range(CLASS_SIZE)))
    for name in ("allele_counts", "decision"):
        one = statistics.median(alone[name])
        many = statistics.median(t for r in together for t in r[name])
        emit(case, f"{name}() per call, median, one learner", round(one, 1), "ms")
        emit(case, f"{name}() per call, median, {CLASS_SIZE} at once", round(many, 1), "ms")
        emit(case, f"{name}() {CLASS_SIZE} at once/alone", round(many / one, 2), "x")


def bench_notebooks(cohort: Path, url: str, tokens: dict, case: str) -> None:
    from workbench.regress.runner import run_notebook

    service_params = {
        "05_variant_and_sample_qc.ipynb": {"token": tokens["anc.researcher"]},
        "07_consent_aware_access.ipynb": {"tokens": tokens},
    }
    for name, extra in service_params.items():
        path = REPO / "notebooks" / name
        timings = {}
        with tempfile.TemporaryDirectory() as tmp:
            local_copy = Path(tmp) / "cohort"
            shutil.copytree(cohort, local_copy)
            for where, params in (
                ("in process", {"cohort": str(local_copy)}),
                ("service", {"cohort": str(cohort), "service": url, **extra}),
            ):
                t0 = time.perf_counter()
                run_notebook(path, parameters=params, cwd=path.parent)
                timings[where] = time.perf_counter() - t0
                emit(case, f"notebook {name[:2]}, {where}", round(timings[where], 1), "s")
        ratio = timings["service"] / timings["in process"]
        emit(case, f"notebook {name[:2]} service/in-process", round(ratio, 2), "x")


def main(argv) -> None:
    import workbench
    from workbench.synth.generate import generate_cohort

    preset = "tiny" if "--quick" in argv else "teaching"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        made = generate_cohort(preset=preset, out=tmp / "made", seed=1, progress=False)
        served = tmp / "served"
        shutil.copytree(made, served)
        local = workbench.open_cohort(made)
        with running_service(served, tmp) as (url, tokens):
            bench_class(url, tokens, preset)
            if "--class" in argv:
                return
            remote = workbench.connect(url, token=tokens["teacher.berg"])
            clinician = workbench.connect(url, token=tokens["dr.jensen"])
            bench_calls(local, remote, clinician, preset)
            bench_reads(local, remote, preset)
            bench_sequencing(local, clinician, preset)
            bench_notebooks(made, url, tokens, preset)


if __name__ == "__main__":
    main(sys.argv[1:])
