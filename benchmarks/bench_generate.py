"""Wall time and peak memory of `workbench generate`, against plain msprime + bio2zarr.

The peer does the least a cohort needs: one msprime ancestry + mutation run per contig under
the same demography and sample size (no pedigree, reference, planting, registry or VCF), then
bio2zarr's ``tskit.convert`` to VCF Zarr. Both run in fresh processes, one after the other, in
the same invocation, so the ratio is measured on the same machine state.

    python benchmarks/bench_generate.py            # teaching and national
    python benchmarks/bench_generate.py --quick    # teaching only
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
import time

WORKBENCH = """
from workbench.synth.generate import generate_cohort
generate_cohort(preset={preset!r}, out={out!r}, seed=1, progress=False)
"""

PEER = """
import os, msprime, numpy as np
from bio2zarr import tskit as tskit2zarr
from workbench.synth.population import PRESETS, demography, MUTATION_RATE, RECOMBINATION_RATE
p = PRESETS[{preset!r}]
os.makedirs({out!r}, exist_ok=True)
share = {{"NOR": 0.86, "MEN": 0.08, "SAS": 0.06}}
for i, (contig, length) in enumerate(p.contigs.items()):
    samples = {{pop: int(round(f * p.samples)) for pop, f in share.items()}}
    ts = msprime.sim_ancestry(samples, demography=demography(), sequence_length=length,
                              recombination_rate=RECOMBINATION_RATE, random_seed=i + 1)
    ts = msprime.sim_mutations(ts, rate=MUTATION_RATE, random_seed=i + 1)
    tskit2zarr.convert(ts, {out!r} + f"/{{contig}}.vcz")
"""

EPILOGUE = """
import resource
print("PEAK_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def measure(code: str) -> tuple[float, float]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code) + EPILOGUE],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - t0
    peak_kb = int(proc.stdout.split("PEAK_KB")[-1].split()[0])
    return wall, peak_kb / 1024**2


def emit(case, metric, value, unit):
    print(json.dumps(dict(benchmark="generate", case=case, metric=metric, value=value, unit=unit)))


def main(argv):
    presets = ["teaching"] if "--quick" in argv else ["teaching", "national"]
    for preset in presets:
        with tempfile.TemporaryDirectory() as tmp:
            wb_s, wb_gb = measure(WORKBENCH.format(preset=preset, out=f"{tmp}/cohort"))
            peer_s, peer_gb = measure(PEER.format(preset=preset, out=f"{tmp}/peer"))
        emit(preset, "workbench wall time", round(wb_s, 1), "s")
        emit(preset, "workbench peak memory", round(wb_gb, 2), "GB")
        emit(preset, "msprime+tskit2zarr wall time", round(peer_s, 1), "s")
        emit(preset, "msprime+tskit2zarr peak memory", round(peer_gb, 2), "GB")
        emit(preset, "time ratio workbench/peer", round(wb_s / peer_s, 2), "x")


if __name__ == "__main__":
    main(sys.argv[1:])
