"""Run a peer library in its own environment, ``.venv-peers`` (``make bench`` builds it from
``benchmarks/peers/requirements.lock``): sgkit needs zarr 2 and scikit-allel's randomised PCA
needs scikit-learn, neither of which the workbench's own environment holds.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYTHON = Path(os.environ.get("WORKBENCH_PEERS_PYTHON", HERE.parent / ".venv-peers/bin/python"))


def available() -> bool:
    return PYTHON.exists()


def run(script: str, *args) -> str:
    """Run ``benchmarks/peers/SCRIPT`` with the peers' Python; return its last output line."""
    proc = subprocess.run(
        [str(PYTHON), str(HERE / "peers" / script), *map(str, args)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONNOUSERSITE": "1"},
    )
    return proc.stdout.strip().splitlines()[-1]
