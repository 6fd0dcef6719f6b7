"""Run every ``benchmarks/bench_*.py`` and print one table.

Each script prints JSON lines ``{"benchmark", "case", "metric", "value", "unit"}`` on stdout
(anything else it prints goes to the console unchanged). Extra arguments are passed to every
script, e.g. ``python benchmarks/run_all.py --quick``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    rows, failed = [], []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"running {script.name} …", file=sys.stderr, flush=True)
        proc = subprocess.run(
            [sys.executable, str(script), *argv], stdout=subprocess.PIPE, text=True, check=False
        )
        for line in proc.stdout.splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                print(line)
        if proc.returncode:
            failed.append(script.name)
    if rows:
        widths = [max(len(str(r[k])) for r in rows) for k in ("benchmark", "case", "metric")]
        widths = [
            max(w, len(h)) for w, h in zip(widths, ("benchmark", "case", "metric"), strict=True)
        ]
        header = ("benchmark", "case", "metric")
        print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + "  value")
        for r in rows:
            cells = [str(r[k]).ljust(w) for k, w in zip(header, widths, strict=True)]
            value = r["value"]
            shown = f"{value:.3g}" if isinstance(value, float) else str(value)
            print("  ".join(cells) + f"  {shown} {r.get('unit', '')}".rstrip())
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
