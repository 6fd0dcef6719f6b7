"""Serving notebooks: JupyterLab and the Voila dashboards, with every network call off.

* :func:`lab_command` starts JupyterLab over the repository (``workbench lab``);
* :func:`voila_config` is the project's Voila configuration (pre-heated kernels for the
  heavy dashboards, idle kernels culled, no tracebacks for learners, loopback only, local
  assets); :func:`voila_command` the argv that serves one dashboard or the whole folder
  (``workbench serve``);
* :mod:`workbench.serve.publish` writes a self-contained bundle or a static HTML snapshot
  of a dashboard (``workbench publish``).

A served dashboard opens the cohort named by ``$WORKBENCH_COHORT`` (see
:func:`workbench.widgets.dashboards.resolve_cohort`): Voila cannot inject papermill parameters.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..errors import InputError
from ..io import write_json

__all__ = [
    "CULL_IDLE_TIMEOUT",
    "DASHBOARDS",
    "DASHBOARD_DIR",
    "HEAVY_DASHBOARDS",
    "OFFLINE_LAB_CONFIG",
    "OFFLINE_LAB_SETTINGS",
    "SHARE_DIR",
    "TEMPLATE",
    "dashboard_path",
    "free_port",
    "lab_command",
    "serve_environment",
    "voila_command",
    "voila_config",
    "write_voila_config",
]

#: JupyterLab's settings that stop every call it would make beyond the machine: the news
#: feed, update checks, and the extension manager's PyPI queries (``LabApp`` traitlets).
OFFLINE_LAB_CONFIG = {
    "news_url": None,
    "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
    "extension_manager": "readonly",
}
#: The same on ``workbench lab``'s command line, with the server on loopback only.
OFFLINE_LAB_SETTINGS = (
    *(f"--LabApp.{name}={value}" for name, value in OFFLINE_LAB_CONFIG.items()),
    "--ServerApp.ip=127.0.0.1",
    "--ServerApp.open_browser=False",
)

#: Where the dashboard notebooks live, relative to the repository root.
DASHBOARD_DIR = Path("notebooks") / "dashboards"
#: The dashboards (notebook stems) ``workbench serve`` and ``workbench publish`` know.
DASHBOARDS = ("cohort_explorer", "case_review", "consent_console", "pipeline_qc", "class_progress")
#: Dashboards whose first render is slow (numba kernels, interpretation): pre-heated.
HEAVY_DASHBOARDS = ("cohort_explorer", "case_review")
#: The project's Voila template (``share/voila/templates/workbench``): "lab" without CDN links.
TEMPLATE = "workbench"
#: Added to ``JUPYTER_PATH`` so Voila finds :data:`TEMPLATE`.
SHARE_DIR = Path(__file__).resolve().parent / "share"
#: Seconds a dashboard kernel may sit idle (its page closed) before it is shut down.
CULL_IDLE_TIMEOUT = 900


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


def _names(notebooks: Iterable[str]) -> list[str]:
    out = []
    for n in notebooks:
        if not isinstance(n, str) or not n:
            raise InputError(f"dashboard names are notebook stems such as 'case_review'; got {n!r}")
        out.append(n if n.endswith(".ipynb") else f"{n}.ipynb")
    return out


def voila_config(
    *,
    preheat: Iterable[str] = HEAVY_DASHBOARDS,
    pool_size: int = 1,
    cull_idle_timeout: int = CULL_IDLE_TIMEOUT,
    theme: str = "light",
    show_tracebacks: bool = False,
) -> dict:
    """The project's Voila configuration, as the traitlets JSON a ``voila.json`` holds.

    Parameters
    ----------
    preheat
        Dashboards (notebook stems, relative to the served folder) kept ready in a pool of
        pre-heated kernels that have already run the notebook; empty turns pre-heating off.
    pool_size
        Kernels kept ready per pre-heated dashboard.
    cull_idle_timeout
        Seconds before an idle kernel is shut down (0: never).
    theme
        ``"light"`` or ``"dark"``.
    show_tracebacks
        Show Python tracebacks in the page (never for learners; for debugging only).

    Returns
    -------
    dict
        ``{"VoilaConfiguration": …, "VoilaKernelManager": …, "MappingKernelManager": …,
        "Voila": …}``.
    """
    if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
        raise InputError(f"pool_size must be a positive integer, got {pool_size!r}")
    if isinstance(cull_idle_timeout, bool) or not isinstance(cull_idle_timeout, int):
        raise InputError(f"cull_idle_timeout must be whole seconds, got {cull_idle_timeout!r}")
    if cull_idle_timeout < 0:
        raise InputError(f"cull_idle_timeout must be ≥ 0, got {cull_idle_timeout}")
    if theme not in ("light", "dark"):
        raise InputError(f"theme must be 'light' or 'dark', got {theme!r}")
    heated = _names(preheat)
    return {
        "VoilaConfiguration": {
            "template": TEMPLATE,
            "theme": theme,
            "show_tracebacks": bool(show_tracebacks),
            "strip_sources": True,
            "preheat_kernel": bool(heated),
            # only the dashboards named get a pool; the others start a kernel per visit
            "default_pool_size": 0,
            "progressive_rendering": False,
            # no JupyterLab extension beyond the widgets (nothing fetched, nothing to phone)
            "extension_denylist": ["@voila-dashboards/jupyterlab-preview"],
        },
        "VoilaKernelManager": {
            "kernel_pools_config": {
                **{nb: {"pool_size": pool_size} for nb in heated},
                "default": {"pool_size": 0},
            },
            "fill_delay": 0,
        },
        "MappingKernelManager": {
            "cull_idle_timeout": cull_idle_timeout,
            "cull_interval": 60 if cull_idle_timeout else 300,
            "cull_connected": False,
        },
        # Cells tagged solution or instructor never reach a learner's page, even when a
        # course module is served from the source tree rather than its student edition.
        "TagRemovePreprocessor": {
            "enabled": True,
            "remove_cell_tags": ["solution", "instructor"],
        },
        "Voila": {
            "ip": "127.0.0.1",
            "open_browser": False,
            "port_retries": 0,
            # mathjax_url and mathjax_config stay unset (null): the front-end then never
            # loads MathJax (its fallback is cdnjs); the dashboards write no formulas.
        },
    }


def write_voila_config(folder: str | os.PathLike, config: Mapping | None = None) -> Path:
    """Write ``voila.json`` (default: :func:`voila_config`) into ``folder``; return its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "voila.json"
    write_json(path, dict(config if config is not None else voila_config()))
    return path


