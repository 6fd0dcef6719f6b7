"""Explain access in words: a person's consent, and why a session sees what it sees.

Plain functions behind the access widgets (:mod:`workbench.widgets.access`) and the
consent-aware access notebook. They return JSON-ready dicts and lists, never widgets.

What they will not tell
-----------------------
:func:`explain_access` describes the asking user's **own** access: the rules that admitted
the data, the datasets approved, the user's own refused grants, and how many people their
consent removed from the view — a count, never who. It contains no person id and no
pseudonym, and it says nothing about other users' grants. The count comes from the session
itself (an audited :meth:`~workbench.access.session.Session.samples` read, or the user's own
latest audit entry), never from reading people's data around the session.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ..errors import AccessDenied, InputError
from .policy import (
    Research,
    Teaching,
    Treatment,
    consent_filter,
    evaluate,
    purpose_to_dict,
)
from .schema import SECONDARY_FINDING_CATEGORIES, connect
from .session import Session
from .store import CONSENT_COLUMNS, load_consent_history

__all__ = [
    "SCOPE_MEANING",
    "attempt",
    "consent_history",
    "consent_summary",
    "explain_access",
    "patients_of",
    "view_overlap",
    "worklist",
]

#: What each access scope allows, in words.
SCOPE_MEANING = {
    "record": "record level: individual rows of the people in view",
    "aggregate": (
        "aggregates only: counts and allele counts with small counts masked; no individual rows"
    ),
    "admin": "administration only: consents, grants and the audit log; never genomic data",
    "none": "nothing: this purpose is refused",
}

#: Audit actions whose ``n_excluded`` is the number of people removed by consent.
_CONSENT_FILTERED_ACTIONS = ("samples", "genotypes", "phenotypes", "allele_counts")

_CONSENT_RULES = {
    "consent.not_withdrawn": "people who withdrew their consent are left out",
    "consent.no_research_opt_out": (
        "people registered to limit use to their own treatment (research opt-out) are left out"
    ),
}


# -- consent ---------------------------------------------------------------------------------
def _words(categories) -> str:
    return ", ".join(c.replace("_", " ") for c in categories)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def consent_summary(history: pd.DataFrame) -> dict:
    """One person's consent in words: current choices, versions, and what they mean.

    Parameters
    ----------
    history
        That person's consent versions, as :func:`workbench.access.store.load_consent_history`
        returns them (one person; any order).

    Returns
    -------
    dict
        ``person_id``; ``current`` (version, signed_on, form_version, signed_by,
        secondary_findings, recontact, research_opt_out, withdrawn); ``choices`` (sentences
        about the current choices); ``meaning`` (``care``, ``research``,
        ``secondary_findings``: what the consent means for each); ``versions`` (one dict per
        version, oldest first, with its date, the change it recorded and its choices).

    Raises
    ------
    InputError
        When the table lacks consent columns, is empty, or holds more than one person.
    """
    if not isinstance(history, pd.DataFrame):
        raise InputError(
            f"history must be a DataFrame from load_consent_history, got {type(history).__name__}"
        )
    missing = [c for c in CONSENT_COLUMNS if c not in history.columns]
    if missing:
        raise InputError(
            f"history must have the consent columns {list(CONSENT_COLUMNS)}; missing {missing}; "
            "use workbench.access.store.load_consent_history"
        )
    people = history["person_id"].unique()
    if len(people) != 1:
        raise InputError(
            f"history must hold one person's consent versions, found {len(people)} people; "
            "pass load_consent_history(conn, person_id=…)"
        )
    history = history.sort_values("version").reset_index(drop=True)
    versions = []
    for row in history.itertuples(index=False):
        versions.append(
            {
                "version": int(row.version),
                "signed_on": str(row.signed_on),
                "form_version": str(row.form_version),
                "signed_by": str(row.signed_by),
                "change": str(row.note),
                "recorded_by": str(row.recorded_by),
                "secondary_findings": list(row.secondary_findings),
                "recontact": bool(row.recontact),
                "research_opt_out": bool(row.research_opt_out),
                "withdrawn": bool(row.withdrawn),
            }
        )
    now = versions[-1]
    current = {k: now[k] for k in now if k not in ("change", "recorded_by")}
    sf = now["secondary_findings"]
    choices = [
        f"Version {now['version']}, signed on {now['signed_on']} ({now['form_version']}, "
        f"signed by {'a guardian' if now['signed_by'] == 'guardian' else 'the person'})."
    ]
    if now["withdrawn"]:
        choices.append("Consent is withdrawn: the genome is no longer used.")
    if len(sf) == len(SECONDARY_FINDING_CATEGORIES):
        choices.append("Secondary findings: wants to hear about all categories.")
    elif sf:
        choices.append(f"Secondary findings: wants to hear only about {_words(sf)}.")
    else:
        choices.append("Secondary findings: wants to hear about none.")
    choices.append(f"Recontact about new knowledge: {_yes(now['recontact'])}.")
    if now["research_opt_out"]:
        choices.append(
            "Research use: opted out — the genome may be used for own treatment only "
            "(registered in the tissue-use register)."
        )
    else:
        choices.append("Research use: allowed (no research opt-out registered).")

    if now["withdrawn"]:
        meaning = {
            "care": "Not used any more, not even for the person's own care.",
            "research": "Not used in research or teaching.",
            "secondary_findings": "None are reported.",
        }
    else:
        meaning = {
            "care": (
                "Usable for the person's own treatment by a treating clinician; a research "
                "opt-out never affects care."
            ),
            "research": (
                "Left out of every research and teaching query."
                if now["research_opt_out"]
                else "May be used, pseudonymised, by approved research projects whose "
                "datasets' DUO codes match the project's purpose."
            ),
            "secondary_findings": (
                f"A treating clinician reports pathogenic findings in {_words(sf)} only; "
                "findings in other categories are withheld (how many is logged, never which)."
                if sf
                else "No secondary findings are reported."
            ),
        }
    return {
        "person_id": str(people[0]),
        "current": current,
        "choices": choices,
        "meaning": meaning,
        "versions": versions,
    }


def consent_history(source, person_id: str) -> pd.DataFrame:
    """A person's consent versions, read through a session or a registry connection.

    Parameters
    ----------
    source
        A :class:`~workbench.access.session.Session` — the read is then decided and audited
        like any other (action ``consent_history``): a treating clinician may read the
        consent of a patient in their care, a data steward anyone's; other purposes are
        refused with :class:`~workbench.errors.AccessDenied`. Or a callable returning a
        registry connection (consent administration outside a session; not audited),
        which is closed after the read.
    person_id
        The person's internal id.
    """
    if not isinstance(person_id, str) or not person_id:
        raise InputError(f"person_id must be an internal id such as 'P00003', got {person_id!r}")
    if hasattr(source, "consent_history"):  # a session, in process or through the service
        return source.consent_history(person_id)
    if not callable(source):
        raise InputError(
            "source must be a Session or a callable returning a registry connection, "
            f"got {type(source).__name__}"
        )
    with contextlib.closing(source()) as conn:
        history = load_consent_history(conn, person_id=person_id)
    if history.empty:
        raise InputError(f"no consent is recorded for {person_id!r}; check the person id")
    return history


# -- access ----------------------------------------------------------------------------------
def _own_latest_entry(session: Session) -> dict | None:
    """The asking user's latest approved, consent-filtered audit entry for this purpose."""
    purpose = purpose_to_dict(session.purpose)
    placeholders = ",".join("?" * len(_CONSENT_FILTERED_ACTIONS))
    with contextlib.closing(
        connect(Path(session.cohort.path) / "registry.sqlite", readonly=True)
    ) as conn:
        rows = conn.execute(
            "SELECT purpose, action, basis, n_excluded, result_size FROM audit_log "
            f"WHERE user_id = ? AND decision = 'approve' AND action IN ({placeholders}) "
            "ORDER BY seq DESC LIMIT 200",
            (session.user, *_CONSENT_FILTERED_ACTIONS),
        ).fetchall()
    for raw_purpose, action, basis, n_excluded, size in rows:
        if json.loads(raw_purpose) == purpose:
            return {
                "action": action,
                "basis": json.loads(basis),
                "n_excluded": int(n_excluded),
                "result_size": int(size),
            }
    return None


