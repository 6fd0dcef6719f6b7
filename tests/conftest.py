"""Shared fixtures.

Fixture rules:

* ``tiny_cohort`` is generated once per test session (preset ``tiny``, seed 42) into a
  temporary folder and must be treated as read-only; a test that alters cohort files makes
  its own copy (``cohort_copy``).
* Tests never touch ``datasets/synthetic/`` in the working tree, and need no network.
* Warnings are errors (pyproject's ``filterwarnings``); ignore a third-party warning there, with
  its reason, rather than in a test.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tiny_cohort_path(tmp_path_factory) -> Path:
    from workbench.synth.generate import generate_cohort

    out = tmp_path_factory.mktemp("cohorts") / "tiny"
    return generate_cohort(preset="tiny", out=out, seed=42, progress=False)


@pytest.fixture(scope="session")
def tiny_cohort(tiny_cohort_path):
    from workbench import open_cohort

    return open_cohort(tiny_cohort_path)


@pytest.fixture
def cohort_copy(tiny_cohort_path, tmp_path) -> Path:
    dest = tmp_path / "cohort"
    shutil.copytree(tiny_cohort_path, dest)
    return dest


# -- the data-access service -------------------------------------------------------------------
#: One token is issued for each of these principals of the tiny cohort.
SERVICE_USERS = (
    "teacher.berg",
    "student.ali",
    "lab.researcher",
    "anc.researcher",
    "steward.larsen",
    "dr.jensen",
    "dr.hansen",
    "dr.nielsen",
)


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_until_healthy(args, url: str, log: Path) -> subprocess.Popen:
    """``workbench ARGS`` in a process of its own, once ``URL/api/v1/health`` answers."""
    import requests

    exe = Path(sys.executable).with_name("workbench")
    with open(log, "ab") as out:
        process = subprocess.Popen([exe, *map(str, args)], stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(f"{url}/api/v1/health", timeout=1).raise_for_status()
            return process
        except requests.RequestException:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"{args[0]} did not start:\n{log.read_text()}") from None
            time.sleep(0.2)


class Service:
    """``workbench service run`` over a private copy of the tiny cohort, a token per user."""

    def __init__(
        self,
        root: Path,
        cohort: Path,
        *,
        disclosure: str = "genomics-england",
        witness=None,
        hub_api_url=None,
        **more,
    ):

        from workbench.service import init_state

        self.cohort = cohort
        self.state_path = root / "state"
        self.state = init_state(
            self.state_path,
            cohort,
            disclosure=disclosure,
            witness=witness,
            hub_api_url=hub_api_url,
            **more,
        )
        self.tokens = {u: self.state.issue_token(u)[1] for u in SERVICE_USERS}
        self.log = root / "service.log"
        self.start()

    def start(self) -> None:
        """Start ``workbench service run`` on a free port (again, after :meth:`stop`)."""
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = ["service", "run", "--state", self.state_path, "--port", str(self.port)]
        self.process = run_until_healthy(args, self.url, self.log)

    def connect(self, user: str):
        import workbench

        return workbench.connect(self.url, token=self.tokens[user])

    def stop(self) -> str:
        self.process.terminate()
        self.process.wait(timeout=30)
        return self.log.read_text()


@pytest.fixture
def service(cohort_copy, tmp_path):
    """A data-access service on 127.0.0.1 over a copy of the tiny cohort, stopped after."""
    running = Service(tmp_path, cohort_copy)
    yield running
    if running.process.poll() is None:
        running.stop()
