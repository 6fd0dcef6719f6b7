"""``workbench service …``: set up, run and administer the data-access service.

    workbench service init COHORT --state DIR      keys and token store, outside the cohort
    workbench service token issue USER --state DIR  prints a new token once
    workbench service token list --state DIR        ids, users, expiry (never the tokens)
    workbench service token revoke ID --state DIR
    workbench service entitle USER teaching.sandbox --state DIR [--revoke]
    workbench service seal --state DIR --steward USER --note TEXT   after an outside change
    workbench service witness-check COHORT --witness FILE --public-key HEX
    workbench service run --state DIR [--host 127.0.0.1] [--port 8765]
    workbench keyholder init COHORT --state KDIR --token-out FILE [--max-per-hour 30]
    workbench keyholder run --state KDIR [--host 127.0.0.1] [--port 8766]

Errors print one line (``error: …``) and exit non-zero: 2 for bad input, 1 otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from ..clierrors import friendly as _friendly

__all__ = ["keyholder", "service"]

_state_option = click.option(
    "--state",
    "state",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The service's state folder (made by `workbench service init`).",
)


@click.group()
def service():
    """The data-access service: the one process that reads a cohort's protected files."""


@service.command("init")
@click.argument("cohort", type=click.Path(file_okay=False, path_type=Path))
@_state_option
@click.option(
    "--disclosure-profile",
    type=click.Choice(["genomics-england", "all-of-us", "opensafely"]),
    default="genomics-england",
    show_default=True,
    help="Output rules: <5 masked; 1-20 hidden; <=7 redacted then rounded to 5.",
)
@click.option(
    "--witness",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A file on other storage to append every signed checkpoint to.",
)
@click.option(
    "--hub-api",
    default=None,
    help="A JupyterHub's API URL (http://127.0.0.1:8081/hub/api): its users sign in as themselves.",
)
@click.option(
    "--keyholder",
    "keyholder_url",
    default=None,
    help="The keyholder's URL (http://127.0.0.1:8766): it re-identifies, not the service.",
)
@click.option(
    "--keyholder-token-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="The file `workbench keyholder init --token-out` wrote.",
)
@_friendly
def init_command(
    cohort: Path,
    state: Path,
    disclosure_profile: str,
    witness: Path | None,
    hub_api: str | None,
    keyholder_url: str | None,
    keyholder_token_file: Path | None,
):
    """Create the service's state folder for COHORT: fresh keys and an empty token store."""
    from .state import init_state

    token = None
    if keyholder_token_file is not None:
        token = keyholder_token_file.read_text(encoding="utf-8").strip()
    made = init_state(
        state,
        cohort,
        disclosure=disclosure_profile,
        witness=witness,
        hub_api_url=hub_api,
        keyholder_url=keyholder_url,
        keyholder_token=token,
    )
    click.echo(f"service state for {cohort} created in {state} (keep it private: 0700)")
    click.echo(f"checkpoint public key (for `workbench service witness-check`): {made.public_key}")


@service.group()
def token():
    """Issue, list and revoke the tokens users sign in with."""


@token.command("issue")
@click.argument("user")
@_state_option
@click.option("--days", default=30, show_default=True, type=int, help="Days until it expires.")
@click.option("--note", default="", help="What the token is for (one line).")
@_friendly
def token_issue(user: str, state: Path, days: int, note: str):
    """Issue a token for USER and print it once (only its digest is kept)."""
    from .state import open_state

    token_id, secret = open_state(state).issue_token(user, days=days, note=note)
    click.echo(f"token {token_id} for {user}, valid {days} days (shown once, keep it private):",
               err=True)  # fmt: skip
    click.echo(secret)


@token.command("list")
@_state_option
@_friendly
def token_list(state: Path):
    """Every token issued: id, user, expiry and revocation (never the tokens)."""
    from .state import open_state

    for t in open_state(state).tokens():
        status = f"revoked {t['revoked_at']}" if t["revoked_at"] else f"expires {t['expires_at']}"
        click.echo(f"{t['token_id']}  {t['user']}  {status}  {t['note']}".rstrip())


