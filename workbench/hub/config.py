"""A class's JupyterHub, configured from the hub's state folder.

``workbench hub init`` writes ``hub.json`` (the settings below) and a ``jupyterhub_config.py``
that only calls :func:`configure`; ``workbench hub run`` starts ``jupyterhub`` with it. The hub:

* listens on 127.0.0.1 only (a real deployment puts TLS and its own domain in front);
* keeps its database, cookie secret and proxy token in the state folder (0700);
* signs in the roster's members (:class:`~workbench.hub.auth.RosterAuthenticator`) with the
  hub roles ``learner`` and ``trainer``;
* starts the data-access service as a hub-managed service, which knows each user by their hub
  identity (it was set up with ``--hub-api`` pointing at this hub);
* stops servers idle for ``idle_timeout`` seconds (``jupyterhub-idle-culler``, a hub-managed
  service whose role may only list users and stop their servers), so that a class fits on
  one machine; a learner's files stay, and their next visit starts a fresh server;
* starts each member's single-user server with ``LocalProcessSpawner`` under their own OS
  account when the hub runs as root, so one learner's kernel cannot read another's files nor
  the cohort's (a member's first sign-in creates the account); without
  root, ``SimpleLocalProcessSpawner`` runs every server as the hub's own account in a home
  folder of its own under the state folder, which is no isolation (a laptop rehearsal only).
  A Python every account can run is the machine administrator's to provide.
  Each server gets ``WORKBENCH_SERVICE``, so notebooks, courses and exercise widgets use the
  service as the member's hub identity.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from ..errors import InputError
from ..serve import DASHBOARD_DIR, OFFLINE_LAB_CONFIG, serve_environment, voila_config
from .content import CONTENT_ENV, JUPYTER_DIR

__all__ = [
    "HUB_SETTINGS",
    "configure",
    "hub_settings",
    "member_server_config",
    "write_hub_config",
]

HUB_SETTINGS = "hub.json"
CONFIG_FILE = "jupyterhub_config.py"
SERVICE_NAME = "workbench-data"
#: Seconds a member's server may take to start and answer (a whole class starting at once).
SPAWN_TIMEOUT = 300
CULLER_NAME = "idle-culler"
#: What the idle culler may do: see users' servers and their activity, and stop them.
CULLER_SCOPES = ("list:users", "read:users:activity", "read:servers", "delete:servers")
#: The hub roles a roster role becomes (``manage_roles``): learners act as themselves only;
#: trainers also see the class (users, their servers' activity) and may start and stop
#: learners' servers — never open them.
HUB_ROLES = (
    {"name": "learner", "scopes": ["self"]},
    {
        "name": "trainer",
        "scopes": ["self", "list:users", "read:users", "read:servers", "admin:servers", "admin-ui"],
    },
)


def hub_settings(state: str | os.PathLike) -> dict:
    """The settings ``workbench hub init`` wrote into ``state``."""
    path = Path(state) / HUB_SETTINGS
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{state} is not a hub's state folder; run `workbench hub init`") from None
    except (OSError, ValueError) as e:
        raise InputError(f"{path} is unreadable ({e}); run `workbench hub init` again") from e


def write_hub_config(
    state: str | os.PathLike,
    *,
    service_state: str | os.PathLike,
    port: int = 8000,
    service_port: int = 8765,
    proxy: str | os.PathLike | None = None,
    idle_timeout: int = 3600,
    cull_every: int = 300,
    content: str | os.PathLike | None = None,
    courses: str | os.PathLike = "courses",
    dashboards: str | os.PathLike = DASHBOARD_DIR,
    public_url: str | None = None,
) -> Path:
    """Set up the hub's state folder for a class; returns the ``jupyterhub_config.py``.

    ``content`` (default: ``<state>-content`` beside the state folder) receives the class's
    content (:func:`~workbench.hub.content.build_content`): the student edition of every
    course under ``courses`` and the dashboards of ``dashboards``. ``public_url`` is the
    address learners reach the hub at, for the links (default ``http://127.0.0.1:<port>``).

    Raises
    ------
    InputError
        No configurable-http-proxy found, a port out of range, a service state that is not set
        up to ask this hub who its users are, a content folder the members' accounts could not
        read, or a state folder set up already.
    """
    from ..service import open_state
    from .content import build_content

    state = Path(state).resolve()
    content = Path(content).resolve() if content else state.with_name(f"{state.name}-content")
    if (state / HUB_SETTINGS).exists():
        raise InputError(f"{state} is set up already; use another folder or remove it first")
    for name, value in (("port", port), ("service_port", service_port)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
            raise InputError(f"{name} must be a port number (1–65535), got {value!r}")
    for name, value in (("idle_timeout", idle_timeout), ("cull_every", cull_every)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{name} must be a number of seconds (at least 1), got {value!r}")
    proxy_path = _find_proxy(proxy)
    course_dirs = sorted(p.parent for p in Path(courses).glob("*/course.yml"))
    if not course_dirs:
        raise InputError(f"no courses in {courses}; run from the repository root or pass --courses")
    if os.geteuid() == 0:  # members' servers will run as their own accounts
        _check_members_can_reach(content)
    service = open_state(service_state)
    expected = f"http://127.0.0.1:{port}/hub/api"
    if service.hub_api_url != expected:
        raise InputError(
            f"the data-access service at {service_state} does not ask this hub who its users "
            f"are; set it up with `workbench service init … --hub-api {expected}`"
        )
    settings = {
        "port": port,
        "hub_port": _free_port(),
        "proxy_api_port": _free_port(),
        "proxy": str(proxy_path),
        "service_state": str(Path(service_state).resolve()),
        "service_url": f"http://127.0.0.1:{service_port}",
        "service_port": service_port,
        "python": sys.executable,
        "idle_timeout": idle_timeout,
        "cull_every": cull_every,
        "content": str(content),
        "public_url": (public_url or f"http://127.0.0.1:{port}").rstrip("/"),
    }
    build_content(content, courses=course_dirs, dashboards=dashboards,
                  server_config=member_server_config())  # fmt: skip
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(state, 0o700)
    (state / HUB_SETTINGS).write_text(json.dumps(settings, indent=1), encoding="utf-8")
    config = state / CONFIG_FILE
    config.write_text(
        "# Written by `workbench hub init`; the settings are in hub.json beside it.\n"
        "from workbench.hub.config import configure\n\n"
        f"configure(c, {str(state)!r})\n",
        encoding="utf-8",
    )
    return config


def configure(c, state: str | os.PathLike) -> None:
    """Fill JupyterHub's config object ``c`` for the class whose state folder is ``state``."""
    state = Path(state)
    s = hub_settings(state)
    bin_dir = Path(s["python"]).parent
    c.JupyterHub.ip = "127.0.0.1"
    c.JupyterHub.port = s["port"]
    c.JupyterHub.hub_ip = "127.0.0.1"
    c.JupyterHub.hub_port = s["hub_port"]
    c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
    c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
    c.JupyterHub.cleanup_servers = True
    c.ConfigurableHTTPProxy.command = [s["proxy"]]
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{s['proxy_api_port']}"
    c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
    c.JupyterHub.authenticator_class = "workbench.hub.auth.RosterAuthenticator"
    c.RosterAuthenticator.state = str(state)
    c.Authenticator.manage_roles = True
    c.JupyterHub.load_roles = [
        *(dict(r) for r in HUB_ROLES),
        {"name": "idle-culler", "scopes": list(CULLER_SCOPES), "services": [CULLER_NAME]},
    ]
    service_args = ["--state", s["service_state"], "--port", str(s["service_port"])]
    c.JupyterHub.services = [
        {
            "name": SERVICE_NAME,
            "url": s["service_url"],
            "command": [str(bin_dir / "workbench"), "service", "run", *service_args],
        },
        {
            "name": CULLER_NAME,
            "command": [
                s["python"], "-m", "jupyterhub_idle_culler",
                f"--timeout={s['idle_timeout']}", f"--cull-every={s['cull_every']}",
            ],
        },
    ]  # fmt: skip
    if os.geteuid() == 0:
        c.JupyterHub.spawner_class = "jupyterhub.spawner.LocalProcessSpawner"
        c.RosterAuthenticator.create_system_users = True
        c.RosterAuthenticator.add_user_cmd = ["useradd", "--create-home", "--shell", "/bin/bash"]
    else:
        c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
        c.SimpleLocalProcessSpawner.home_dir_template = str(state / "homes" / "{username}")
    c.Spawner.cmd = [str(bin_dir / "jupyterhub-singleuser")]
    content = Path(s["content"])
    # as `workbench serve` runs Voila (the project's template, no bytecode written), and
    # the service, the content and its Jupyter configuration
    c.Spawner.environment = {
        **serve_environment(base={}),
        "WORKBENCH_SERVICE": s["service_url"],
        CONTENT_ENV: str(content),
        "JUPYTER_CONFIG_PATH": str(content / JUPYTER_DIR),
        "MPLBACKEND": "Agg",
    }
    c.Spawner.default_url = "/lab"
    # A class signs in at once: 25 servers starting together on 2 cores take about a minute
    # each (benchmarks/bench_class.py), past JupyterHub's defaults (30 s to answer, 60 s to start)
    c.Spawner.http_timeout = SPAWN_TIMEOUT
    c.Spawner.start_timeout = SPAWN_TIMEOUT


def member_server_config() -> dict:
    """Jupyter configuration of every member's server: the project's Voila settings (code
    hidden, no tracebacks, no pre-heated pools, idle kernels shut down) and JupyterLab with
    its calls beyond the machine off."""
    config = {k: v for k, v in voila_config(preheat=()).items() if k != "Voila"}
    config.pop("VoilaKernelManager")  # Voila inside a server uses the server's kernels
    config["LabApp"] = dict(OFFLINE_LAB_CONFIG)
    return config


def _check_members_can_reach(content: Path) -> None:
    """Members' accounts must run this Python and the workbench, and read the content."""
    from .. import __file__ as package
    from .content import unreachable_by_others

    python = Path(sys.executable).resolve()
    for what, path, fix in (
        ("run the workbench's Python", python,
         "install the workbench with a Python every account can run (such as a venv in "
         "/opt/workbench), or let others enter that folder (chmod o+x)"),
        ("import the workbench", Path(package).resolve().parent,
         "install it where every account can read it"),
        ("read the content", content.parent,
         "pass --content a folder under one every account may enter (such as /srv/workbench)"),
    ):  # fmt: skip
        closed = unreachable_by_others(path)
        if closed is not None:
            raise InputError(
                f"learners' accounts could not {what} ({path}): {closed} is closed to other "
                f"accounts; {fix}"
            )


def _find_proxy(proxy) -> Path:
    candidates = (
        [Path(proxy)]
        if proxy
        else [
            Path.cwd() / ".hub" / "node_modules" / ".bin" / "configurable-http-proxy",
            Path(shutil.which("configurable-http-proxy") or "configurable-http-proxy"),
        ]
    )
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate.resolve()
    raise InputError(
        "no configurable-http-proxy found (JupyterHub's proxy); `make hub` installs it from "
        "the npm registry into .hub/, or pass --proxy PATH"
    )


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
