"""Serving notebooks: JupyterLab (and, later, Voila dashboards) with every network call off."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["OFFLINE_LAB_SETTINGS", "lab_command"]

#: JupyterLab settings that stop every call it would make beyond localhost: the news feed,
#: update checks, and the extension manager's PyPI queries. The server listens on loopback only.
OFFLINE_LAB_SETTINGS = (
    "--LabApp.news_url=None",
    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    "--LabApp.extension_manager=readonly",
    "--ServerApp.ip=127.0.0.1",
    "--ServerApp.open_browser=False",
)


def lab_command(*, root: str | os.PathLike = ".", port: int = 8888) -> list[str]:
    """The argv that starts JupyterLab over ``root`` (where notebooks/ and courses/ live)."""
    root = Path(root).resolve()
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={root}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        *OFFLINE_LAB_SETTINGS,
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Containers and CI machines often run as root; Jupyter refuses unless told.
        cmd.append("--ServerApp.allow_root=True")
    return cmd
