"""Data-steward administration: consents, project grants, principals and care relationships.

Every function here takes a registry connection that is **already inside a transaction**
(:func:`workbench.access.schema.transaction`, or the one :meth:`Session._call
<workbench.access.session.Session>` opens), so the change and the audit entry that records it
commit together or not at all. Inputs are checked first and refused with an
:class:`~workbench.errors.InputError` that says what was expected, what was found and what to
do; the database's triggers are a second line of defence, not the messages a steward sees.

History is kept, never rewritten:

* a consent change appends version ``previous + 1`` holding the **full** new state (the
  fields not given carry over from the current version); no consent row is ever updated;
* a grant is never edited — revoking sets its ``revoked_on`` once, and a new grant is a new row;
* a care relationship is ended by setting its ``until`` once (the schema allows exactly that
  update; nothing else about it is changed).

The functions make no access decision: who may call them is the session layer's business
(``Session.record_consent`` … admit data stewards only and audit every call).
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import unicodedata
from collections.abc import Iterable

import pandas as pd

from ..errors import InputError
from .disclosure import NATIONAL_ID_PATTERN
from .schema import PRINCIPAL_ROLES, SECONDARY_FINDING_CATEGORIES, parse_date
from .store import CONSENT_COLUMNS, load_consent_history

__all__ = [
    "SIGNERS",
    "add_care_relationship",
    "add_principal",
    "audit_query",
    "consent_history",
    "current_consent",
    "end_care_relationship",
    "grant_project",
    "record_consent",
    "revoke_grant",
    "set_research_opt_out",
    "withdraw_consent",
]

#: Who can sign a consent form: the person, or a guardian for a child.
SIGNERS = ("self", "guardian")

_MAX_NOTE = 500
# The consents table's columns, in order (one definition, shared with the readers).
_CONSENT_FIELDS = CONSENT_COLUMNS
#: The fields whose change makes a new version meaningful (the note alone does not).
_STATE_FIELDS = (
    "form_version",
    "signed_by",
    "secondary_findings",
    "recontact",
    "research_opt_out",
    "withdrawn",
)


# -- checks at the boundary -----------------------------------------------------------------


def _check_conn(conn) -> None:
    if not isinstance(conn, sqlite3.Connection):
        raise InputError(f"conn must be a registry sqlite3.Connection, got {type(conn).__name__}")
    if not conn.in_transaction:
        raise InputError(
            "administration must run inside a transaction so the change and its audit entry "
            "commit together; wrap the call in `with transaction(conn):` or use a steward Session"
        )


def _text(value, *, name: str, example: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{name} must be a non-empty string such as {example!r}, got {value!r}")
    return value


def _person(conn, person_id) -> str:
    _text(person_id, name="person_id", example="P00001")
    row = conn.execute("SELECT 1 FROM samples WHERE person_id = ?", (person_id,)).fetchone()
    if row is None:
        if NATIONAL_ID_PATTERN.search(person_id):
            # Do not echo a national id back (into logs, screens, notebooks).
            raise InputError(
                "unknown person: the value given looks like a national (CPR) id; expected an "
                "internal person id such as 'P00001' (the registry never holds national ids)"
            )
        raise InputError(
            f"unknown person {person_id!r}: expected an internal person id of this cohort "
            "such as 'P00001'; check the id"
        )
    return person_id


def _principal(conn, user_id, *, name: str, roles: tuple[str, ...] | None = None) -> str:
    _text(user_id, name=name, example="steward.larsen")
    row = conn.execute("SELECT role FROM principals WHERE user_id = ?", (user_id,)).fetchone()
    if row is None:
        raise InputError(
            f"unknown user {user_id!r} for {name}: expected a principal in the registry "
            "such as 'steward.larsen'; check the spelling"
        )
    if roles is not None and row[0] not in roles:
        raise InputError(
            f"{name} must be a {' or '.join(roles)}, but {user_id!r} is a {row[0]}; "
            "choose a principal with that role"
        )
    return user_id


def _flag(value, *, name: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise InputError(f"{name} must be True, False or None (keep as is), got {value!r}")


def _note(value) -> str:
    _text(value, name="note", example="withdrew consent by letter of 2026-01-05")
    if len(value) > _MAX_NOTE:
        raise InputError(f"note must be at most {_MAX_NOTE} characters, got {len(value)}")
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
            raise InputError(
                f"note must be one line of plain text; it contains the control or invisible "
                f"character U+{ord(ch):04X}"
            )
    if NATIONAL_ID_PATTERN.search(value):
        raise InputError(
            "note contains a national (CPR-shaped) id; the registry never holds national ids — "
            "refer to the person by their internal id only"
        )
    return value


def _categories(value) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InputError(
            "secondary_findings must be a list of ACMG SF categories (empty for none), "
            f"got {value!r}; choose from {', '.join(SECONDARY_FINDING_CATEGORIES)}"
        )
    chosen = list(value)
    bad = [c for c in chosen if c not in SECONDARY_FINDING_CATEGORIES]
    if bad:
        raise InputError(
            f"unknown secondary-findings categor{'y' if len(bad) == 1 else 'ies'} "
            f"{', '.join(map(repr, bad))}; choose from {', '.join(SECONDARY_FINDING_CATEGORIES)}"
        )
    # One canonical order, so the same choice always reads the same.
    return [c for c in SECONDARY_FINDING_CATEGORIES if c in set(chosen)]


def _row_dict(row) -> dict:
    out = dict(zip(_CONSENT_FIELDS, row, strict=True))
    out["secondary_findings"] = list(json.loads(out["secondary_findings"]))
    for k in ("recontact", "research_opt_out", "withdrawn"):
        out[k] = bool(out[k])
    return out


# -- consents -------------------------------------------------------------------------------


def current_consent(conn: sqlite3.Connection, *, person_id: str) -> dict | None:
    """The person's highest consent version as a dict, or ``None`` when they have none.

    ``secondary_findings`` is a list of categories; the three flags are bools.
    """
    _person(conn, person_id)
    row = conn.execute(
        f"SELECT {', '.join(_CONSENT_FIELDS)} FROM consents WHERE person_id = ? "
        "ORDER BY version DESC LIMIT 1",
        (person_id,),
    ).fetchone()
    return None if row is None else _row_dict(row)


def consent_history(conn: sqlite3.Connection, *, person_id: str) -> pd.DataFrame:
    """Every consent version of one person, oldest first (columns of ``CONSENT_COLUMNS``).

    Raises
    ------
    InputError
        The person is not in the registry.
    """
    _person(conn, person_id)
    return load_consent_history(conn, person_id=person_id)


def record_consent(
    conn: sqlite3.Connection,
    *,
    person_id: str,
    recorded_by: str,
    signed_on,
    secondary_findings=None,
    recontact: bool | None = None,
    research_opt_out: bool | None = None,
    withdrawn: bool | None = None,
    signed_by: str | None = None,
    form_version: str | None = None,
    note: str,
) -> dict:
    """Append a new consent version for ``person_id`` and return it as a dict.

    Fields left at ``None`` carry over from the current version. A person's first version
    must give ``secondary_findings``, ``recontact``, ``research_opt_out`` and
    ``form_version``; ``withdrawn`` then defaults to False and ``signed_by`` to ``"self"``.

    Parameters
    ----------
    conn
        A registry connection inside a transaction.
    person_id
        The internal person id (never a national id).
    recorded_by
        The principal registering the change (a steward when called through a session).
    signed_on
        The date the person (or guardian) signed: ISO text or a :class:`datetime.date`; not
        before the current version's date.
    secondary_findings
        ACMG SF categories the person wants to hear about (an empty list for none).
    recontact, research_opt_out, withdrawn
        The consent flags.
    signed_by
        ``"self"`` or ``"guardian"``. Carries over like the other fields, so registering a
        child's change does not silently turn a guardian's signature into the child's.
    form_version
        The consent form signed (e.g. ``"NGC-WGS-2.0"``).
    note
        One line saying what changed and on what evidence; never a national id. Not copied
        into the audit log (the consent row keeps it).

    Raises
    ------
    InputError
        Unknown person or recorder, a bad date or one before the current version, an unknown
        SF category, a malformed note, or nothing changed.
    """
    _check_conn(conn)
    _person(conn, person_id)
    _principal(conn, recorded_by, name="recorded_by")
    signed_on = parse_date(signed_on, name="signed_on")
    note = _note(note)
    new = {
        "secondary_findings": None
        if secondary_findings is None
        else _categories(secondary_findings),
        "recontact": _flag(recontact, name="recontact"),
        "research_opt_out": _flag(research_opt_out, name="research_opt_out"),
        "withdrawn": _flag(withdrawn, name="withdrawn"),
        "signed_by": signed_by,
        "form_version": form_version,
    }
    if signed_by is not None and signed_by not in SIGNERS:
        raise InputError(f"signed_by must be 'self' or 'guardian', got {signed_by!r}")
    if form_version is not None:
        _text(form_version, name="form_version", example="NGC-WGS-2.0")
        if any(unicodedata.category(ch).startswith("C") for ch in form_version):
            raise InputError("form_version must be one line of plain text")

    current = current_consent(conn, person_id=person_id)
    if current is None:
        missing = [
            k
            for k in ("secondary_findings", "recontact", "research_opt_out", "form_version")
            if new[k] is None
        ]
        if missing:
            raise InputError(
                f"{person_id} has no consent yet, so a first version needs every choice; "
                f"missing {', '.join(missing)}"
            )
        state = {**new, "withdrawn": bool(withdrawn), "signed_by": signed_by or "self"}
        version = 1
    else:
        if signed_on < current["signed_on"]:
            raise InputError(
                f"signed_on {signed_on} is before {person_id}'s current consent (version "
                f"{current['version']}, signed {current['signed_on']}); versions are recorded "
                f"in order — use a date on or after {current['signed_on']}"
            )
        state = {k: current[k] if v is None else v for k, v in new.items()}
        if all(state[k] == current[k] for k in _STATE_FIELDS):
            raise InputError(
                f"nothing changed: {person_id}'s consent version {current['version']} already "
                "says this; give the field(s) that change"
            )
        version = current["version"] + 1

    row = {
        "person_id": person_id,
        "version": version,
        "signed_on": signed_on,
        "form_version": state["form_version"],
        "signed_by": state["signed_by"],
        "secondary_findings": json.dumps(state["secondary_findings"]),
        "recontact": int(state["recontact"]),
        "research_opt_out": int(state["research_opt_out"]),
        "withdrawn": int(state["withdrawn"]),
        "recorded_by": recorded_by,
        "note": note,
    }
    try:
        conn.execute(
            f"INSERT INTO consents ({', '.join(_CONSENT_FIELDS)}) "
            f"VALUES ({', '.join('?' for _ in _CONSENT_FIELDS)})",
            [row[k] for k in _CONSENT_FIELDS],
        )
    except sqlite3.IntegrityError as e:
        raise InputError(
            f"the registry refused consent version {version} of {person_id}: {e}"
        ) from e
    return _row_dict([row[k] for k in _CONSENT_FIELDS])


def withdraw_consent(
    conn: sqlite3.Connection,
    *,
    person_id: str,
    recorded_by: str,
    signed_on,
    note: str,
    signed_by: str | None = None,
) -> dict:
    """Record that ``person_id`` withdrew consent (a new version; recontact is switched off).

    Withdrawal removes the person from every purpose, their own care included (see
    :func:`workbench.access.policy.consent_filter`), from the next call of any session on.

    Raises
    ------
    InputError
        As :func:`record_consent`; also when the consent is already withdrawn.
    """
    _check_conn(conn)
    current = current_consent(conn, person_id=person_id)
    if current is not None and current["withdrawn"]:
        raise InputError(
            f"nothing changed: {person_id}'s consent is already withdrawn (version "
            f"{current['version']}, signed {current['signed_on']})"
        )
    return record_consent(
        conn,
        person_id=person_id,
        recorded_by=recorded_by,
        signed_on=signed_on,
        withdrawn=True,
        recontact=False,
        signed_by=signed_by,
        note=note,
    )


def set_research_opt_out(
    conn: sqlite3.Connection,
    *,
    person_id: str,
    opt_out: bool,
    recorded_by: str,
    signed_on,
    note: str,
    signed_by: str | None = None,
) -> dict:
    """Register (``opt_out=True``) or lift (``False``) a research opt-out as a new version.

    The opt-out removes the person from research and teaching, never from their own care.

    Raises
    ------
    InputError
        As :func:`record_consent`; also when the consent is withdrawn (record a new consent
        first) or already says ``opt_out``.
    """
    _check_conn(conn)
    if not isinstance(opt_out, bool):
        raise InputError(f"opt_out must be True or False, got {opt_out!r}")
    current = current_consent(conn, person_id=person_id)
    if current is None:
        raise InputError(f"{person_id} has no consent to change; record a first consent")
    if current["withdrawn"]:
        raise InputError(
            f"{person_id}'s consent is withdrawn (version {current['version']}); an opt-out "
            "changes nothing until a new consent is recorded with record_consent"
        )
    if current["research_opt_out"] == opt_out:
        raise InputError(
            f"nothing changed: {person_id}'s research opt-out is already "
            f"{'on' if opt_out else 'off'} (version {current['version']})"
        )
    return record_consent(
        conn,
        person_id=person_id,
        recorded_by=recorded_by,
        signed_on=signed_on,
        research_opt_out=opt_out,
        signed_by=signed_by,
        note=note,
    )


# -- project grants ---------------------------------------------------------------------------

_GRANT_FIELDS = (
    "project_id",
    "dataset_id",
    "user_id",
    "granted_on",
    "expires_on",
    "revoked_on",
    "granted_by",
)


def _project(conn, project_id) -> str:
    _text(project_id, name="project_id", example="EPI-7")
    if conn.execute("SELECT 1 FROM projects WHERE project_id = ?", (project_id,)).fetchone():
        return project_id
    known = [r[0] for r in conn.execute("SELECT project_id FROM projects ORDER BY project_id")]
    raise InputError(f"unknown project {project_id!r}; the registry has {', '.join(known)}")


def _dataset(conn, dataset_id) -> str:
    _text(dataset_id, name="dataset_id", example="NGC-RD")
    if conn.execute("SELECT 1 FROM datasets WHERE dataset_id = ?", (dataset_id,)).fetchone():
        return dataset_id
    known = [r[0] for r in conn.execute("SELECT dataset_id FROM datasets ORDER BY dataset_id")]
    raise InputError(f"unknown dataset {dataset_id!r}; the registry has {', '.join(known)}")


def grant_project(
    conn: sqlite3.Connection,
    *,
    project_id: str,
    dataset_id: str,
    user_id: str,
    granted_on,
    expires_on,
    granted_by: str,
) -> dict:
    """Record a data access committee's grant of ``dataset_id`` to ``user_id`` for a project.

    A grant is a new row; an earlier one is never edited. Refused while the same user holds
    an unrevoked grant of the same dataset for the same project that is still in force on
    ``granted_on`` (revoke it first).

    Raises
    ------
    InputError
        Unknown project, dataset or user, a user who is not a researcher, bad dates
        (``expires_on`` must be after ``granted_on``), or an overlapping grant.
    """
    _check_conn(conn)
    _project(conn, project_id)
    _dataset(conn, dataset_id)
    _principal(conn, user_id, name="user_id", roles=("researcher",))
    _principal(conn, granted_by, name="granted_by")
    granted_on = parse_date(granted_on, name="granted_on")
    expires_on = parse_date(expires_on, name="expires_on")
    if expires_on <= granted_on:
        raise InputError(
            f"expires_on ({expires_on}) must be after granted_on ({granted_on}); "
            "a grant is in force from granted_on until the day before expires_on"
        )
    overlap = conn.execute(
        "SELECT granted_on, expires_on FROM project_grants WHERE project_id = ? AND "
        "dataset_id = ? AND user_id = ? AND revoked_on IS NULL AND expires_on > ? "
        "AND granted_on < ?",
        (project_id, dataset_id, user_id, granted_on, expires_on),
    ).fetchone()
    if overlap is not None:
        raise InputError(
            f"nothing changed: {user_id} already holds {dataset_id} for {project_id} "
            f"({overlap[0]} to {overlap[1]}); revoke that grant first to change its terms"
        )
    row = dict(zip(_GRANT_FIELDS, (project_id, dataset_id, user_id, granted_on, expires_on,
                                   None, granted_by), strict=True))  # fmt: skip
    try:
        conn.execute(
            f"INSERT INTO project_grants ({', '.join(_GRANT_FIELDS)}) "
            f"VALUES ({', '.join('?' for _ in _GRANT_FIELDS)})",
            [row[k] for k in _GRANT_FIELDS],
        )
    except sqlite3.IntegrityError as e:
        raise InputError(f"the registry refused the grant: {e}") from e
    return row


def revoke_grant(
    conn: sqlite3.Connection,
    *,
    project_id: str,
    dataset_id: str,
    user_id: str,
    revoked_on,
) -> list[dict]:
    """Revoke the grant(s) of ``dataset_id`` to ``user_id`` for a project in force on a date.

    Sets ``revoked_on`` on each unrevoked grant of that triple that started on or before
    ``revoked_on`` and had not expired by then (normally one); it takes effect on that day.

    Returns
    -------
    list of dict
        The revoked grants, as they now read.

    Raises
    ------
    InputError
        Unknown project, dataset or user, a bad date, or no grant in force to revoke.
    """
    _check_conn(conn)
    _project(conn, project_id)
    _dataset(conn, dataset_id)
    _principal(conn, user_id, name="user_id")
    revoked_on = parse_date(revoked_on, name="revoked_on")
    key = (project_id, dataset_id, user_id)
    rows = [
        dict(zip(_GRANT_FIELDS, r, strict=True))
        for r in conn.execute(
            f"SELECT {', '.join(_GRANT_FIELDS)} FROM project_grants WHERE project_id = ? AND "
            "dataset_id = ? AND user_id = ? ORDER BY granted_on",
            key,
        )
    ]
    if not rows:
        raise InputError(
            f"{user_id} has no grant of {dataset_id} for {project_id}; nothing to revoke"
        )
    open_rows = [r for r in rows if r["revoked_on"] is None]
    if not open_rows:
        raise InputError(
            f"nothing changed: {user_id}'s grant of {dataset_id} for {project_id} was already "
            f"revoked on {rows[-1]['revoked_on']}"
        )
    targets = [r for r in open_rows if r["granted_on"] <= revoked_on < r["expires_on"]]
    if not targets:
        spans = ", ".join(f"{r['granted_on']} to {r['expires_on']}" for r in open_rows)
        raise InputError(
            f"no grant of {dataset_id} to {user_id} for {project_id} is in force on "
            f"{revoked_on} (unrevoked grants: {spans}); pick a date inside one of them"
        )
    for r in targets:
        conn.execute(
            "UPDATE project_grants SET revoked_on = ? WHERE project_id = ? AND dataset_id = ? "
            "AND user_id = ? AND granted_on = ?",
            (revoked_on, *key, r["granted_on"]),
        )
        r["revoked_on"] = revoked_on
    return targets


# -- principals -------------------------------------------------------------------------------
_USER_ID = re.compile(r"[a-z][a-z0-9._-]{1,63}")
_RESEARCHER_STATUS = ("so", "system", "peer", "dac")


def add_principal(
    conn: sqlite3.Connection,
    *,
    user_id: str,
    display_name: str,
    role: str,
    affiliation: str,
    organisation_for_profit: bool = False,
    accepted_terms: str | None = None,
    accepted_on=None,
    researcher_status_by: str | None = None,
) -> dict:
    """Add a principal: someone who may sign in (a learner joining a class, a new clinician).

    ``accepted_terms`` names the terms they accepted themselves on ``accepted_on`` (teaching
    terms for a student, research terms for a researcher); ``researcher_status_by`` says who
    vouches for a researcher (``so`` signing official, ``system``, ``peer``, ``dac``).

    Raises
    ------
    InputError
        A malformed id or field, an unknown role, terms without their date (or a date without
        terms), or a principal that exists already.
    """
    _check_conn(conn)
    if not isinstance(user_id, str) or not _USER_ID.fullmatch(user_id):
        raise InputError(
            f"user_id must be lower-case letters, digits and . _ - starting with a letter, "
            f"such as 'student.vang'; got {user_id!r}"
        )
    if conn.execute("SELECT 1 FROM principals WHERE user_id = ?", (user_id,)).fetchone():
        raise InputError(f"nothing changed: {user_id!r} is a principal already")
    if role not in PRINCIPAL_ROLES:
        raise InputError(f"role must be one of {', '.join(PRINCIPAL_ROLES)}; got {role!r}")
    display_name = _note_like(display_name, name="display_name", example="Mette Vang")
    affiliation = _note_like(affiliation, name="affiliation", example="student@ku.dk")
    if "@" not in affiliation.strip("@"):
        raise InputError(f"affiliation must look like role@organisation; got {affiliation!r}")
    for_profit = _flag(organisation_for_profit, name="organisation_for_profit")
    if (accepted_terms is None) != (accepted_on is None):
        raise InputError("accepted_terms and accepted_on go together: give both or neither")
    if accepted_terms is not None:
        accepted_terms = _note_like(
            accepted_terms, name="accepted_terms", example="workbench-teaching-terms-v1"
        )
        accepted_on = parse_date(accepted_on, name="accepted_on")
    if researcher_status_by not in (None, *_RESEARCHER_STATUS):
        raise InputError(
            f"researcher_status_by must be one of {', '.join(_RESEARCHER_STATUS)} or None; "
            f"got {researcher_status_by!r}"
        )
    row = {
        "user_id": user_id,
        "display_name": display_name,
        "role": role,
        "affiliation": affiliation,
        "organisation_for_profit": int(bool(for_profit)),
        "accepted_terms": accepted_terms,
        "accepted_terms_by": None if accepted_terms is None else "self",
        "accepted_terms_on": accepted_on,
        "researcher_status_by": researcher_status_by,
    }
    conn.execute(
        f"INSERT INTO principals ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
        tuple(row.values()),
    )
    return row


def _note_like(value, *, name: str, example: str) -> str:
    """One line of plain text (as a note), for a named field."""
    try:
        return _note(value)
    except InputError as e:
        raise InputError(f"{name}: {e} (for example {example!r})") from None


# -- care relationships -----------------------------------------------------------------------


def add_care_relationship(conn: sqlite3.Connection, *, user_id: str, person_id: str, since) -> dict:
    """Record that clinician ``user_id`` cares for ``person_id`` from ``since`` on.

    Raises
    ------
    InputError
        Unknown or non-clinician user, unknown person, a bad date, or a relationship that
        is still open (or ends on or after ``since``).
    """
    _check_conn(conn)
    _principal(conn, user_id, name="user_id", roles=("clinician",))
    _person(conn, person_id)
    since = parse_date(since, name="since")
    overlap = conn.execute(
        "SELECT since, until FROM care_relationships WHERE user_id = ? AND person_id = ? "
        "AND (until IS NULL OR until >= ?)",
        (user_id, person_id, since),
    ).fetchone()
    if overlap is not None:
        span = f"since {overlap[0]}" + (f" until {overlap[1]}" if overlap[1] else "")
        raise InputError(
            f"nothing changed: {user_id} already cares for {person_id} ({span}); "
            "end that relationship first"
        )
    conn.execute(
        "INSERT INTO care_relationships (user_id, person_id, since, until) VALUES (?, ?, ?, NULL)",
        (user_id, person_id, since),
    )
    return {"user_id": user_id, "person_id": person_id, "since": since, "until": None}


def end_care_relationship(conn: sqlite3.Connection, *, user_id: str, person_id: str, until) -> dict:
    """End the open care relationship of ``user_id`` to ``person_id`` on ``until`` (inclusive).

    The schema has no trigger guarding ``care_relationships`` against updates, so this
    function is the guard: it only ever fills in the ``until`` of an open relationship.

    Raises
    ------
    InputError
        Unknown user or person, a bad date, no open relationship, or ``until`` before its start.
    """
    _check_conn(conn)
    _principal(conn, user_id, name="user_id")
    _person(conn, person_id)
    until = parse_date(until, name="until")
    row = conn.execute(
        "SELECT since FROM care_relationships WHERE user_id = ? AND person_id = ? "
        "AND until IS NULL ORDER BY since DESC LIMIT 1",
        (user_id, person_id),
    ).fetchone()
    if row is None:
        raise InputError(f"nothing changed: {user_id} has no open care relationship to {person_id}")
    if until < row[0]:
        raise InputError(
            f"until ({until}) is before the relationship began ({row[0]}); use a later date"
        )
    conn.execute(
        "UPDATE care_relationships SET until = ? WHERE user_id = ? AND person_id = ? "
        "AND since = ? AND until IS NULL",
        (until, user_id, person_id, row[0]),
    )
    return {"user_id": user_id, "person_id": person_id, "since": row[0], "until": until}


# -- what the audit log records of an administrative call ----------------------------------


def audit_query(**fields) -> dict:
    """A JSON-safe audit ``query`` for an administrative call.

    Keeps person ids, project/dataset/user ids, dates and the changed choices; drops
    ``note`` (free text that belongs in the consent row, not the log) and ``None`` values.
    Anything not a plain JSON value is written as its ``str`` with control characters
    replaced, so recording a call can never fail because of how it was asked.
    """
    out = {}
    for k, v in fields.items():
        if k == "note" or v is None:
            continue
        out[k] = _plain(v)
    return out


def _plain(v):
    if isinstance(v, str):
        # A steward may type a national id where a person id belongs: never log it.
        v = NATIONAL_ID_PATTERN.sub("[national id removed]", v)
        if not _unsafe(v):
            return v
    elif isinstance(v, bool | int) or (isinstance(v, float) and math.isfinite(v)):
        return v
    if isinstance(v, list | tuple | set | frozenset):
        items = sorted(v, key=str) if isinstance(v, set | frozenset) else v
        return [_plain(x) for x in items]
    text = v.isoformat() if hasattr(v, "isoformat") else str(v)
    return "".join("?" if unicodedata.category(c).startswith(("C", "Z")) and c != " " else c
                   for c in text)  # fmt: skip


def _unsafe(s: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn") for c in s)
