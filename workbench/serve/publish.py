"""Publish a dashboard: a self-contained bundle that starts Voila, or a static HTML snapshot.

:func:`publish_bundle` writes a folder that runs anywhere with Python 3.11 and the package
registry (or an existing environment)::

    <out>/
      <dashboard>.ipynb       the notebook (outputs stripped)
      voila.json              the project's Voila configuration (workbench.serve.voila_config)
      requirements.lock       the exact versions the project is tested with
      src/workbench/          the workbench package (no install step; on PYTHONPATH)
      cohort/                 a copy of the cohort (--copy-cohort), else start.sh names it:
                              never its keyholder/ (the hospital side), and truth/ (the
                              answers) only with --with-answers
      start.sh                creates .venv from the lock file when missing, starts Voila
      jupyterhub_service.py   a snippet registering the dashboard as a JupyterHub service
      README.md

:func:`static_snapshot` executes the notebook (nbclient, widget state stored), replaces
every widget view by a static HTML rendering of its state (:func:`widget_html`) and writes
one HTML page with the widget state embedded as data — viewable from ``file://`` with no
server and no network (nbconvert's own widget embedding loads its renderer from a CDN).
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import os
import shlex
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path

from ..errors import InputError, WorkbenchError
from ..io import atomic_file
from . import (
    HEAVY_DASHBOARDS,
    dashboard_path,
    serve_environment,
    voila_config,
    write_voila_config,
)

__all__ = [
    "WIDGET_STATE_MIME",
    "WIDGET_VIEW_MIME",
    "publish_bundle",
    "static_snapshot",
    "widget_html",
]

WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"
_RECORD_MIME = "application/vnd.workbench.record+json"
_PACKAGE = Path(__file__).resolve().parents[1]
#: What a bundle's copy of a cohort holds (an allowlist: a new part stays out until named).
#: ``service/`` holds the cooperative mode's keys, which a seeded cohort re-derives anyway;
#: a data-access service's keys live in its own state folder, never in a cohort.
COHORT_PARTS = (
    "manifest.json",
    "reference",
    "genotypes.vcz",
    "genotypes.vcf.gz",
    "genotypes.vcf.gz.tbi",
    "pedigree.ped",
    "phenopackets",
    "registry.sqlite",
    "knowledge",
    "reads",
    "service",
)
#: Dashboards that show the planted truth next to results.
NEEDS_ANSWERS = ("pipeline_qc",)


def _e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _empty_folder(out: str | os.PathLike) -> Path:
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"{out} exists and is not an empty folder; choose a new --out folder")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _strip(nb) -> None:
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None


# -- bundle -------------------------------------------------------------------------------------
_START = """#!/bin/sh
# Start the {name} dashboard with Voila on http://127.0.0.1:$PORT (default 8866).
# First run: creates .venv here from requirements.lock (needs the package registry), unless
# WORKBENCH_PYTHON names a Python that already has the locked packages.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
PORT="${{PORT:-8866}}"
if [ -n "${{WORKBENCH_PYTHON:-}}" ]; then
  py="$WORKBENCH_PYTHON"
else
  if [ ! -x .venv/bin/python ] || [ ! -f .venv/.installed ]; then
    "${{PYTHON:-python3}}" -m venv .venv
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
    touch .venv/.installed
  fi
  py="$here/.venv/bin/python"
fi
default_cohort={cohort}
export WORKBENCH_COHORT="${{WORKBENCH_COHORT:-$default_cohort}}"
export PYTHONPATH="$here/src${{PYTHONPATH:+:$PYTHONPATH}}"
export JUPYTER_PATH="$here/src/workbench/serve/share${{JUPYTER_PATH:+:$JUPYTER_PATH}}"
export MPLBACKEND=Agg PYTHONDONTWRITEBYTECODE=1
exec "$py" -m voila "$here"/{notebook} --port="$PORT" --no-browser \\
  --Voila.config_file_paths="$here" "$@"
"""

_HUB = '''"""Register the {name} dashboard as a JupyterHub service: paste into jupyterhub_config.py.

