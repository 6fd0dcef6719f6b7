"""A class's learning content, and the links that hand it out.

``workbench hub init`` builds the **content folder**: the student edition of each course
(notebooks without solutions or instructor notes, and the sealed answers) and the Voila
dashboards, with an ``index.json`` naming every notebook a link may open. Every account can
read it (folders 0755, files 0644) and nobody but its owner can change it; it holds nothing
secret (answers are sealed, data stay behind the data-access service).

A trainer hands out one link per module (:func:`content_links`)::

    http://HUB/hub/user-redirect/workbench/open/genomic-medicine/07_acmg_classification.ipynb?ui=voila

JupyterHub signs the learner in, starts her server and sends her to
``/user/<her name>/workbench/open/…``, where the single-user extension
(:mod:`workbench.hub.extension`) calls :func:`place_copy`: the module is copied into her own
home the first time, her copy is kept afterwards (her work is hers; ``fresh=1`` moves it
aside and starts again), and she lands in it in Voila (code hidden) or JupyterLab. Dashboards
are applications, not work: their copy is refreshed at every visit.

This is nbgitpuller's job done without git: the content is a built edition that ships with
the workbench, not a repository every learner's account would have to reach.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from ..errors import InputError

__all__ = [
    "CONTENT_ENV",
    "INDEX",
    "build_content",
    "content_links",
    "load_index",
    "place_copy",
    "unreachable_by_others",
]

#: The content folder, in a single-user server's environment.
CONTENT_ENV = "WORKBENCH_CONTENT"
INDEX = "index.json"
#: Where dashboards go, in the content folder and in a member's home.
DASHBOARD_FOLDER = "dashboards"
#: Jupyter configuration of the members' servers (``JUPYTER_CONFIG_PATH``).
JUPYTER_DIR = "jupyter"
UIS = ("voila", "lab")
#: The single-user server extension that answers the links.
EXTENSION = "workbench.hub.extension"


def build_content(
    dest: str | os.PathLike,
    *,
    courses: list[str | os.PathLike],
    dashboards: str | os.PathLike,
    server_config: dict,
) -> Path:
    """Write the content folder ``dest`` (replacing it whole, never half): returns its index.

    Parameters
    ----------
    courses
        Course folders (``courses/<id>``); each becomes ``dest/<id>/``, its student edition.
    dashboards
        The folder of dashboard notebooks (``notebooks/dashboards``).
    server_config
        The members' single-user server configuration, written as
        ``dest/jupyter/jupyter_server_config.json`` (the hub points ``JUPYTER_CONFIG_PATH``
        there); the link extension is enabled beside it.
    """
    from ..teach.course import build_course, load_course

    dest = Path(dest).resolve()
    dashboards = Path(dashboards)
    if not any(dashboards.glob("*.ipynb")):
        raise InputError(f"no dashboards in {dashboards}; run from the repository root")
    index: dict = {"courses": {}, "dashboards": []}
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        for course in courses:
            info = load_course(course)
            with tempfile.TemporaryDirectory() as built:
                build_course(course, out=built, site=False)
                shutil.copytree(Path(built) / "student", work / info.id)
            index["courses"][info.id] = {
                "title": info.title,
                "modules": [{"file": m.file, "title": m.title} for m in info.modules],
            }
        (work / DASHBOARD_FOLDER).mkdir()
        for notebook in sorted(dashboards.glob("*.ipynb")):
            shutil.copy2(notebook, work / DASHBOARD_FOLDER / notebook.name)
            index["dashboards"].append(notebook.name)
        (work / JUPYTER_DIR / "jupyter_server_config.d").mkdir(parents=True)
        (work / JUPYTER_DIR / "jupyter_server_config.json").write_text(
            json.dumps(server_config, indent=1, sort_keys=True), encoding="utf-8"
        )
        # enabled the way packages enable theirs, so it adds to Voila's and JupyterLab's
        (work / JUPYTER_DIR / "jupyter_server_config.d" / "workbench.json").write_text(
            json.dumps({"ServerApp": {"jpserver_extensions": {EXTENSION: True}}}, indent=1),
            encoding="utf-8",
        )
        (work / INDEX).write_text(json.dumps(index, indent=1, sort_keys=True), encoding="utf-8")
        _open_to_read(work)
        old = None
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            dest.rename(old)
        work.rename(dest)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return dest / INDEX


def _open_to_read(root: Path) -> None:
    """Folders 0755 and files 0644: every account reads, only the owner writes."""
    for folder, _, files in os.walk(root):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)


def unreachable_by_others(path: str | os.PathLike) -> Path | None:
    """The first folder from ``/`` down to ``path`` that other accounts cannot enter, if any."""
    path = Path(path).resolve()
    for folder in [*reversed(path.parents), path]:
        if folder.exists() and not stat.S_IMODE(folder.stat().st_mode) & stat.S_IXOTH:
            return folder
    return None


def load_index(content: str | os.PathLike) -> dict:
    """The content folder's ``index.json``."""
    path = Path(content) / INDEX
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(
            f"{content} is not a class's content folder ({e}); `workbench hub init` builds it"
        ) from e


