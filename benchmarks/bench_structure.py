"""Wall time (and peak memory) of the structure kernels, against scikit-allel on the same data.

* ``pca``: our PCA (randomised, and exact) against ``allel.pca`` and ``allel.randomized_pca``
  (which needs scikit-learn, not a workbench dependency: it runs in ``.venv-peers``, which
  ``make bench`` builds) on the same standardised
  matrix of common variants of the teaching cohort; agreement as |correlation| of PC1 and PC2.
* ``ld_r2``: ``ld_r2`` against ``allel.rogers_huff_r`` on the same 2,000 variants.
* ``national pca``: ``pca`` of the national preset (60,000 people) through dask, in a fresh
  process: wall time and peak resident memory (targets: < 5 min on 2 cores, < 4 GB).

    python benchmarks/bench_structure.py                    # datasets/synthetic/{teaching,national}
    python benchmarks/bench_structure.py --quick            # teaching only
    python benchmarks/bench_structure.py --teaching /tmp/teaching --national /tmp/national
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import peer_env

REPO = Path(__file__).resolve().parents[1]

NATIONAL = """
import time, resource
import workbench
from workbench.analysis.structure import pca
c = workbench.open_cohort({path!r}, verify=False)
t0 = time.perf_counter()
coords, explained = pca(c.genotypes(), sample_ids=c.sample_ids, n_components=4, seed=0)
wall = time.perf_counter() - t0
pops = c.samples().population.to_numpy()
means = {{p: float(coords.PC1[pops == p].mean()) for p in sorted(set(pops))}}
print("RESULT", wall, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, explained[0], means)
"""


def emit(case, metric, value, unit):
    row = dict(benchmark="structure", case=case, metric=metric, value=value, unit=unit)
    print(json.dumps(row), flush=True)


def _timed(fn, repeat=1):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _corr(a, b):
    return float(abs(np.corrcoef(a, b)[0, 1]))


def bench_pca(path: Path):
    import allel

    import workbench
    from workbench.analysis.structure import pca

    c = workbench.open_cohort(path, verify=False)
    gt = c.genotypes()
    # The same matrix for allel: the variants our pca chooses (same seed), mean-imputed dosages.
    ac = gt.count_alleles()
    af = ac.to_frequencies()
    keep = np.flatnonzero((ac.max_allele() <= 1) & (np.minimum(af[:, 0], af[:, 1]) >= 0.05))
    if len(keep) > 20_000:
        keep = np.sort(np.random.default_rng(0).choice(keep, 20_000, replace=False))
    case = f"pca {c.name} ({gt.shape[1]} samples × {len(keep)} variants)"
    t_ours, (ours, _) = _timed(lambda: pca(gt, method="randomized", max_variants=20_000))
    t_exact, (exact, _) = _timed(lambda: pca(gt, method="exact", max_variants=20_000))
    gn = gt[keep].to_n_alt(fill=-1).astype(float)
    miss = gn < 0
    means = np.where(miss, 0, gn).sum(axis=1) / np.maximum((~miss).sum(axis=1), 1)
    gn[miss] = np.broadcast_to(means[:, None], gn.shape)[miss]
    t_allel, (ref, _) = _timed(lambda: allel.pca(gn, n_components=4, scaler="patterson"))
    emit(case, "workbench randomised wall time", round(t_ours, 2), "s")
    emit(case, "workbench exact wall time", round(t_exact, 2), "s")
    emit(case, "allel.pca (exact) wall time", round(t_allel, 2), "s")
    emit(case, "|corr| PC1 randomised vs allel.pca", round(_corr(ours.PC1, ref[:, 0]), 5), "")
    emit(case, "|corr| PC2 randomised vs allel.pca", round(_corr(ours.PC2, ref[:, 1]), 5), "")
    emit(case, "|corr| PC1 exact vs allel.pca", round(_corr(exact.PC1, ref[:, 0]), 5), "")
    if not peer_env.available():
        emit(case, "allel.randomized_pca", "skipped: no .venv-peers (make bench builds it)", "")
        return
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "gn.npy", Path(tmp) / "pc.npy"
        np.save(src, gn)
        t_rand = float(peer_env.run("allel_randomized_pca.py", src, out))
        rref = np.load(out)
    emit(case, "allel.randomized_pca wall time (in .venv-peers)", round(t_rand, 2), "s")
    emit(case, "ratio allel.randomized_pca/ours randomised (time)", round(t_rand / t_ours, 1), "x")
    emit(case, "|corr| PC1 vs allel.randomized_pca", round(_corr(ours.PC1, rref[:, 0]), 5), "")


def bench_ld(path: Path):
    import allel

    import workbench
    from workbench.analysis.structure import ld_r2

    c = workbench.open_cohort(path, verify=False)
    gt = c.genotypes(contig="chr1")
    ac = gt.count_alleles()
    g = gt[(ac.max_allele() == 1) & ac.is_segregating()][:2000]
    gn = g.to_n_alt(fill=-1)
    case = f"ld_r2 {c.name} (2,000 variants × {g.shape[1]} samples)"
    t_ours, ours = _timed(lambda: ld_r2(gn, condensed=True), repeat=3)
    t_allel, ref = _timed(lambda: allel.rogers_huff_r(gn) ** 2, repeat=3)
    emit(case, "workbench wall time", round(t_ours, 3), "s")
    emit(case, "allel.rogers_huff_r wall time", round(t_allel, 3), "s")
    emit(case, "speed-up", round(t_allel / t_ours, 1), "x")
    emit(case, "max |difference|", float(np.nanmax(np.abs(ours - ref))), "")


def bench_national(path: Path):
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(NATIONAL.format(path=str(path)))],
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT"))
    _, wall, peak_kb, pc1, means = line.split(" ", 4)
    case = "national pca (60,000 samples, dask, threads)"
    emit(case, "wall time", round(float(wall), 1), "s")
    emit(case, "peak memory", round(int(peak_kb) / 1024**2, 2), "GB")
    emit(case, "explained PC1", round(float(pc1), 4), "")
    emit(case, "PC1 mean by population", means, "")


def _arg(argv, name, default):
    return Path(argv[argv.index(name) + 1]) if name in argv else default


def main(argv):
    teaching = _arg(argv, "--teaching", REPO / "datasets/synthetic/teaching")
    national = _arg(argv, "--national", REPO / "datasets/synthetic/national")
    if not (teaching / "manifest.json").is_file():
        print(f"no teaching cohort at {teaching}; `make run` or pass --teaching", file=sys.stderr)
        return 1
    bench_ld(teaching)
    bench_pca(teaching)
    if "--quick" not in argv:
        if (national / "manifest.json").is_file():
            bench_national(national)
        else:
            print(f"no national cohort at {national}; skipped (pass --national)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