def explain_access(session: Session, *, count: bool = True) -> dict:
    """Why this session's view of the data includes or excludes what it does.

    Parameters
    ----------
    session
        An open :class:`~workbench.access.session.Session`.
    count
        With record-level access, make one audited :meth:`Session.samples` read to count the
        people in view and those excluded by consent. With aggregate access (or
        ``count=False``) the count is read from the user's own latest audit entry for this
        purpose, and is ``None`` before their first query.

    Returns
    -------
    dict
        ``user``, ``purpose``, ``outcome`` (approve / deny / abstain), ``reasons`` (the rules
        that decided, ``{"code", "detail"}``), ``scope`` and ``scope_means`` (in words),
        ``datasets`` (research: approved), ``refused_datasets`` (research: the user's own
        grants that were refused, with reasons), ``identifiers`` (how people are labelled),
        ``consent_rules`` (what consent removes, in words), ``people_in_view`` and
        ``excluded_by_consent`` (counts or ``None``), and ``summary`` (sentences).
        Never a person id or pseudonym, never another user's grant.
    """
    if not isinstance(session, Session):
        if hasattr(session, "explain"):  # a session held by the data-access service
            return session.explain(count=count)
        raise InputError(f"session must be a workbench Session, got {type(session).__name__}")
    decision = session.decision()
    purpose = session.purpose
    scope = decision["scope"] if decision["outcome"] == "approve" else "none"
    out = {
        "user": session.user,
        "purpose": purpose_to_dict(purpose),
        "outcome": decision["outcome"],
        "reasons": decision["reasons"],
        "scope": scope,
        "scope_means": SCOPE_MEANING.get(scope, SCOPE_MEANING["none"]),
        "datasets": list(decision["datasets"]),
        "refused_datasets": [
            {"dataset": r["dataset"], "outcome": r["outcome"], "reasons": r["reasons"]}
            for r in decision.get("refused", [])
        ],
        "identifiers": _identifiers(purpose, scope),
        "consent_rules": [],
        "people_in_view": None,
        "excluded_by_consent": None,
    }
    if scope in ("record", "aggregate"):
        out["consent_rules"] = [
            _CONSENT_RULES[r]
            for r in ("consent.not_withdrawn", "consent.no_research_opt_out")
            if r == "consent.not_withdrawn" or not isinstance(purpose, Treatment)
        ]
        if scope == "record" and count:
            out["people_in_view"] = len(session.samples())
        entry = _own_latest_entry(session)
        if entry is not None:
            out["excluded_by_consent"] = entry["n_excluded"]
            if entry["action"] == "samples" and out["people_in_view"] is None:
                out["people_in_view"] = entry["result_size"]
    out["summary"] = _summary(out)
    return out