The hub starts the bundle's start script as a managed service under /services/{name}/;
users reach it through the hub (log-in required). Adjust the bundle path and port.
"""

c.JupyterHub.services = [  # noqa: F821 (c is the hub's config object)
    {{
        "name": "{name}",
        "url": "http://127.0.0.1:{port}",
        "command": [
            {start},
            "--Voila.base_url=/services/{name}/",
            "--Voila.tornado_settings={{'headers': {{'Content-Security-Policy': "
            "\\"frame-ancestors 'self'\\"}}}}",
        ],
        "environment": {{"PORT": "{port}"}},
        "oauth_no_confirm": True,
    }}
]
c.JupyterHub.load_roles = [  # noqa: F821
    {{"name": "user", "scopes": ["self", "access:services!service={name}"]}}
]
'''

_README = """# {name} (Clinical Genomics Workbench dashboard)

Start it: `./start.sh` (first run creates `.venv` from `requirements.lock`), then open
http://127.0.0.1:8866/. `PORT=9000 ./start.sh` picks another port; `WORKBENCH_PYTHON=...`
uses an existing environment with the locked packages; `WORKBENCH_COHORT=...` another cohort.

Cohort: {cohort_note}. The data are synthetic.

JupyterHub: see `jupyterhub_service.py`. Voila settings: `voila.json` (pre-heated kernels,
idle kernels culled after 15 minutes, no tracebacks, loopback only, no CDN).
"""


def publish_bundle(
    dashboard: str,
    *,
    out: str | os.PathLike,
    root: str | os.PathLike = ".",
    cohort: str | os.PathLike | None = None,
    copy_cohort: bool = False,
    with_answers: bool = False,
    port: int = 8866,
) -> Path:
    """Write a self-contained folder that serves one dashboard (see the module docstring).

    Parameters
    ----------
    dashboard
        A dashboard stem (``"case_review"``) or a notebook path.
    out
        A new or empty folder.
    root
        The repository root (``notebooks/dashboards/``, ``requirements.lock``).
    cohort
        The cohort the dashboard opens (default ``<root>/datasets/synthetic/teaching``).
    copy_cohort
        Copy the cohort into ``out/cohort`` (self-contained), else refer to its absolute path.
        The copy never holds ``keyholder/`` (national ids, the hospital side).
    with_answers
        Copy ``truth/`` too (planted variants, case answers: instructor material).
    port
        The port the JupyterHub snippet gives the service.

    Returns
    -------
    Path
        ``out``.
    """
    import nbformat

    notebook = dashboard_path(dashboard, root=root)
    lock = Path(root) / "requirements.lock"
    if not lock.is_file():
        raise InputError(f"no requirements.lock in {Path(root).resolve()}; run from the repo root")
    cohort = Path(cohort if cohort is not None else Path(root) / "datasets/synthetic/teaching")
    serve_environment(cohort=cohort, base={})  # checks it is a cohort folder
    if with_answers and not copy_cohort:
        raise InputError("--with-answers copies truth/ into the bundle: it needs --copy-cohort")
    if copy_cohort and not with_answers and notebook.stem in NEEDS_ANSWERS:
        raise InputError(
            f"{notebook.stem} compares results with the planted truth (instructor material); "
            "add --with-answers to copy truth/, or leave out --copy-cohort"
        )
    out = _empty_folder(out).resolve()
    name = notebook.stem
    nb = nbformat.read(notebook, as_version=4)
    _strip(nb)
    nbformat.write(nb, out / f"{name}.ipynb")
    preheat = [name] if name in HEAVY_DASHBOARDS else []
    write_voila_config(out, voila_config(preheat=preheat))
    shutil.copy2(lock, out / "requirements.lock")
    shutil.copytree(
        _PACKAGE,
        out / "src" / "workbench",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    if copy_cohort:
        _copy_cohort(cohort, out / "cohort", with_answers=with_answers)
        cohort_ref, note = '"$here/cohort"', "a copy in `cohort/`"
        if not with_answers:
            note += " without the answers (`truth/`)"
    else:
        cohort_ref, note = (
            shlex.quote(str(cohort.resolve())),
            f"referred to at `{cohort.resolve()}`",
        )
    start = out / "start.sh"
    start.write_text(
        _START.format(name=name, cohort=cohort_ref, notebook=shlex.quote(f"{name}.ipynb")),
        encoding="utf-8",
    )
    start.chmod(0o755)
    (out / "jupyterhub_service.py").write_text(
        _HUB.format(name=name, port=port, start=json.dumps(str(out / "start.sh"))),
        encoding="utf-8",
    )
    (out / "README.md").write_text(_README.format(name=name, cohort_note=note), encoding="utf-8")
    return out


def _copy_cohort(cohort: Path, dest: Path, *, with_answers: bool) -> None:
    """Copy a cohort folder by allowlist: the parts a dashboard reads, never the hospital side."""
    dest.mkdir(parents=True)
    allowed = set(COHORT_PARTS) | ({"truth"} if with_answers else set())
    for part in sorted(allowed):
        source = cohort / part
        if source.is_symlink():
            raise InputError(f"{source} is a symbolic link; a cohort's files are its own")
        if source.is_dir():
            shutil.copytree(
                source, dest / part, ignore=shutil.ignore_patterns("*.lock", "*-wal", "*-shm")
            )
        elif source.is_file():
            shutil.copy2(source, dest / part)


# -- static snapshot ------------------------------------------------------------------------------
def _buffers(model: Mapping) -> dict[str, bytes]:
    out = {}
    for b in model.get("buffers", []) or []:
        path = ".".join(str(p) for p in b.get("path", []))
        data = b.get("data", "")
        out[path] = base64.b64decode(data) if b.get("encoding") == "base64" else data.encode()
    return out


def _label(state: Mapping) -> str:
    d = state.get("description") or ""
    return f"<span class='wb-label'>{_e(d)}</span> " if d else ""


def widget_html(state: Mapping, model_id: str, *, _depth: int = 0) -> str:
    """Static HTML for one widget of a stored widget state (and its children).

    ``state`` is the ``"state"`` mapping of ``application/vnd.jupyter.widget-state+json``.
    Controls are shown disabled at their stored values; images are inlined as data URLs.
    Unknown widgets become a short note, never an error.
    """
    model = state.get(model_id)
    if model is None or _depth > 50:
        return "<div class='wb-widget'>(widget not saved)</div>"
    name = model.get("model_name", "")
    s = model.get("state", {})
    if name in ("VBoxModel", "HBoxModel", "BoxModel", "GridBoxModel"):
        direction = "row" if name == "HBoxModel" else "column"
        children = "".join(
            widget_html(state, c.removeprefix("IPY_MODEL_"), _depth=_depth + 1)
            for c in s.get("children", [])
        )
        return (
            f"<div class='wb-box' style='display:flex;flex-direction:{direction};"
            f"gap:6px;flex-wrap:wrap'>{children}</div>"
        )
    if name in ("HTMLModel", "HTMLMathModel"):
        return f"<div class='wb-html'>{_label(s)}{s.get('value', '')}</div>"
    if name == "LabelModel":
        return f"<div class='wb-html'>{_e(s.get('value', ''))}</div>"
    if name == "ImageModel":
        data = _buffers(model).get("value", b"")
        fmt = s.get("format", "png")
        width = (state.get(s.get("layout", "").removeprefix("IPY_MODEL_"), {}).get("state", {})
                 .get("width")) or "auto"  # fmt: skip
        src = f"data:image/{fmt};base64,{base64.b64encode(data).decode()}"
        return f"<img class='wb-image' alt='plot' style='width:{_e(width)}' src='{src}'/>"
    if name in ("DropdownModel", "SelectModel", "RadioButtonsModel", "ToggleButtonsModel"):
        labels, index = s.get("_options_labels", []), s.get("index")
        options = "".join(
            f"<option{' selected' if i == index else ''}>{_e(v)}</option>"
            for i, v in enumerate(labels)
        )
        return f"<label class='wb-control'>{_label(s)}<select disabled>{options}</select></label>"
    if name == "CheckboxModel":
        checked = " checked" if s.get("value") else ""
        return (
            f"<label class='wb-control'><input type='checkbox' disabled{checked}/> "
            f"{_e(s.get('description', ''))}</label>"
        )
    if name in ("TextModel", "TextareaModel", "IntTextModel", "FloatTextModel"):
        return (
            f"<label class='wb-control'>{_label(s)}<input type='text' disabled "
            f"value='{_e(s.get('value', ''))}'/></label>"
        )
    if name == "ButtonModel":
        return f"<button class='wb-control' disabled>{_e(s.get('description', ''))}</button>"
    if name == "OutputModel":
        texts = [
            o.get("text", "") for o in s.get("outputs", []) if o.get("output_type") == "stream"
        ]
        return f"<pre class='wb-output'>{_e(''.join(texts))}</pre>" if any(texts) else ""
    return f"<div class='wb-widget'>({_e(name.removesuffix('Model'))} widget)</div>"


_SNAPSHOT_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{#- nbconvert's lab page with nothing loaded from a CDN: no require.js, MathJax, Mermaid or
    widget renderer; the widget state is embedded as inert data. -#}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block jupyter_widgets %}
<script type="application/vnd.jupyter.widget-state+json">{{ resources.widget_state }}</script>
{% endblock jupyter_widgets %}
{% block extra_css %}
<style>
.wb-table { border-collapse: collapse; margin: 0.5em 0; font-size: 12px; }
.wb-table caption { text-align: left; font-weight: bold; }
.wb-table th, .wb-table td { border: 1px solid #ccc; padding: 2px 6px; text-align: left; }
.wb-control { margin: 2px 8px 2px 0; } .wb-label { font-weight: bold; }
</style>
{% endblock extra_css %}
"""


