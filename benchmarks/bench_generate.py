"""Wall time and peak memory of `workbench generate`, against plain msprime + bio2zarr.

The peer does the least a cohort needs: one msprime ancestry + mutation run per contig under
the same demography and sample size (no pedigree, reference, planting, registry or VCF), then
bio2zarr's ``tskit.convert`` to VCF Zarr. Both run in fresh processes, one after the other, in
the same invocation, so the ratio is measured on the same machine state.

For the exome-scale model (``teaching``) the peer runs msprime on the same chromosomes with the
same rate maps (recombination compressed and mutations confined to the sequence windows of a
genome built by :func:`workbench.genome.genemodels.build_genome`) in the same 5 Mb pieces,
joined as the workbench joins them: whole chromosomes at the full rate take hours at this
size, so no plainer peer exists.

    python benchmarks/bench_generate.py            # teaching and national
    python benchmarks/bench_generate.py --quick    # teaching only
    python benchmarks/bench_generate.py national   # one preset
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
import time

from workbench.synth.population import PRESETS

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

PEER_EXOME = """
import os, msprime, numpy as np
from bio2zarr import tskit as tskit2zarr
from workbench.genome.genemodels import build_genome, genes_per_chromosome
from workbench.synth.population import (
    PIECE_LENGTH, PRESETS, demography, join_pieces, mutation_model, rate_maps)
p = PRESETS[{preset!r}]
os.makedirs({out!r}, exist_ok=True)
counts = genes_per_chromosome(list(p.contigs), p.genes)
genes = [(f"G{{c}}_{{i}}", c) for c, n in counts.items() for i in range(n)]
ref = build_genome(chromosomes=dict(p.contigs), genes=genes, rng=np.random.default_rng(1))
share = {{"NOR": 0.86, "MEN": 0.08, "SAS": 0.06}}
for i, (contig, length) in enumerate(p.contigs.items()):
    recombination, mutation = rate_maps(length, ref.known_windows(contig))
    samples = {{pop: int(round(f * p.samples)) for pop, f in share.items()}}
    bounds = np.linspace(0, length, -(-length // PIECE_LENGTH) + 1).round()
    parts = [
        msprime.sim_ancestry(samples, demography=demography(), sequence_length=b - a,
                             recombination_rate=recombination.slice(a, b, trim=True),
                             random_seed=1_000 * i + k + 1)
        for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))
    ]
    ts = join_pieces(parts, bounds, shared=parts[0].num_samples)
    ts = msprime.sim_mutations(ts, rate=mutation, model=mutation_model(), random_seed=i + 1)
    tskit2zarr.convert(ts, {out!r} + f"/{{contig}}.vcz")
"""

EPILOGUE = """
import resource
# The exome model simulates chromosomes in forked workers: count the largest of them too.
peak = max(resource.getrusage(who).ru_maxrss
           for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
print("PEAK_KB", peak)
"""


def measure(code: str) -> tuple[float, float]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code) + EPILOGUE],
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        sys.exit(f"benchmark process failed:\n{proc.stderr[-3000:]}")
    wall = time.perf_counter() - t0
    peak_kb = int(proc.stdout.split("PEAK_KB")[-1].split()[0])
    return wall, peak_kb / 1024**2


def emit(case, metric, value, unit):
    print(json.dumps(dict(benchmark="generate", case=case, metric=metric, value=value, unit=unit)))


def main(argv):
    named = [a for a in argv if not a.startswith("-")]
    presets = named or (["teaching"] if "--quick" in argv else ["teaching", "national"])
    for preset in presets:
        peer = PEER_EXOME if PRESETS[preset].genes else PEER
        with tempfile.TemporaryDirectory() as tmp:
            wb_s, wb_gb = measure(WORKBENCH.format(preset=preset, out=f"{tmp}/cohort"))
            peer_s, peer_gb = measure(peer.format(preset=preset, out=f"{tmp}/peer"))
        emit(preset, "workbench wall time", round(wb_s, 1), "s")
        emit(preset, "workbench peak memory", round(wb_gb, 2), "GB")
        emit(preset, "msprime+tskit2zarr wall time", round(peer_s, 1), "s")
        emit(preset, "msprime+tskit2zarr peak memory", round(peer_gb, 2), "GB")
        emit(preset, "time ratio workbench/peer", round(wb_s / peer_s, 2), "x")


if __name__ == "__main__":
    main(sys.argv[1:])