@token.command("revoke")
@click.argument("token_id")
@_state_option
@_friendly
def token_revoke(token_id: str, state: Path):
    """Revoke the token TOKEN_ID: it stops working on the next request."""
    from .state import open_state

    open_state(state).revoke_token(token_id)
    click.echo(f"token {token_id} revoked")


@service.command("entitle")
@click.argument("user")
@click.argument("entitlement")
@_state_option
@click.option("--revoke", is_flag=True, help="Withdraw the entitlement instead.")
@_friendly
def entitle(user: str, entitlement: str, state: Path, revoke: bool):
    """Grant USER an ENTITLEMENT beyond their role (teaching.sandbox: record-level teaching)."""
    from .state import open_state

    open_state(state).entitle(user, entitlement, revoke=revoke)
    click.echo(f"{entitlement} {'withdrawn from' if revoke else 'granted to'} {user}")


@service.command("seal")
@_state_option
@click.option("--steward", required=True, help="The data steward who checked the registry.")
@click.option("--note", required=True, help="What was checked (one line, audited).")
@_friendly
def seal(state: Path, steward: str, note: str):
    """Seal the registry again after checking a change made outside the service.

    Until then the service refuses every call. Run as the service's OS account; the sealing
    is a steward's audited call.
    """
    from ..access.policy import Stewardship
    from .state import open_state

    opened = open_state(state)
    with opened.session(user=steward, purpose=Stewardship()) as s:
        s.seal_registry(note=note)
    click.echo(f"registry of {opened.cohort_path.name} sealed by {steward}")


@service.command("witness-check")
@click.argument("cohort", type=click.Path(file_okay=False, path_type=Path))
@click.option("--witness", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--public-key", required=True, help="The key `service init` printed (hex).")
@_friendly
def witness_check(cohort: Path, witness: Path, public_key: str):
    """Check, with the public key only, that every witnessed checkpoint is in COHORT's log."""
    import contextlib

    from ..access.schema import connect
    from ..access.witness import check_witness
    from ..errors import AuditIntegrityError

    with contextlib.closing(connect(cohort / "registry.sqlite", readonly=True)) as conn:
        report = check_witness(conn, witness, public_key)
    if not report.ok:
        raise AuditIntegrityError(f"the witness does not match the log: {report.problem}")
    click.echo(f"witness intact: {report.lines} signed checkpoint(s), all in the log")


@service.command("run")
@_state_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=click.IntRange(1, 65535))
@_friendly
def run(state: Path, host: str, port: int):
    """Serve the cohort of STATE over HTTP until stopped (Ctrl-C or SIGTERM)."""
    from .server import serve

    serve(state, host=host, port=port)


@click.group()
def keyholder():
    """The keyholder: the hospital side, apart from the service, that holds national ids."""


@keyholder.command("init")
@click.argument("cohort", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--state",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The keyholder's own state folder, outside the cohort and the service's state.",
)
@click.option(
    "--token-out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A new file for the data-access service's token (0600; give it to `service init`).",
)
@click.option("--max-per-hour", default=30, show_default=True, type=click.IntRange(1, 10_000))
@_friendly
def keyholder_init(cohort: Path, state: Path, token_out: Path, max_per_hour: int):
    """Move COHORT's identity store into the keyholder's state; write the service's token."""
    from ..errors import OutputExistsError
    from .keyholder import init_keyholder

    try:  # the token's file first, so a token is never made with nowhere to go
        fd = os.open(token_out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise OutputExistsError(f"{token_out} exists; choose a new --token-out file") from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        try:
            token = init_keyholder(state, cohort, max_per_hour=max_per_hour)
        except BaseException:
            token_out.unlink()
            raise
        f.write(token + "\n")
    click.echo(f"identity store of {cohort} moved to {state}; service token in {token_out}")


@keyholder.command("run")
@click.option(
    "--state", required=True, type=click.Path(file_okay=False, path_type=Path), help="KDIR."
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8766, show_default=True, type=click.IntRange(1, 65535))
@_friendly
def keyholder_run(state: Path, host: str, port: int):
    """Answer the data-access service's re-identifications until stopped."""
    from .server import serve_keyholder

    serve_keyholder(state, host=host, port=port)