def _identifiers(purpose, scope: str) -> str:
    if scope == "none":
        return "none"
    if isinstance(purpose, Treatment):
        return "internal person ids (care)"
    if isinstance(purpose, Research):
        return f"pseudonyms specific to project {purpose.project}"
    if isinstance(purpose, Teaching):
        return "teaching pseudonyms"
    return "none (no people's data)"


def _summary(x: dict) -> list[str]:
    lines = [f"Access {x['outcome']}: " + "; ".join(r["detail"] for r in x["reasons"]) + "."]
    lines.append(f"Scope: {x['scope_means']}.")
    if x["datasets"]:
        lines.append("Approved datasets: " + ", ".join(x["datasets"]) + ".")
    for r in x["refused_datasets"]:
        why = "; ".join(reason["detail"] for reason in r["reasons"])
        lines.append(f"Refused dataset {r['dataset']}: {why}.")
    if x["consent_rules"]:
        lines.append("Consent: " + "; ".join(x["consent_rules"]) + ".")
    if x["people_in_view"] is not None:
        lines.append(f"People in view: {x['people_in_view']}.")
    if x["excluded_by_consent"] is not None:
        lines.append(f"Excluded by consent: {x['excluded_by_consent']} (a count, never who).")
    elif x["scope"] in ("record", "aggregate"):
        lines.append("Excluded by consent: known after your first query.")
    return lines


