"""``workbench hub …``: host a class on one machine with JupyterHub.

    workbench hub init --state DIR --service-state SDIR [--port 8000] [--service-port 8765]
                       [--idle-timeout 3600] [--cull-every 300] [--content DIR]
                       [--courses courses] [--public-url URL]
    workbench hub links --state DIR [--ui voila|lab]  one link per module and dashboard
    workbench hub roster add NAME --state DIR [--role learner|trainer]
                             [--enrol-with STEWARD_TOKEN [--sandbox]]   prints the password once
    workbench hub roster import CLASS.csv --state DIR --passwords-out FILE
                                [--enrol-with STEWARD_TOKEN [--sandbox]]
    workbench hub roster reset NAME --state DIR       a new password (the old one stops working)
    workbench hub roster remove NAME --state DIR
    workbench hub roster list --state DIR             names and roles (never a password)
    workbench hub run --state DIR                     JupyterHub, its proxy and the service

Errors print one line (``error: …``) and exit non-zero: 2 for bad input, 1 otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from ..clierrors import friendly as _friendly

__all__ = ["hub"]

_state_option = click.option(
    "--state",
    "state",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The hub's state folder (made by `workbench hub init`).",
)


@click.group()
def hub():
    """Host a class: JupyterHub with a roster, and the data-access service beside it."""


@hub.command("init")
@_state_option
@click.option(
    "--service-state",
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="The data-access service's state (`workbench service init … --hub-api URL`).",
)
@click.option("--port", type=int, default=8000, show_default=True, help="The hub's port.")
@click.option("--service-port", type=int, default=8765, show_default=True)
@click.option(
    "--proxy",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="configurable-http-proxy [default: .hub/ from `make hub`, else on PATH].",
)
@click.option(
    "--idle-timeout",
    type=int,
    default=3600,
    show_default=True,
    help="Stop a member's server after this many seconds without activity.",
)
@click.option("--cull-every", type=int, default=300, show_default=True, help="Seconds.")
@click.option(
    "--content",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the class's content, readable by every account [default: STATE-content].",
)
@click.option(
    "--courses",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=Path("courses"),
    show_default=True,
    help="The courses whose student editions the class gets.",
)
@click.option(
    "--public-url",
    default=None,
    help="The address learners reach the hub at, for the links [default: http://127.0.0.1:PORT].",
)
@_friendly
def init_command(
    state, service_state, port, service_port, proxy, idle_timeout, cull_every, content, courses,
    public_url,
):  # fmt: skip
    """Set up the hub's state folder: configuration, the class's content, an empty roster."""
    from .config import hub_settings, write_hub_config

    config = write_hub_config(
        state, service_state=service_state, port=port, service_port=service_port, proxy=proxy,
        idle_timeout=idle_timeout, cull_every=cull_every, content=content, courses=courses,
        public_url=public_url,
    )  # fmt: skip
    click.echo(f"hub configured in {config}; add the class with `workbench hub roster add`")
    click.echo(f"content in {hub_settings(state)['content']}; links: `workbench hub links`")


@hub.command("links")
@_state_option
@click.option(
    "--ui",
    type=click.Choice(["voila", "lab"]),
    default="voila",
    show_default=True,
    help="Open modules in Voila (code hidden) or JupyterLab.",
)
@_friendly
def links_command(state, ui):
    """One link per course module and dashboard, to hand out to the class."""
    from .config import hub_settings
    from .content import content_links

    settings = hub_settings(state)
    for title, url in content_links(settings["content"], settings["public_url"], ui=ui):
        click.echo(f"{title}\t{url}")


@hub.group()
def roster():
    """Who may sign in: learners and trainers, each with a password of their own."""


def _enrol_options(command):
    """``--enrol-with``, ``--affiliation`` and ``--sandbox``, for adding members."""
    command = click.option(
        "--sandbox",
        is_flag=True,
        help="With --enrol-with: grant the teaching sandbox too (record-level reads of the "
        "synthetic cohort, which course module 1 needs), as the steward decides.",
    )(command)
    command = click.option("--affiliation", default="learner@class", show_default=True)(command)
    return click.option(
        "--enrol-with",
        "steward_token_file",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        default=None,
        help="A data steward's token file: also make each new member a principal of the "
        "registry, through the running service (a hub user the registry does not know reads "
        "nothing).",
    )(command)


@roster.command("add")
@click.argument("name")
@_state_option
@click.option("--role", type=click.Choice(["learner", "trainer"]), default="learner")
@_enrol_options
@_friendly
def roster_add(name, state, role, steward_token_file, affiliation, sandbox):
    """Add NAME to the class; prints their password once (it is kept hashed)."""
    from .roster import Roster

    _check_sandbox(sandbox, steward_token_file)
    _not_someone_else(state, [(name, role)])
    password = Roster(_existing(state)).add(name, role=role)
    click.echo(f"{name} ({role}) added; password, shown once: {password}")
    _join_registry(state, name, role, steward_token_file, affiliation, sandbox)


#: The registry role a roster role may already hold (the hub name *is* the principal's id).
_REGISTRY_ROLE = {"learner": "student", "trainer": "trainer"}


def _not_someone_else(state: Path, members) -> None:
    """Refuse a roster name that is a registry principal of another kind.

    The service takes a hub user's name as the principal's id, so a learner added as
    ``dr.jensen`` would read as that clinician. A name new to the registry, or one already of
    the roster role's kind, is fine.
    """
    import contextlib

    from ..access.policy import load_principal
    from ..access.schema import connect
    from ..errors import InputError
    from ..service import open_state
    from .config import hub_settings

    registry = open_state(hub_settings(state)["service_state"]).cohort_path / "registry.sqlite"
    with contextlib.closing(connect(registry, readonly=True)) as conn:
        for name, role in members:
            principal = load_principal(conn, name)
            if principal is not None and principal.role != _REGISTRY_ROLE.get(role, role):
                raise InputError(
                    f"{name} is a {principal.role} in the registry: a {role} signing in as "
                    f"{name} would act as them; choose another name for the roster"
                )


def _check_sandbox(sandbox: bool, steward_token_file) -> None:
    from ..errors import InputError

    if sandbox and steward_token_file is None:
        raise InputError("--sandbox is a steward's grant: give the steward's --enrol-with token")


def _join_registry(state, name, role, steward_token_file, affiliation, sandbox) -> None:
    """With a steward's token: enrol the new member, and grant the sandbox if asked."""
    if steward_token_file is None:
        return
    click.echo(_enrol(state, name, role, steward_token_file, affiliation))
    if sandbox:
        from ..service import open_state
        from .config import hub_settings

        open_state(hub_settings(state)["service_state"]).entitle(name, "teaching.sandbox")
        click.echo(f"teaching.sandbox granted to {name}")


