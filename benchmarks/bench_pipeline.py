"""Wall time of the sequencing pipeline, per step, and of mappy against Debian's `bwa mem`.

A 30x trio (family F0001 of the teaching cohort) over the teaching panel — the genes of the
teaching cohort's rare-disease families, or every gene of the gene–disease table with
``--all-genes`` — goes from simulated FASTQ to an annotated, truth-checked VCF with 2 threads
(:func:`workbench.pipeline.steps.run_pipeline`, cold cache). Then the same trimmed reads are
aligned again by the workbench (mappy → fixmate → sort → markdup → index) and by
``bwa mem -t 2`` followed by the same post-processing (pysam), and the ratio is reported.
``bwa`` is installed with ``apt-get install -y bwa`` when missing and running as root;
otherwise a row says the comparison was skipped.

    python benchmarks/bench_pipeline.py                     # generates a teaching cohort
    python benchmarks/bench_pipeline.py --cohort /tmp/teaching
    python benchmarks/bench_pipeline.py --cohort /tmp/teaching --all-genes
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

THREADS = 2
FAMILY = "F0001"


def emit(case, metric, value, unit):
    print(
        json.dumps(dict(benchmark="pipeline", case=case, metric=metric, value=value, unit=unit)),
        flush=True,
    )


def _ensure_bwa() -> str | None:
    """Path to bwa, installing Debian's package when missing and allowed; None otherwise."""
    found = shutil.which("bwa")
    if found:
        return found
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-q", "bwa"]
    if subprocess.run(cmd, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
        subprocess.run(cmd, env=env, capture_output=True)
    return shutil.which("bwa")


def _bwa_align(bwa: str, ref_fa: Path, r1: Path, r2: Path, out_bam: Path, sample: str) -> None:
    """``bwa mem`` then the post-processing the workbench applies to mappy's alignments."""
    import pysam

    work = out_bam.parent / f".{sample}.bwa"
    work.mkdir(parents=True, exist_ok=True)
    sam = work / "raw.sam"
    with open(sam, "wb") as f:
        subprocess.run(
            [bwa, "mem", "-t", str(THREADS), "-R", f"@RG\\tID:{sample}\\tSM:{sample}",
             str(ref_fa), str(r1), str(r2)],
            stdout=f, stderr=subprocess.DEVNULL, check=True,
        )  # fmt: skip
    pysam.sort("-n", "-@", str(THREADS), "-o", str(work / "name.bam"), str(sam))
    pysam.fixmate("-m", str(work / "name.bam"), str(work / "fixmate.bam"))
    pysam.sort("-@", str(THREADS), "-o", str(work / "sorted.bam"), str(work / "fixmate.bam"))
    pysam.markdup(str(work / "sorted.bam"), str(out_bam))
    pysam.index(str(out_bam))
    shutil.rmtree(work)


def main(argv):
    import workbench
    from workbench.pipeline.align import align
    from workbench.pipeline.steps import run_pipeline

    cohort_path = None
    if "--cohort" in argv:
        cohort_path = Path(argv[argv.index("--cohort") + 1])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if cohort_path is None:
            from workbench.synth.generate import generate_cohort

            t0 = time.perf_counter()
            cohort_path = generate_cohort(
                preset="teaching", out=tmp / "teaching", seed=42, progress=False
            )
            emit(
                "teaching",
                "generate cohort (setup, not pipeline)",
                round(time.perf_counter() - t0, 1),
                "s",
            )
        c = workbench.open_cohort(cohort_path)
        if "--all-genes" in argv:
            genes = sorted(
                set(c.knowledge.gene_disease.gene) & {g.symbol for g in c.reference.genes}
            )
            case = "teaching 30x trio, all rare-disease genes"
        else:
            cases = c.truth()["cases"]
            genes = sorted(set(cases.gene.dropna()) | set(cases.gene2.dropna()))
            case = "teaching 30x trio, family genes"
        span = sum(g.end - g.start + 1 for g in c.reference.genes if g.symbol in genes)
        emit(case, "panel genes", len(genes), "genes")
        emit(case, "panel span", round(span / 1e3, 1), "kb")

        out = tmp / "run"
        t0 = time.perf_counter()
        result = run_pipeline(
            c, family=FAMILY, out_dir=out, genes=genes, depth=30.0, threads=THREADS,
            progress=False,
        )  # fmt: skip
        total = time.perf_counter() - t0
        for step, seconds in result.timings().items():
            emit(case, f"{step} wall time", round(seconds, 2), "s")
        emit(case, "FASTQ to annotated VCF wall time", round(total, 1), "s")
        metrics = result.metrics()
        for kind in ("SNV", "indel"):
            for m in ("precision", "recall"):
                if metrics[kind][m] is not None:
                    emit(case, f"{kind} {m}", round(metrics[kind][m], 4), "fraction")

        # mappy (the workbench's aligner) against bwa mem on the same trimmed reads
        ref_fa = c.path / "reference" / "genome.fa"
        trimmed = {m: (out / "trim" / f"{m}_R1.fastq.gz", out / "trim" / f"{m}_R2.fastq.gz")
                   for m in result.members}  # fmt: skip
        t0 = time.perf_counter()
        for m, (r1, r2) in trimmed.items():
            align(ref_fa, r1, r2, out_bam=tmp / "mappy" / f"{m}.bam", sample=m, threads=THREADS)
        mappy_s = time.perf_counter() - t0
        emit(case, "mappy align+markdup wall time (3 people)", round(mappy_s, 2), "s")
        bwa = _ensure_bwa()
        if bwa is None:
            emit(case, "bwa mem comparison", "skipped: bwa not installed and not root", "")
            return
        bwa_ref = tmp / "bwa" / "genome.fa"
        bwa_ref.parent.mkdir()
        shutil.copy(ref_fa, bwa_ref)
        t0 = time.perf_counter()
        subprocess.run([bwa, "index", str(bwa_ref)], capture_output=True, check=True)
        emit(case, "bwa index wall time (one-off)", round(time.perf_counter() - t0, 2), "s")
        t0 = time.perf_counter()
        for m, (r1, r2) in trimmed.items():
            _bwa_align(bwa, bwa_ref, r1, r2, tmp / "bwa" / f"{m}.bam", m)
        bwa_s = time.perf_counter() - t0
        emit(case, "bwa mem align+markdup wall time (3 people)", round(bwa_s, 2), "s")
        emit(case, "time ratio mappy/bwa mem", round(mappy_s / bwa_s, 2), "x")


if __name__ == "__main__":
    main(sys.argv[1:])