# -- notebook helpers ------------------------------------------------------------------------
def attempt(fn: Callable, *args, **kwargs) -> tuple[object, str | None]:
    """Call ``fn(*args, **kwargs)``; an access refusal becomes a reason instead of an error.

    Returns ``(value, None)`` when the call succeeds and ``(None, reason)`` when the access
    layer refuses it (:class:`~workbench.errors.AccessDenied` and its subclasses, such as a
    consent or disclosure refusal). Any other error propagates.
    """
    if not callable(fn):
        raise InputError(f"fn must be callable, got {type(fn).__name__}")
    try:
        return fn(*args, **kwargs), None
    except AccessDenied as e:
        codes = f" [{', '.join(e.reasons)}]" if e.reasons else ""
        return None, f"{e}{codes}"


def patients_of(cohort, *, user: str, today: str | None = None) -> list[str]:
    """The probands in ``user``'s current care (their own worklist), sorted.

    A clinician needs a patient id to open a ``Treatment`` session; this lists only people
    the user already treats, so it tells them nothing new. Empty for anyone else.
    """
    return list(worklist(cohort, user=user, today=today))


def worklist(cohort, *, user: str, today: str | None = None) -> dict[str, str]:
    """``{proband: family}`` for the probands in ``user``'s current care, sorted by proband.

    In process this reads the registry's care relationships; through the data-access service
    (a cohort from :func:`workbench.connect`) the service answers, for the token's own user on
    the service's date only.
    """
    if not isinstance(user, str) or not user:
        raise InputError(f"user must be a user id such as 'dr.jensen', got {user!r}")
    if hasattr(cohort, "worklist"):  # a cohort behind the data-access service
        if user != cohort.user or today is not None:
            raise InputError(
                f"through the service you see your own worklist ({cohort.user!r}) on the "
                "service's date only"
            )
        return cohort.worklist()
    with contextlib.closing(connect(Path(cohort.path) / "registry.sqlite", readonly=True)) as conn:
        if today is None:
            row = conn.execute("SELECT value FROM meta WHERE key = 'reference_date'").fetchone()
            if row is None:
                raise InputError("the registry has no reference date; pass today='YYYY-MM-DD'")
            today = row[0]
        rows = conn.execute(
            "SELECT DISTINCT c.person_id, f.family_id FROM care_relationships c "
            "JOIN families f ON f.proband_id = c.person_id "
            "WHERE c.user_id = ? AND c.since <= ? AND (c.until IS NULL OR ? <= c.until) "
            "ORDER BY c.person_id",
            (user, today, today),
        ).fetchall()
    return {r[0]: r[1] for r in rows}


def view_overlap(a: Session, b: Session, *, labels: tuple[set, set] | None = None) -> dict:
    """How two views of one cohort overlap, as counts only (never who).

    The caller holds both sessions, so may see both views; this compares them without
    showing a single id. Each session's view is read once through its own audited
    :meth:`~Session.samples` call; people are matched on the service side with the
    sessions' own decision and consent rules.

    Returns
    -------
    dict
        ``in_a``, ``in_b`` (people in each view), ``in_both`` (people in both) and
        ``shared_labels`` (labels that appear in both results: 0 when the projects' pseudonyms
        cannot be joined).
    """
    if hasattr(a, "overlap_with"):  # sessions held by the data-access service
        return a.overlap_with(b)
    for name, s in (("a", a), ("b", b)):
        if not isinstance(s, Session):
            raise InputError(f"{name} must be a workbench Session, got {type(s).__name__}")
    if Path(a.cohort.path).resolve() != Path(b.cohort.path).resolve():
        raise InputError("both sessions must be on the same cohort")
    if labels is None:  # the labels each session shows (read through each, audited)
        labels = (set(a.samples().sample_id), set(b.samples().sample_id))
    labels_a, labels_b = labels
    with contextlib.closing(connect(Path(a.cohort.path) / "registry.sqlite", readonly=True)) as c:
        views = []
        for s in (a, b):
            access = evaluate(c, s.user, s.purpose, today=s.today)
            views.append(set(consent_filter(c, access.people, s.purpose)[0]))
    return {
        "in_a": len(labels_a),
        "in_b": len(labels_b),
        "in_both": len(views[0] & views[1]),
        "shared_labels": len(labels_a & labels_b),
    }
