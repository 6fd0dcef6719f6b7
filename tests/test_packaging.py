"""The two-command setup and the packaging files agree with each other."""

from __future__ import annotations

import re
import tomllib

import yaml
from conftest import REPO


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower()


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    from_env = {r for r in pip if not r.startswith("-e")}
    assert from_env == set(project["dependencies"]), (
        "environment.yml and pyproject.toml list different dependencies: "
        f"only in environment.yml {sorted(from_env - set(project['dependencies']))}, "
        f"only in pyproject {sorted(set(project['dependencies']) - from_env)}"
    )
    assert "python=3.11" in env["dependencies"]


def test_lock_pins_every_dependency_exactly():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    lock = (REPO / "requirements.lock").read_text()
    pinned = {
        m.group(1).lower(): m.group(2)
        for m in re.finditer(r"^([A-Za-z0-9_.\-]+)==(\S+)", lock, re.M)
    }
    wanted = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    missing = [r for r in wanted if _name(r).replace("_", "-") not in pinned]
    assert not missing, f"requirements.lock lacks {missing}; run `make lock`"


def test_ci_runs_exactly_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text()
    commands = [
        line.strip()
        for line in ci.splitlines()
        if line.strip()
        and not line.lstrip().startswith("#")
        and not line.startswith(("set ", "cd "))
    ]
    assert commands == ["make test"]
    readme = (REPO / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