@roster.command("import")
@click.argument("csv_file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@_state_option
@click.option(
    "--passwords-out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A new file for name,role,password (0600), to hand the passwords out.",
)
@_enrol_options
@_friendly
def roster_import(csv_file, state, passwords_out, steward_token_file, affiliation, sandbox):
    """Add everyone of CSV_FILE (columns name,role) at once, or no one."""
    from ..errors import InputError
    from ..io import atomic_file
    from .roster import Roster

    if passwords_out.exists():
        raise InputError(f"{passwords_out} exists; give a new file for the passwords")
    _check_sandbox(sandbox, steward_token_file)
    roster = Roster(_existing(state))
    _not_someone_else(state, roster.read_csv(csv_file))
    added = roster.import_csv(csv_file)
    with atomic_file(passwords_out, "w", encoding="utf-8", newline="") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write("name,role,password\n")
        f.writelines(f"{name},{role},{password}\n" for name, role, password in added)
    click.echo(f"{len(added)} added; their passwords are in {passwords_out} (0600)")
    for name, role, _ in added:
        _join_registry(state, name, role, steward_token_file, affiliation, sandbox)


@roster.command("reset")
@click.argument("name")
@_state_option
@_friendly
def roster_reset(name, state):
    """Give NAME a new password (printed once); the old one stops working."""
    from .roster import Roster

    click.echo(f"{name}'s new password, shown once: {Roster(_existing(state)).reset(name)}")


@roster.command("remove")
@click.argument("name")
@_state_option
@_friendly
def roster_remove(name, state):
    """Take NAME off the roster: they cannot sign in again."""
    from .roster import Roster

    Roster(_existing(state)).remove(name)
    click.echo(f"{name} removed from the roster")


@roster.command("list")
@_state_option
@_friendly
def roster_list(state):
    """Names and roles (never a password)."""
    from .roster import Roster

    for name, role in Roster(_existing(state)).members().items():
        click.echo(f"{name}\t{role}")


@hub.command("run")
@_state_option
@_friendly
def run_command(state):
    """Run JupyterHub for the class (it starts its proxy and the data-access service)."""
    from .config import CONFIG_FILE, hub_settings

    settings = hub_settings(state)
    exe = str(Path(settings["python"]).parent / "jupyterhub")
    config = str(Path(state).resolve() / CONFIG_FILE)
    os.chdir(state)  # JupyterHub writes nothing else, but a stray file lands in the state
    os.execv(exe, [exe, "-f", config])


def _existing(state: Path) -> Path:
    from .config import hub_settings

    hub_settings(state)  # refuses a folder `workbench hub init` did not make
    return state


def _enrol(state: Path, name: str, role: str, steward_token_file: Path, affiliation: str) -> str:
    """Make ``name`` a principal of the registry, as a data steward, through the service.

    The change is the steward's audited call (``add_principal``), sealed by the service: an
    edit of the registry file would stop the service instead. A learner is a ``student`` who
    accepted the teaching terms on enrolment, a trainer a ``trainer``.
    """
    from ..access.policy import Stewardship
    from ..errors import InputError
    from ..service.client import connect
    from .config import hub_settings

    url = hub_settings(state)["service_url"]
    token = steward_token_file.read_text(encoding="utf-8").strip()
    steward = connect(url, token=token).session(purpose=Stewardship())
    try:
        steward.add_principal(
            user_id=name,
            display_name=name,
            role={"learner": "student", "trainer": "trainer"}[role],
            affiliation=affiliation,
            accepted_terms="workbench-teaching-terms-v1",
            accepted_on=steward.today,
        )
    except InputError as e:
        if "is a principal already" not in str(e):
            raise
        return f"{name} is a principal of the registry already"
    finally:
        steward.close()
    return f"{name} enrolled in the registry as a {role} (the steward's audited change)"