def dashboard_path(name: str, *, root: str | os.PathLike = ".") -> Path:
    """The notebook of a dashboard (a stem such as ``"case_review"`` or a path to a notebook).

    Raises
    ------
    InputError
        No such notebook; the message lists the dashboards there are.
    """
    if not isinstance(name, str) or not name:
        raise InputError(f"expected a dashboard name such as 'case_review', got {name!r}")
    candidate = Path(name)
    if candidate.suffix == ".ipynb" and candidate.is_file():
        return candidate.resolve()
    stem = candidate.stem if candidate.suffix == ".ipynb" else name
    path = Path(root) / DASHBOARD_DIR / f"{stem}.ipynb"
    if not path.is_file():
        known = sorted(p.stem for p in (Path(root) / DASHBOARD_DIR).glob("*.ipynb"))
        raise InputError(
            f"no dashboard {name!r} under {Path(root) / DASHBOARD_DIR}; dashboards: "
            f"{', '.join(known) or 'none (run from the repository root)'}"
        )
    return path.resolve()


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_environment(
    *,
    cohort: str | os.PathLike | None = None,
    service: str | None = None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Environment for the Voila server (its kernels inherit it).

    ``WORKBENCH_COHORT`` names the cohort (absolute), or ``WORKBENCH_SERVICE`` the data-access
    service the dashboards read through instead, as the user of the token in
    ``WORKBENCH_TOKEN`` (on JupyterHub, the server's own hub token); matplotlib draws
    off-screen (Agg); Python writes no bytecode into the dashboard folder; ``JUPYTER_PATH``
    starts with :data:`SHARE_DIR` (the project's Voila template).
    """
    env = dict(os.environ if base is None else base)
    if service is not None:
        if not isinstance(service, str) or not service.startswith(("http://", "https://")):
            raise InputError(
                f"--service must be the service's URL, such as http://127.0.0.1:8765, got "
                f"{service!r}"
            )
        if not (env.get("WORKBENCH_TOKEN") or env.get("JUPYTERHUB_API_TOKEN")):
            raise InputError(
                "the dashboards need your token for the service: set WORKBENCH_TOKEN (a data "
                "steward issues it with `workbench service token issue`)"
            )
        env["WORKBENCH_SERVICE"] = service
        env.pop("WORKBENCH_COHORT", None)
        cohort = None
    if cohort is not None:
        path = Path(cohort).expanduser().resolve()
        if not (path / "manifest.json").is_file():
            raise InputError(
                f"{path} is not a cohort folder (no manifest.json); generate one with "
                f"`workbench generate --preset teaching`"
            )
        env["WORKBENCH_COHORT"] = str(path)
    paths = [str(SHARE_DIR), *filter(None, env.get("JUPYTER_PATH", "").split(os.pathsep))]
    env["JUPYTER_PATH"] = os.pathsep.join(dict.fromkeys(paths))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def voila_command(
    target: str | os.PathLike,
    *,
    port: int,
    config_dir: str | os.PathLike,
    python: str | os.PathLike | None = None,
) -> list[str]:
    """The argv that serves ``target`` (one dashboard notebook, or a folder of them) with Voila.

    Voila reads ``config_dir/voila.json`` (:func:`write_voila_config`); the server listens
    on 127.0.0.1:``port`` only and opens no browser.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise InputError(f"port must be an integer in 1–65535, got {port!r}")
    config_dir = Path(config_dir).resolve()
    if not (config_dir / "voila.json").is_file():
        raise InputError(f"{config_dir} has no voila.json; write it with write_voila_config()")
    cmd = [
        str(python or sys.executable),
        "-m",
        "voila",
        str(Path(target).resolve()),
        f"--port={port}",
        "--no-browser",
        f"--Voila.config_file_paths={config_dir}",
    ]
    return cmd
