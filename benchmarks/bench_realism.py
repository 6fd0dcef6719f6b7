"""The realism scorecard of teaching cohorts generated with seeds the tests never use.

For each seed a teaching cohort is generated in a temporary folder and scored
(:func:`workbench.realism.scorecard`); every figure is printed as a JSON line with its
published range and status, and the scorecard of each seed as text on stderr. The script
exits with status 1 when a judged figure is outside its range on any seed, so the day the
teaching preset is realistic everywhere it becomes a check.

    python benchmarks/bench_realism.py                 # seeds 101, 202, 303
    python benchmarks/bench_realism.py --seeds 7 8     # other seeds
    python benchmarks/bench_realism.py --quick         # one seed
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path


def emit(case, metric, value, unit):
    print(json.dumps(dict(benchmark="realism", case=case, metric=metric, value=value, unit=unit)))


def _seeds(argv: list[str]) -> list[int]:
    if "--seeds" in argv:
        rest = argv[argv.index("--seeds") + 1 :]
        return [int(a) for a in rest if not a.startswith("--")]
    return [101] if "--quick" in argv else [101, 202, 303]


def main(argv: list[str]) -> int:
    import workbench
    from workbench.realism import format_scorecard, scorecard
    from workbench.synth.generate import generate_cohort

    outside = []
    for seed in _seeds(argv):
        case = f"teaching seed {seed}"
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            path = generate_cohort(
                preset="teaching", out=Path(tmp) / "teaching", seed=seed, progress=False
            )
            emit(case, "generate wall time", round(time.perf_counter() - start, 1), "s")
            start = time.perf_counter()
            card = scorecard(workbench.open_cohort(path, verify=False))
            emit(case, "scorecard wall time", round(time.perf_counter() - start, 1), "s")
        print(f"== {case}\n{format_scorecard(card)}", file=sys.stderr, flush=True)
        for row in card.itertuples(index=False):
            value = None if row.value is None else float(row.value)
            emit(case, f"{row.figure} [{row.status}]", value, f"({row.low:.3g}–{row.high:.3g})")
            if row.status == "outside":
                outside.append(f"{case}: {row.figure}")
    if outside:
        print("outside the published range:\n  " + "\n  ".join(outside), file=sys.stderr)
    return 1 if outside else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
