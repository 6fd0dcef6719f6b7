"""``workbench audit …`` and ``workbench consent …``: the data steward's command line.

Every command opens a :class:`~workbench.Stewardship` session for the steward named on the
command line, so each check, listing and change is itself decided and written to the audit
log. Errors print one line (``error: …``) and exit non-zero: 2 for bad input, 1 otherwise —
including an audit log that does not verify.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import click
import pandas as pd

from ..clierrors import friendly as _friendly
from ..errors import AuditIntegrityError

__all__ = ["audit", "consent"]

DEFAULT_STEWARD = "steward.larsen"
_PURPOSE_KINDS = ("treatment", "research", "teaching", "stewardship")


_cohort_arg = click.argument("cohort", type=click.Path(file_okay=False, path_type=Path))


def _steward_session(cohort: Path, user: str):
    from ..cohort import open_cohort
    from .policy import Stewardship

    # Administration reads the registry only; checking every genome file's checksum first
    # would make a one-line consent change wait on gigabytes (`workbench verify` does that).
    return open_cohort(cohort, verify=False).session(user=user, purpose=Stewardship())


def _purpose_text(purpose: dict) -> str:
    kind = purpose.get("kind", "?")
    rest = [str(v) for k, v in sorted(purpose.items()) if k != "kind" and v not in (None, False)]
    return f"{kind}({', '.join(rest)})" if rest else str(kind)


def _compact(value) -> str:
    if isinstance(value, dict) and not value:
        return ""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _aligned(table: pd.DataFrame) -> str:
    """Columns padded to their widest cell, text left-aligned, numbers right-aligned."""
    cells = {c: [str(v) for v in table[c]] for c in table.columns}
    widths = {c: max([len(c), *map(len, cells[c])]) for c in table.columns}
    numeric = {c: pd.api.types.is_numeric_dtype(table[c]) for c in table.columns}

    def line(values):
        parts = [
            v.rjust(widths[c]) if numeric[c] else v.ljust(widths[c])
            for c, v in zip(table.columns, values, strict=True)
        ]
        return "  ".join(parts).rstrip()

    rows = zip(*(cells[c] for c in table.columns), strict=True)
    return "\n".join([line(list(table.columns)), *(line(r) for r in rows)])


def format_audit_table(table: pd.DataFrame) -> str:
    """Audit entries (from ``Session.audit_log``) as an aligned plain-text table."""
    if table.empty:
        return "no audit entries match"
    shown = pd.DataFrame(
        {
            "seq": table.seq,
            "at": table["at"].str.slice(0, 19).str.replace("T", " "),
            "user": table.user_id,
            "purpose": [_purpose_text(p) for p in table.purpose],
            "action": table.action,
            "query": [_compact(q) for q in table["query"]],
            "decision": table.decision,
            "basis": [", ".join(b) for b in table.basis],
        }
    )
    return _aligned(shown)


def format_consent_history(history: pd.DataFrame) -> str:
    """Consent versions (from ``Session.consent_history``) as an aligned plain-text table."""
    shown = pd.DataFrame(
        {
            "version": history.version,
            "signed_on": history.signed_on,
            "form": history.form_version,
            "signed_by": history.signed_by,
            "secondary_findings": [", ".join(s) or "none" for s in history.secondary_findings],
            "recontact": history.recontact.map({True: "yes", False: "no"}),
            "opt_out": history.research_opt_out.map({True: "yes", False: "no"}),
            "withdrawn": history.withdrawn.map({True: "yes", False: "no"}),
            "recorded_by": history.recorded_by,
            "note": history.note,
        }
    )
    return _aligned(shown)


# -- workbench audit ---------------------------------------------------------------------------


@click.group()
def audit():
    """Verify and read the tamper-evident audit log (data stewards)."""


@audit.command("verify")
@_cohort_arg
@click.option("--user", default=DEFAULT_STEWARD, show_default=True, help="Steward user id.")
@_friendly
def audit_verify(cohort, user):
    """Check the audit chain of COHORT against its key and external checkpoints.

    Exits 0 when it verifies, 1 naming the first bad entry when it does not.
    """
    with contextlib.closing(_steward_session(cohort, user)) as s:
        report = s.audit_verify()
    if not report["ok"]:
        raise AuditIntegrityError(
            f"audit log of {cohort} does not verify: {report['problem']} "
            f"(first bad entry: {report['first_bad_seq']}); keep the files as evidence and "
            "restore the log from a trusted copy",
            sequence=report["first_bad_seq"],
        )
    click.echo(f"ok: {report['entries']} entries, {report['checkpoints']} checkpoints")


@audit.command("show")
@_cohort_arg
@click.option("--user", default=None, help="Only entries by this user id.")
@click.option("--patient", default=None, help="Only entries naming this person id or pseudonym.")
@click.option("--purpose", type=click.Choice(_PURPOSE_KINDS), default=None,
              help="Only entries of this kind of purpose.")  # fmt: skip
@click.option("--since", default=None, help="From this date or time (ISO), inclusive.")
@click.option("--until", default=None, help="Up to this date or time (ISO), exclusive.")
@click.option("--steward", default=DEFAULT_STEWARD, show_default=True,
              help="Steward user id running the query.")  # fmt: skip
@_friendly
def audit_show(cohort, steward, user, patient, purpose, since, until):
    """List audit entries of COHORT, oldest first, filtered by the options given."""
    filters = {"user": user, "patient": patient, "since": since, "until": until}
    filters = {k: v for k, v in filters.items() if v is not None}
    if purpose is not None:
        filters["purpose"] = {"kind": purpose}
    with contextlib.closing(_steward_session(cohort, steward)) as s:
        table = s.audit_log(**filters)
    click.echo(format_audit_table(table))


# -- workbench consent -------------------------------------------------------------------------


@click.group()
def consent():
    """Record and read people's consent history (data stewards)."""


