"""Throughput of the fused genotype statistics against the streaming floor, numpy,
scikit-allel and sgkit.

An in-memory int8 matrix (100,000 variants × 2,000 samples × 2 by default; realistic allele
frequencies from a Beta(0.2, 2) spectrum, 0.5 % missing calls) is scanned by

* the streaming floor: one pass that reads every byte and does nothing else (a numba XOR of
  every 8-byte word, one thread), the speed of memory;
* numpy: one pass ``(gt > 0).sum()``;
* ``fused_stats`` (every per-variant and per-sample count QC needs, one pass, all threads);
* scikit-allel's ``count_alleles`` + ``count_het`` + ``count_missing`` (on a 20,000-variant
  slice: it is slow, and throughput does not depend on the number of rows);
* sgkit's ``variant_stats`` + ``sample_stats``, in its own environment ``.venv-peers`` (sgkit
  needs zarr 2; ``make bench`` builds it), whose counts must equal ours.

Throughput is genotype bytes / wall time (best of three). Then, if ``/tmp/national`` (or
``--national PATH``) exists, ``fused_stats`` over the national cohort through dask runs in a
fresh process: wall time and peak memory (``resource.getrusage``).

    python benchmarks/bench_stats.py            # all of it
    python benchmarks/bench_stats.py --quick    # 20,000 variants, no national cohort
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numba
import numpy as np
import peer_env

NATIONAL = """
import resource, time
import workbench
from workbench.analysis.kernels import fused_stats
c = workbench.open_cohort({path!r}, verify=False)
gt = c.genotypes()
fused_stats(gt[:2000])  # compile the kernels outside the timing
t = time.perf_counter()
vs, ss = fused_stats(gt, populations=c.samples().population)
wall = time.perf_counter() - t
print("RESULT", wall, gt.shape[0] * gt.shape[1] * 2,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

# The same through a researcher's consent-aware genotype view (on a copy: sessions audit).
NATIONAL_VIEW = """
import resource, shutil, tempfile, time
from pathlib import Path
import workbench
from workbench.analysis.kernels import fused_stats
with tempfile.TemporaryDirectory() as tmp:
    shutil.copytree({path!r}, Path(tmp) / "c")
    c = workbench.open_cohort(Path(tmp) / "c", verify=False)
    s = c.session(user="anc.researcher", purpose=workbench.Research(project="ANC-3"))
    t = time.perf_counter()
    view = s.genotype_view()
    opened = time.perf_counter() - t
    gt = view.genotypes()
    fused_stats(gt[:2000])
    t = time.perf_counter()
    fused_stats(gt, populations=view.samples().population)
    wall = time.perf_counter() - t
    print("RESULT", opened, wall, gt.shape[1],
          resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def emit(case, metric, value, unit):
    print(
        json.dumps(dict(benchmark="stats", case=case, metric=metric, value=value, unit=unit)),
        flush=True,
    )


def matrix(n_variants: int, n_samples: int, *, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    g = np.empty((n_variants, n_samples, 2), np.int8)
    for start in range(0, n_variants, 5000):
        stop = min(start + 5000, n_variants)
        p = rng.beta(0.2, 2.0, size=(stop - start, 1, 1)).astype(np.float32)
        block = rng.random((stop - start, n_samples, 2), dtype=np.float32)
        g[start:stop] = block < p
        g[start:stop][block > 0.995] = -1
    return g


@numba.njit(nogil=True)
def _xor_words(words):
    acc = np.zeros(8, np.uint64)
    for i in range(0, words.shape[0] - 7, 8):
        for k in range(8):
            acc[k] ^= words[i + k]
    return acc


def best(fn, repeat=3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv):
    quick = "--quick" in argv
    n_var, n_samp = (20_000 if quick else 100_000), 2_000
    g = matrix(n_var, n_samp)
    case = f"{n_var}x{n_samp}"
    gb = g.nbytes / 1e9
    emit(case, "matrix size", round(gb, 3), "GB")
    emit(case, "cpu cores", os.cpu_count(), "")

    words = g.reshape(-1).view(np.uint64)
    _xor_words(words[:8])
    floor = best(lambda: _xor_words(words))
    emit(case, "streaming floor (read every byte, 1 thread)", round(gb / floor, 3), "GB/s")
    numpy_pass = best(lambda: (g > 0).sum())
    emit(case, "numpy (gt > 0).sum()", round(gb / numpy_pass, 3), "GB/s")

    from workbench.analysis.kernels import fused_stats

    fused_stats(g[:1000])  # compile outside the timing
    fused = best(lambda: fused_stats(g))
    emit(case, "fused_stats", round(gb / fused, 3), "GB/s")
    vs, ss = fused_stats(g)

    import allel

    sl = g[: min(n_var, 20_000)]
    ga = allel.GenotypeArray(sl)

    def scikit_allel():
        ga.count_alleles()
        ga.count_het(axis=1)
        ga.count_missing(axis=1)

    ska = best(scikit_allel, repeat=1)
    emit(
        case,
        "scikit-allel count_alleles+count_het+count_missing",
        round(sl.nbytes / 1e9 / ska, 3),
        "GB/s",
    )

    if not peer_env.available():
        emit(case, "sgkit", "skipped: no .venv-peers (make bench builds it)", "")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            np.save(Path(tmp) / "g.npy", g)
            sg = float(peer_env.run("sgkit_stats.py", Path(tmp) / "g.npy", Path(tmp) / "sg.npz"))
            ref = np.load(Path(tmp) / "sg.npz")
            same = (
                np.array_equal(ref["variant_n_het"], vs.n_het)
                and np.array_equal(ref["variant_n_called"], vs.n_called)
                and np.array_equal(ref["variant_allele_count"], vs.allele_counts)
                and np.array_equal(ref["sample_n_het"], ss.n_het)
                and np.array_equal(ref["sample_n_called"], ss.n_called)
            )
        emit(case, "sgkit variant_stats+sample_stats", round(gb / sg, 3), "GB/s")
        emit(case, "sgkit counts equal fused_stats'", same, "")
        emit(case, "ratio fused/sgkit (throughput)", round(sg / fused, 1), "x")

    emit(case, "ratio fused/streaming floor (throughput)", round(floor / fused, 2), "x")
    emit(case, "ratio fused/numpy (gt > 0).sum() (throughput)", round(numpy_pass / fused, 2), "x")
    emit(
        case,
        "ratio fused/scikit-allel (throughput)",
        round((g.nbytes / fused) / (sl.nbytes / ska), 1),
        "x",
    )

    path = next((a.split("=", 1)[1] for a in argv if a.startswith("--national=")), "/tmp/national")
    if quick or not os.path.isdir(path):
        emit("national", "fused_stats through dask", "skipped (no cohort or --quick)", "")
        return
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(NATIONAL.format(path=path))],
        capture_output=True,
        text=True,
        check=True,
    )
    wall, nbytes, peak_kb = proc.stdout.split("RESULT")[-1].split()
    wall, nbytes, peak_kb = float(wall), int(nbytes), int(peak_kb)
    emit("national", "genotype bytes", round(nbytes / 1e9, 2), "GB")
    emit("national", "fused_stats wall time (dask, with populations)", round(wall, 1), "s")
    emit(
        "national",
        "fused_stats throughput (incl. zarr decode)",
        round(nbytes / 1e9 / wall, 3),
        "GB/s",
    )
    emit("national", "peak memory", round(peak_kb / 1024**2, 2), "GB")
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(NATIONAL_VIEW.format(path=path))],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode:
        emit("national view", "fused_stats", "skipped: " + proc.stderr.strip()[-120:], "")
        return
    opened, wall, people, peak_kb = proc.stdout.split("RESULT")[-1].split()
    emit("national view", "people in an ancestry project's view", int(people), "")
    emit("national view", "genotype_view() (decide, audit, label)", round(float(opened), 2), "s")
    emit(
        "national view",
        "fused_stats wall time (dask, with populations)",
        round(float(wall), 1),
        "s",
    )
    emit("national view", "peak memory", round(int(peak_kb) / 1024**2, 2), "GB")


if __name__ == "__main__":
    main(sys.argv[1:])