def _listed(index: dict) -> dict[str, str]:
    """Every notebook a link may open (content-relative POSIX path) and its kind."""
    listed = {
        f"{course}/{m['file']}": "module"
        for course, info in index["courses"].items()
        for m in info["modules"]
    }
    listed.update({f"{DASHBOARD_FOLDER}/{name}": "dashboard" for name in index["dashboards"]})
    return listed


def content_links(content: str | os.PathLike, base_url: str, *, ui: str = "voila") -> list:
    """One ``(title, url)`` per course module and dashboard, for the trainer to hand out."""
    if ui not in UIS:
        raise InputError(f"ui must be one of {', '.join(UIS)}, got {ui!r}")
    index = load_index(content)
    base = base_url.rstrip("/")
    links = []
    for course, info in index["courses"].items():
        for n, m in enumerate(info["modules"], 1):
            url = f"{base}/hub/user-redirect/workbench/open/{course}/{quote(m['file'])}?ui={ui}"
            links.append((f"{info['title']} — {n}. {m['title']}", url))
    for name in index["dashboards"]:
        url = f"{base}/hub/user-redirect/workbench/open/{DASHBOARD_FOLDER}/{quote(name)}?ui=voila"
        links.append((f"Dashboard: {name.removesuffix('.ipynb').replace('_', ' ')}", url))
    return links


def place_copy(
    content: str | os.PathLike, relpath: str, home: str | os.PathLike, *, fresh: bool = False
) -> Path:
    """Copy the notebook ``relpath`` of the content folder into ``home``; return the copy.

    A course module is copied with its course's sealed answers the first time; afterwards the
    member's own copy is kept (``fresh`` moves it aside, dated, and copies the module anew).
    A dashboard is copied at every call. Only notebooks the content's index names can be
    opened: anything else (another path, ``..``) is refused.

    Raises
    ------
    InputError
        ``relpath`` is not a module or dashboard of this class.
    """
    from ..io import atomic_file
    from ..teach.sealing import BUNDLE_NAME

    content, home = Path(content), Path(home)
    kind = _listed(load_index(content)).get(str(PurePosixPath(relpath)))
    if kind is None or ".." in PurePosixPath(relpath).parts:
        raise InputError(f"{relpath!r} is not a module or dashboard of this class")
    source = content / relpath
    target = home / relpath
    target.parent.mkdir(parents=True, exist_ok=True)
    if kind == "module":
        bundle = source.parent / BUNDLE_NAME
        with atomic_file(target.parent / BUNDLE_NAME, "wb") as f:
            f.write(bundle.read_bytes())
        if target.exists() and not fresh:
            return target
        if target.exists():
            stamp = _dt.datetime.now().strftime("%Y%m%dT%H%M%S")
            target.rename(target.with_name(f"{target.stem}.before-{stamp}{target.suffix}"))
    with atomic_file(target, "wb") as f:
        f.write(source.read_bytes())
    return target
