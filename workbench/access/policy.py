"""Who may see what, for which purpose: the access decisions, as plain functions.

A request is (principal, purpose). :func:`evaluate` decides it against the registry as it is
*now* — it is called again for every read, so a withdrawn consent, a revoked or expired grant
or an ended care relationship takes effect on the very next call, also inside an open session.

=================  ==============================================  ==========================
purpose            who, and on what basis                          people in scope
=================  ==============================================  ==========================
``Treatment(p)``   a clinician with a current care relationship    ``p`` and the relatives in
                   to ``p``; the research opt-out does not apply   ``p``'s family the same
                   (it never affects a patient's own care)         clinician cares for
``Research(j)``    a researcher with accepted terms and researcher members of the datasets
                   status, holding a current grant of project      whose DUO codes match the
                   ``j``; DUO matching per dataset (an abstaining  project's purpose, minus
                   match is admitted only by the committee's       research opt-outs and
                   grant, and IRB only with an ethics approval)    withdrawn consents
``Teaching()``     a trainer or student with accepted terms;      everyone but opt-outs and
                   students get aggregates only, unless sandbox    withdrawn consents
``Stewardship()``  a data steward: consents, grants and audit,    nobody's genotypes
                   never genotypes
=================  ==============================================  ==========================

Everything fails closed: an unknown user, purpose, project or code denies, and so does an
exception while deciding (the session turns it into a denial).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import sqlite3
from collections.abc import Iterable

from ..errors import InputError
from .duo import Decision, ResearchPurpose, approve, combine, deny, match_dataset
from .store import load_consents

__all__ = [
    "Access",
    "Principal",
    "Research",
    "Stewardship",
    "Teaching",
    "Treatment",
    "evaluate",
    "load_principal",
    "parse_purpose",
    "purpose_to_dict",
    "secondary_finding_choice",
]


# -- purposes --------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Treatment:
    """Clinical care of one patient (their internal person id)."""

    patient: str


@dataclasses.dataclass(frozen=True)
class Research:
    """Work on an approved research project."""

    project: str


@dataclasses.dataclass(frozen=True)
class Teaching:
    """Courses on the synthetic cohort; ``sandbox`` allows record-level reads for students."""

    sandbox: bool = False


@dataclasses.dataclass(frozen=True)
class Stewardship:
    """Data stewardship: consent administration, grants, audit verification."""


_PURPOSES = {
    "treatment": Treatment,
    "research": Research,
    "teaching": Teaching,
    "stewardship": Stewardship,
}


def purpose_to_dict(purpose) -> dict:
    """A JSON-ready description of a purpose (``{"kind": "treatment", "patient": …}``)."""
    for kind, cls in _PURPOSES.items():
        if isinstance(purpose, cls):
            return {"kind": kind, **dataclasses.asdict(purpose)}
    raise InputError(
        f"purpose must be Treatment(patient=…), Research(project=…), Teaching() or "
        f"Stewardship(), got {purpose!r}"
    )


def parse_purpose(value):
    """A purpose object from itself or from :func:`purpose_to_dict`'s dict."""
    if isinstance(value, tuple(_PURPOSES.values())):
        return value
    if isinstance(value, dict) and value.get("kind") in _PURPOSES:
        fields = {k: v for k, v in value.items() if k != "kind"}
        try:
            return _PURPOSES[value["kind"]](**fields)
        except TypeError as e:
            raise InputError(f"purpose {value!r} has unexpected fields: {e}") from None
    purpose_to_dict(value)  # raises the explanatory error
    raise AssertionError("unreachable")  # pragma: no cover


# -- principals ------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Principal:
    """A user as the registry knows them (a GA4GH Passport's visas, in miniature)."""

    user_id: str
    role: str
    affiliation: str
    for_profit: bool
    accepted_terms: str | None
    researcher_status_by: str | None


def load_principal(conn: sqlite3.Connection, user_id: str) -> Principal | None:
    """The principal ``user_id``, or ``None`` when unknown."""
    row = conn.execute(
        "SELECT user_id, role, affiliation, organisation_for_profit, accepted_terms, "
        "researcher_status_by FROM principals WHERE user_id = ?",
        (user_id,),
    ).fetchone()
    if row is None:
        return None
    return Principal(row[0], row[1], row[2], bool(row[3]), row[4], row[5])


# -- decisions -------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Access:
    """The outcome of :func:`evaluate`.

    Attributes
    ----------
    decision
        Approve / deny / abstain with reasons (only approve admits anything).
    scope
        ``"record"`` (individual-level data), ``"aggregate"`` (counts only), ``"admin"``
        (stewardship: no genomic data) or ``"none"``.
    people
        The people the purpose may reach before consent filters; empty when denied.
    datasets
        Research: the datasets whose use was approved.
    refused
        Research: the user's own granted datasets that were refused, each with its decision
        (expired or revoked grant, a DUO mismatch, an obsolete code …).
    """

    decision: Decision
    scope: str = "none"
    people: frozenset[str] = frozenset()
    datasets: tuple[str, ...] = ()
    refused: tuple[tuple[str, Decision], ...] = ()

    @property
    def approved(self) -> bool:
        return self.decision.approved