_by = click.option("--by", "steward", required=True, help="Steward user id recording the change.")
_date = click.option("--date", "signed_on", required=True, help="Date signed (YYYY-MM-DD).")
_note = click.option("--note", required=True, help="One line: what changed, on what evidence.")


@consent.command("withdraw")
@_cohort_arg
@click.argument("person")
@_by
@_date
@_note
@_friendly
def consent_withdraw(cohort, person, steward, signed_on, note):
    """Record that PERSON withdrew consent (a new consent version)."""
    with contextlib.closing(_steward_session(cohort, steward)) as s:
        row = s.withdraw_consent(person, signed_on=signed_on, note=note)
    click.echo(
        f"recorded consent version {row['version']} of {person}: withdrawn "
        f"(signed {row['signed_on']}, recorded by {row['recorded_by']})"
    )


@consent.command("opt-out")
@_cohort_arg
@click.argument("person")
@click.option("--on/--off", "opt_out", required=True,
              help="Register (--on) or lift (--off) the research opt-out.")  # fmt: skip
@_by
@_date
@_note
@_friendly
def consent_opt_out(cohort, person, opt_out, steward, signed_on, note):
    """Register or lift PERSON's research opt-out (a new consent version)."""
    with contextlib.closing(_steward_session(cohort, steward)) as s:
        row = s.set_research_opt_out(person, opt_out=opt_out, signed_on=signed_on, note=note)
    click.echo(
        f"recorded consent version {row['version']} of {person}: research opt-out "
        f"{'on' if opt_out else 'off'} (signed {row['signed_on']})"
    )


@consent.command("show")
@_cohort_arg
@click.argument("person")
@click.option("--user", default=DEFAULT_STEWARD, show_default=True, help="Steward user id.")
@_friendly
def consent_show(cohort, person, user):
    """Print PERSON's consent history, oldest version first."""
    with contextlib.closing(_steward_session(cohort, user)) as s:
        history = s.consent_history(person)
    click.echo(format_consent_history(history))