@contextlib.contextmanager
def _environ(env: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def static_snapshot(
    dashboard: str,
    *,
    out: str | os.PathLike,
    root: str | os.PathLike = ".",
    cohort: str | os.PathLike | None = None,
    timeout: float = 600,
) -> Path:
    """Execute a dashboard and write it as one self-contained HTML page.

    Parameters
    ----------
    dashboard
        A dashboard stem or a notebook path.
    out
        A new or empty folder; the page is ``out/<dashboard>.html``.
    root, cohort
        As :func:`publish_bundle`.
    timeout
        Seconds one cell may run.

    Returns
    -------
    Path
        The HTML file.

    Raises
    ------
    WorkbenchError
        A cell failed (the message names it).
    """
    import nbformat
    from jinja2 import DictLoader
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from nbconvert import HTMLExporter

    notebook = dashboard_path(dashboard, root=root)
    cohort = Path(cohort if cohort is not None else Path(root) / "datasets/synthetic/teaching")
    env = serve_environment(cohort=cohort, base={})
    out = _empty_folder(out)
    nb = nbformat.read(notebook, as_version=4)
    _strip(nb)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        store_widget_state=True,
        resources={"metadata": {"path": str(notebook.parent)}},
    )
    try:
        with _environ(env):
            client.execute()
    except CellExecutionError as e:
        first = str(e).strip().splitlines()
        raise WorkbenchError(
            f"{notebook.name} failed while making the snapshot: {first[-1] if first else e}"
        ) from e
    widget_state = nb.metadata.pop("widgets", {}).get(WIDGET_STATE_MIME, {"state": {}})
    state = widget_state.get("state", {})
    for cell in nb.cells:
        outputs = []
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if _RECORD_MIME in data:
                continue  # values for the regression harness, not for readers
            if WIDGET_VIEW_MIME in data:
                model_id = data[WIDGET_VIEW_MIME].get("model_id", "")
                output["data"] = {"text/html": widget_html(state, model_id)}
            outputs.append(output)
        cell.outputs = outputs if cell.cell_type == "code" else cell.get("outputs", [])
    exporter = HTMLExporter(
        extra_loaders=[DictLoader({"workbench_snapshot.j2": _SNAPSHOT_TEMPLATE})],
        template_file="workbench_snapshot.j2",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    payload = json.dumps(widget_state, sort_keys=True).replace("</", "<\\/")
    body, _ = exporter.from_notebook_node(nb, resources={"widget_state": payload})
    path = out / f"{notebook.stem}.html"
    with atomic_file(path, "w") as f:
        f.write(body)
    return path