def _denied(code: str, detail: str) -> Access:
    return Access(deny(code, detail))


def _active(since: str | None, until: str | None, today: str) -> bool:
    return (since is None or since <= today) and (until is None or today <= until)


#: The entitlement a data steward grants a student for record-level teaching reads.
SANDBOX = "teaching.sandbox"


def evaluate(
    conn: sqlite3.Connection,
    user_id: str,
    purpose,
    *,
    today: str,
    entitlements: frozenset[str] | None = None,
) -> Access:
    """Decide whether ``user_id`` may work for ``purpose`` on ``today`` (ISO date).

    ``entitlements`` are what a steward granted the user beyond their role, as the
    data-access service records them; ``None`` (the cooperative in-process mode) takes a
    teaching purpose's ``sandbox`` at its word.
    """
    purpose = parse_purpose(purpose)
    principal = load_principal(conn, user_id)
    if principal is None:
        return _denied("access.unknown_user", "no such user in the registry")
    if isinstance(purpose, Treatment):
        return _treatment(conn, principal, purpose, today)
    if isinstance(purpose, Research):
        return _research(conn, principal, purpose, today)
    if isinstance(purpose, Teaching):
        return _teaching(conn, principal, purpose, entitlements)
    return _stewardship(principal)


def _treatment(conn, principal: Principal, purpose: Treatment, today: str) -> Access:
    if principal.role != "clinician":
        return _denied("treatment.not_a_clinician", f"role {principal.role} cannot treat patients")
    row = conn.execute(
        "SELECT family_id FROM samples WHERE person_id = ?", (purpose.patient,)
    ).fetchone()
    cares = {
        pid
        for pid, since, until in conn.execute(
            "SELECT person_id, since, until FROM care_relationships WHERE user_id = ?",
            (principal.user_id,),
        )
        if _active(since, until, today)
    }
    # The same answer for an unknown patient and for someone else's patient: a clinician
    # learns nothing about people outside their care.
    if row is None or purpose.patient not in cares:
        return _denied(
            "treatment.no_care_relationship", "no current care relationship to this patient"
        )
    people = {purpose.patient}
    if row[0] is not None:
        family = {
            r[0]
            for r in conn.execute("SELECT person_id FROM samples WHERE family_id = ?", (row[0],))
        }
        people |= family & cares
    return Access(
        approve("treatment.care_relationship", "current care relationship to the patient"),
        scope="record",
        people=frozenset(people),
    )


def _research(conn, principal: Principal, purpose: Research, today: str) -> Access:
    if principal.role != "researcher":
        return _denied("research.not_a_researcher", f"role {principal.role} cannot do research")
    if not principal.accepted_terms or not principal.researcher_status_by:
        return _denied(
            "research.not_registered",
            "registered access needs accepted terms and a researcher status",
        )
    project = conn.execute(
        "SELECT purpose, commercial, ethics_approval_id FROM projects WHERE project_id = ?",
        (purpose.project,),
    ).fetchone()
    if project is None:
        return _denied("research.unknown_project", "no such project")
    grants = conn.execute(
        "SELECT g.dataset_id, g.granted_on, g.expires_on, g.revoked_on, d.duo_permission, "
        "d.disease_term, d.modifiers FROM project_grants g JOIN datasets d USING (dataset_id) "
        "WHERE g.project_id = ? AND g.user_id = ? ORDER BY g.dataset_id, g.granted_on",
        (purpose.project, principal.user_id),
    ).fetchall()
    if not grants:
        return _denied("research.no_grant", "no data access committee grant for this project")
    try:
        rp = ResearchPurpose.from_registry(
            project[0], commercial=bool(project[1]), for_profit=principal.for_profit
        )
    except InputError:
        return _denied("research.bad_purpose", "the project's recorded purpose is not understood")
    admitted, refusals = [], []
    for dataset, granted, expires, revoked, permission, disease, modifiers in grants:
        if revoked is not None and revoked <= today:
            refusals.append(
                (dataset, deny("research.grant_revoked", f"grant for {dataset} was revoked"))
            )
            continue
        if not (granted <= today < expires):
            refusals.append(
                (dataset, deny("research.grant_expired", f"grant for {dataset} is not in force"))
            )
            continue
        match = match_dataset(rp, permission, tuple(json.loads(modifiers)), disease_term=disease)
        if match.outcome == "abstain":
            # No automatic answer: the committee decided by granting, but duties still hold.
            if any(r.code == "duo.needs_review.irb" for r in match.reasons) and not project[2]:
                refusals.append(
                    (
                        dataset,
                        deny(
                            "research.no_ethics_approval",
                            f"{dataset} requires an ethics approval id",
                        ),
                    )
                )
                continue
            match = approve(
                "research.committee_grant", f"{dataset}: admitted by the committee's grant"
            )
        if match.approved:
            admitted.append((dataset, match))
        else:
            refusals.append((dataset, match))
    if not admitted:
        return Access(
            combine(*(d for _, d in refusals))
            if refusals
            else deny("research.no_grant", "no grant"),
            refused=tuple(refusals),
        )
    datasets = tuple(d for d, _ in admitted)
    placeholders = ",".join("?" * len(datasets))
    people = frozenset(
        r[0]
        for r in conn.execute(
            f"SELECT DISTINCT person_id FROM dataset_members WHERE dataset_id IN ({placeholders})",
            datasets,
        )
    )
    return Access(
        combine(*(m for _, m in admitted)),
        scope="record",
        people=people,
        datasets=datasets,
        refused=tuple(refusals),
    )


def _teaching(conn, principal: Principal, purpose: Teaching, entitlements) -> Access:
    if principal.role not in ("trainer", "student"):
        return _denied("teaching.not_teaching_role", f"role {principal.role} does not teach")
    if not principal.accepted_terms:
        return _denied("teaching.terms_not_accepted", "accept the teaching terms first")
    if (
        principal.role == "student"
        and purpose.sandbox
        and entitlements is not None
        and SANDBOX not in entitlements
    ):
        return _denied(
            "teaching.sandbox_not_granted",
            "record-level teaching reads need the sandbox entitlement; ask a data steward",
        )
    everyone = frozenset(r[0] for r in conn.execute("SELECT person_id FROM samples"))
    if principal.role == "student" and not purpose.sandbox:
        return Access(
            approve("teaching.student_aggregates", "students see aggregates"),
            scope="aggregate",
            people=everyone,
        )
    return Access(
        approve("teaching.synthetic_cohort", "synthetic teaching cohort"),
        scope="record",
        people=everyone,
    )


def _stewardship(principal: Principal) -> Access:
    if principal.role != "steward":
        return _denied("stewardship.not_a_steward", f"role {principal.role} is not a steward")
    return Access(approve("stewardship.steward", "data steward"), scope="admin")


# -- per-person consent ----------------------------------------------------------------------
#: Up to this many people, consents are looked up by person (within SQLite's 999 variables).
_LOOKUP_AT_MOST = 500


def consent_filter(
    conn: sqlite3.Connection, people: Iterable[str], purpose
) -> tuple[list[str], int, tuple[str, ...]]:
    """Apply each person's current consent to the people a purpose may reach.

    Returns the admitted ids (sorted), how many were excluded (never who), and the rules
    applied. Treatment drops only withdrawn consents — the research opt-out never affects a
    patient's own care; every other purpose also drops research opt-outs. A person without a
    consent is excluded (fail closed).
    """
    purpose = parse_purpose(purpose)
    people = set(people)
    rules = ["consent.not_withdrawn"]
    condition = "withdrawn = 0"
    if not isinstance(purpose, Treatment):
        condition += " AND research_opt_out = 0"
        rules.append("consent.no_research_opt_out")
    # Over the consents' primary key, reading only the three columns needed (building the full
    # consent table cost ~1 s at 60,000 people). With max(), SQLite takes the bare columns from
    # the row holding the maximum: each person's current version. A few people (a family in
    # care) are looked up by key; many, in one pass over the whole table.
    few = len(people) <= _LOOKUP_AT_MOST
    where = f"WHERE person_id IN ({','.join('?' * len(people))}) " if few else ""
    current = conn.execute(
        "SELECT person_id FROM (SELECT person_id, withdrawn, research_opt_out, max(version) "
        f"FROM consents {where}GROUP BY person_id) WHERE {condition}",
        sorted(people) if few else (),
    )
    admitted = sorted(p for (p,) in current if p in people)
    return admitted, len(people) - len(admitted), tuple(rules)


def secondary_finding_choice(conn: sqlite3.Connection, person_id: str) -> tuple[str, ...]:
    """The ACMG SF categories the person chose to hear about (empty: none, or no consent)."""
    consents = load_consents(conn)
    row = consents[consents.person_id == person_id]
    if row.empty or bool(row.withdrawn.iloc[0]):
        return ()
    return tuple(row.secondary_findings.iloc[0])


def today_of(conn: sqlite3.Connection) -> str:
    """The synthetic world's 'today': the registry's reference date (a fixed clock)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'reference_date'").fetchone()
    if row is None:
        return _dt.date.today().isoformat()
    return row[0]
