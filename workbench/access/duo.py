"""Decisions and GA4GH Data Use Ontology (DUO) matching: may this purpose use this dataset?

Everything here is a pure function of its arguments. :class:`Decision` is the one result type
of the access layer (approve / deny / abstain, with machine-readable :class:`Reason` codes);
:func:`match_dataset` compares a project's :class:`ResearchPurpose` with one dataset's DUO
permission and modifiers.

The matching rules
------------------
The "version 3" rules of the Broad Institute's Data Use Oversight System (DUOS), written from
their published summary:

=================  =====  =====  =====  ===========  =====
purpose \\ dataset  NRES   GRU    HMB    DS(Y)        POA
=================  =====  =====  =====  ===========  =====
disease X          yes    yes    yes    Y = X or an  no
                                        ancestor of X
hmb                yes    yes    yes    no           no
methods            yes    yes    yes    yes          yes
ancestry           yes    yes    no     no           yes
gru                yes    yes    no     no           no
=================  =====  =====  =====  ===========  =====

Modifiers then narrow the answer: NMDS denies a methods purpose, NPOA an ancestry purpose;
NCU, NPU and NPUNCU deny a commercial purpose or a requester from a for-profit organisation
(DUOS treats the three alike; this is stricter than a literal reading of NCU alone). Duties
and limitations a program cannot check — IRB, COL, PUB, MOR, GSO, GS, RS, US, PS, IS, TS,
RTN and any other modifier the workbench does not interpret — make the decision **abstain**:
a data access committee must decide, and abstain is never an approval. CC (clinical care use)
widens rather than narrows a permission and does not change a research decision.

The matcher fails closed: a missing permission, a code not in
:data:`workbench.access.schema.DUO_TERMS`, an obsolete code (DUO:0000005, DUO:0000014), a
modifier given as the permission (or the reverse) and a DS permission without a disease term
all deny.

References
----------
GA4GH Data Use Ontology, https://github.com/EBISPOT/DUO (CC BY 4.0).
Lawson J. et al. (2021) The Data Use Ontology to streamline responsible access to human
biomedical datasets. Cell Genomics 1(2):100028.
DUOS, Data Use Oversight System, Broad Institute (matching algorithm "v3").
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from ..errors import InputError
from .schema import DUO_TERMS

__all__ = [
    "ABSTAIN_MODIFIERS",
    "DISEASE_LABELS",
    "DISEASE_PARENTS",
    "OUTCOMES",
    "PERMISSIONS",
    "RESEARCH_PURPOSE_KINDS",
    "Decision",
    "Reason",
    "ResearchPurpose",
    "abstain",
    "approve",
    "combine",
    "deny",
    "disease_ancestors",
    "match_dataset",
    "match_datasets",
]

#: The three outcomes, from weakest to strongest when decisions are combined.
OUTCOMES = ("approve", "abstain", "deny")

#: Kinds of research purpose: a disease (with a MONDO term), health/medical/biomedical,
#: methods development, population origins/ancestry, and general research use.
RESEARCH_PURPOSE_KINDS = ("disease", "hmb", "methods", "ancestry", "gru")

#: DUO permission codes by abbreviation (the current, non-obsolete ones).
PERMISSIONS = {
    "NRES": "DUO:0000004",
    "GRU": "DUO:0000042",
    "HMB": "DUO:0000006",
    "DS": "DUO:0000007",
    "POA": "DUO:0000011",
}

_NMDS, _NPOA = "DUO:0000015", "DUO:0000044"
_NCU, _NPU, _NPUNCU = "DUO:0000046", "DUO:0000045", "DUO:0000018"
_CC = "DUO:0000043"

#: Modifiers that make a decision abstain: they state a duty or a limitation (ethics approval,
#: collaboration, publication, moratorium, genetic studies only, geography, research-,
#: user-, project- or institution-specific terms, time limit, return of derived data) that a
#: program cannot check. Any other modifier the matcher does not interpret abstains too.
ABSTAIN_MODIFIERS = frozenset(
    {
        "DUO:0000021",  # IRB
        "DUO:0000020",  # COL
        "DUO:0000019",  # PUB
        "DUO:0000024",  # MOR
        "DUO:0000016",  # GSO
        "DUO:0000022",  # GS
        "DUO:0000012",  # RS
        "DUO:0000026",  # US
        "DUO:0000027",  # PS
        "DUO:0000028",  # IS
        "DUO:0000025",  # TS
        "DUO:0000029",  # RTN
    }
)

#: A tiny, hand-made excerpt of the MONDO disease hierarchy: term -> parent terms.
#:
#: It covers the terms the synthetic registry uses (epilepsy, MONDO:0005027, for the
#: ``EPI-DS`` dataset and the ``EPI-7`` project), a descendant of it (Dravet syndrome) and an
#: unrelated branch (cancer) so that disease-specific matching has cases to show. Parent
#: links are simplified (several intermediate MONDO classes are skipped). It is **not**
#: MONDO: a real deployment passes ``disease_ancestors`` backed by the full ontology.
DISEASE_PARENTS: dict[str, tuple[str, ...]] = {
    "MONDO:0000001": (),  # disease
    "MONDO:0005071": ("MONDO:0000001",),  # nervous system disorder
    "MONDO:0002602": ("MONDO:0005071",),  # central nervous system disorder
    "MONDO:0005560": ("MONDO:0002602",),  # brain disorder
    "MONDO:0005027": ("MONDO:0005560",),  # epilepsy
    "MONDO:0100135": ("MONDO:0005027",),  # Dravet syndrome (intermediate classes skipped)
    "MONDO:0004992": ("MONDO:0000001",),  # cancer
    "MONDO:0007254": ("MONDO:0004992",),  # breast cancer
}

#: Labels of the terms in :data:`DISEASE_PARENTS`, for messages.
DISEASE_LABELS: dict[str, str] = {
    "MONDO:0000001": "disease",
    "MONDO:0005071": "nervous system disorder",
    "MONDO:0002602": "central nervous system disorder",
    "MONDO:0005560": "brain disorder",
    "MONDO:0005027": "epilepsy",
    "MONDO:0100135": "Dravet syndrome",
    "MONDO:0004992": "cancer",
    "MONDO:0007254": "breast cancer",
}

_MONDO = re.compile(r"MONDO:\d{7}")
_DUO = re.compile(r"DUO:\d{7}")
_CODE = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)*")

# Which permission (abbreviation) allows which purpose kind; DS is handled separately for
# disease purposes (it depends on the disease terms).
_ALLOWS = {
    "NRES": frozenset(RESEARCH_PURPOSE_KINDS),
    "GRU": frozenset(RESEARCH_PURPOSE_KINDS),
    "HMB": frozenset({"disease", "hmb", "methods"}),
    "DS": frozenset({"methods"}),
    "POA": frozenset({"methods", "ancestry"}),
}


# -- decisions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    """Why a decision came out as it did.

    Attributes
    ----------
    code
        Machine-readable, dotted (``"duo.obsolete_code"``, ``"duo.needs_review.irb"`` …);
        tests and the audit log's ``basis`` use it.
    detail
        One line for people. Never contains a person identifier or key material.
    """

    code: str
    detail: str

    def __post_init__(self):
        if not isinstance(self.code, str) or not _CODE.fullmatch(self.code):
            raise InputError(
                f"Reason.code must be dotted lower-case words such as 'duo.obsolete_code', "
                f"got {self.code!r}"
            )
        if not isinstance(self.detail, str):
            raise InputError(f"Reason.detail must be a str, got {type(self.detail).__name__}")

    def to_dict(self) -> dict[str, str]:
        """``{"code": …, "detail": …}``."""
        return {"code": self.code, "detail": self.detail}


@dataclass(frozen=True)
class Decision:
    """Approve, deny or abstain, with the reasons that explain the outcome.

    Abstain means "no automatic answer: a person (a data access committee) decides"; it is
    never an approval — :attr:`approved` is true only for ``"approve"``.
    """

    outcome: str
    reasons: tuple[Reason, ...] = ()

    def __post_init__(self):
        if self.outcome not in OUTCOMES:
            raise InputError(f"Decision.outcome must be one of {OUTCOMES}, got {self.outcome!r}")
        reasons = tuple(self.reasons)
        if not all(isinstance(r, Reason) for r in reasons):
            raise InputError("Decision.reasons must be Reason objects")
        object.__setattr__(self, "reasons", reasons)

    @property
    def approved(self) -> bool:
        """True only for ``"approve"`` (abstain and deny both refuse)."""
        return self.outcome == "approve"

    @property
    def codes(self) -> tuple[str, ...]:
        """The reason codes, in order."""
        return tuple(r.code for r in self.reasons)

    def to_dict(self) -> dict:
        """A JSON-serialisable dict: ``{"outcome": …, "reasons": [{"code", "detail"} …]}``."""
        return {"outcome": self.outcome, "reasons": [r.to_dict() for r in self.reasons]}


def approve(code: str, detail: str) -> Decision:
    """An approving decision with one reason."""
    return Decision("approve", (Reason(code, detail),))


def deny(code: str, detail: str) -> Decision:
    """A denying decision with one reason."""
    return Decision("deny", (Reason(code, detail),))


def abstain(code: str, detail: str) -> Decision:
    """An abstaining decision (a committee must decide) with one reason."""
    return Decision("abstain", (Reason(code, detail),))


def combine(*decisions: Decision) -> Decision:
    """Combine decisions: deny beats abstain, abstain beats approve.

    The result keeps the reasons of every decision that has the winning outcome, in order
    (so an approval lists every rule that admitted the data, and a denial every rule that
    refused it). Combining nothing denies (``decision.nothing_decided``): no rule approved.
    """
    for d in decisions:
        if not isinstance(d, Decision):
            raise InputError(f"combine() takes Decision objects, got {type(d).__name__}")
    if not decisions:
        return deny("decision.nothing_decided", "no rule was applied, so nothing approves")
    outcome = max((d.outcome for d in decisions), key=OUTCOMES.index)
    reasons = tuple(r for d in decisions if d.outcome == outcome for r in d.reasons)
    return Decision(outcome, reasons)


# -- research purposes ----------------------------------------------------------------------


@dataclass(frozen=True)
class ResearchPurpose:
    """What a project wants to do with data, in DUO matching terms.

    Attributes
    ----------
    kind
        One of :data:`RESEARCH_PURPOSE_KINDS`.
    disease
        The MONDO term of a ``"disease"`` purpose (``None`` for the other kinds).
    commercial
        The research itself is commercial (``projects.commercial``).
    for_profit
        The requester works for a for-profit organisation
        (``principals.organisation_for_profit``).
    """

    kind: str
    disease: str | None = None
    commercial: bool = False
    for_profit: bool = False

    def __post_init__(self):
        if self.kind not in RESEARCH_PURPOSE_KINDS:
            raise InputError(
                f"purpose kind must be one of {RESEARCH_PURPOSE_KINDS}, got {self.kind!r}"
            )
        if self.kind == "disease":
            if not isinstance(self.disease, str) or not _MONDO.fullmatch(self.disease):
                raise InputError(
                    f"a disease purpose needs a MONDO term such as 'MONDO:0005027', "
                    f"got {self.disease!r}"
                )
        elif self.disease is not None:
            raise InputError(
                f"only a 'disease' purpose names a disease; got kind {self.kind!r} with "
                f"disease {self.disease!r}"
            )
        for name in ("commercial", "for_profit"):
            if not isinstance(getattr(self, name), bool):
                raise InputError(
                    f"ResearchPurpose.{name} must be a bool, got {getattr(self, name)!r}"
                )

    @classmethod
    def from_registry(
        cls, purpose, *, commercial: bool = False, for_profit: bool = False
    ) -> ResearchPurpose:
        """Parse ``projects.purpose`` (JSON text or a dict) into a purpose.

        Parameters
        ----------
        purpose
            ``{"kind": …}`` plus ``"disease"`` for a disease purpose, as the registry stores
            it. Any other key is refused: a purpose the matcher does not understand must not
            be matched as if it were simpler.
        commercial, for_profit
            From ``projects.commercial`` and the requester's
            ``principals.organisation_for_profit`` (0/1 integers are accepted).

        Raises
        ------
        InputError
            Invalid JSON, not an object, an unknown kind or key, or a disease purpose without
            a MONDO term.
        """
        if isinstance(purpose, str | bytes):
            try:
                purpose = json.loads(purpose)
            except ValueError as e:
                raise InputError(
                    f'projects.purpose must be JSON such as \'{{"kind": "hmb"}}\', '
                    f"could not parse it ({e})"
                ) from None
        if not isinstance(purpose, Mapping):
            raise InputError(
                f"a purpose must be a JSON object with 'kind', got {type(purpose).__name__}"
            )
        extra = sorted(set(purpose) - {"kind", "disease"})
        if extra:
            raise InputError(
                f"a purpose has the keys 'kind' and 'disease' only, found also {extra}; "
                "record other project details elsewhere"
            )
        return cls(
            kind=purpose.get("kind"),
            disease=purpose.get("disease"),
            commercial=_flag(commercial, "commercial"),
            for_profit=_flag(for_profit, "for_profit"),
        )

    def to_dict(self) -> dict:
        """The registry's JSON shape plus the two flags."""
        out = {"kind": self.kind}
        if self.disease is not None:
            out["disease"] = self.disease
        out["commercial"] = self.commercial
        out["for_profit"] = self.for_profit
        return out


def _flag(value, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise InputError(f"{name} must be a bool (or 0/1), got {value!r}")


# -- disease hierarchy ------------------------------------------------------------------------


def disease_ancestors(
    term: str, *, parents: Mapping[str, Iterable[str]] = DISEASE_PARENTS
) -> frozenset[str]:
    """Every ancestor of ``term`` in a term -> parents mapping (``term`` itself excluded).

    Unknown terms have no ancestors; cycles in ``parents`` are tolerated.
    """
    seen: set[str] = set()
    stack = list(parents.get(term, ()))
    while stack:
        t = stack.pop()
        if t not in seen:
            seen.add(t)
            stack.extend(parents.get(t, ()))
    seen.discard(term)
    return frozenset(seen)


def _ancestor_function(disease_ancestors_arg) -> Callable[[str], frozenset[str]]:
    if disease_ancestors_arg is None:
        return lambda term: disease_ancestors(term)
    if isinstance(disease_ancestors_arg, Mapping):
        return lambda term: disease_ancestors(term, parents=disease_ancestors_arg)
    if callable(disease_ancestors_arg):
        return lambda term: frozenset(disease_ancestors_arg(term))
    raise InputError(
        "disease_ancestors must be None (the built-in excerpt), a mapping term -> parent "
        f"terms, or a callable term -> ancestor terms; got {type(disease_ancestors_arg).__name__}"
    )


def _label(term: str) -> str:
    return f"{DISEASE_LABELS[term]} ({term})" if term in DISEASE_LABELS else term


# -- matching ---------------------------------------------------------------------------------


def _name(code: str) -> str:
    abbr = DUO_TERMS[code][0] if code in DUO_TERMS else None
    return f"{abbr} ({code})" if abbr else code


def _check_code(code, *, expected_kind: str) -> Decision | None:
    """A deny decision when ``code`` is missing, malformed, unknown, obsolete or mis-kinded."""
    role = "permission" if expected_kind == "permission" else "modifier"
    if code is None or code == "":
        return deny(f"duo.missing_{role}", f"the dataset has no DUO {role}; fail closed")
    if not isinstance(code, str) or not _DUO.fullmatch(code):
        return deny("duo.malformed_code", f"{code!r} is not a DUO code of the form DUO:nnnnnnn")
    if code not in DUO_TERMS:
        return deny("duo.unknown_code", f"{code} is not a DUO term the workbench knows")
    _abbr, label, kind, obsolete = DUO_TERMS[code]
    if obsolete:
        return deny(
            "duo.obsolete_code",
            f"{_name(code)} is obsolete ({label}); the custodian must recode the dataset",
        )
    if kind != expected_kind:
        return deny(
            f"duo.not_a_{role}",
            f"{_name(code)} is a DUO {kind}, found where a {role} belongs",
        )
    return None


def _match_permission(
    purpose: ResearchPurpose, permission: str, disease_term, ancestors
) -> Decision:
    abbr = DUO_TERMS[permission][0]
    kind = purpose.kind
    if abbr == "DS":
        if not isinstance(disease_term, str) or not _MONDO.fullmatch(disease_term):
            return deny(
                "duo.missing_disease_term",
                f"DS ({permission}) needs a MONDO disease term, found {disease_term!r}",
            )
        if kind == "disease":
            target = purpose.disease
            if disease_term == target:
                return approve(
                    "duo.ds.same_disease",
                    f"DS for {_label(disease_term)} allows research on that disease",
                )
            if disease_term in ancestors(target):
                return approve(
                    "duo.ds.ancestor_disease",
                    f"DS for {_label(disease_term)} allows research on {_label(target)}, "
                    "a more specific disease",
                )
            return deny(
                "duo.ds.other_disease",
                f"DS for {_label(disease_term)} does not cover research on {_label(target)}",
            )
    if kind in _ALLOWS[abbr]:
        return approve(
            f"duo.{abbr.lower()}.allows_{kind}",
            f"{_name(permission)} allows {kind} research",
        )
    return deny(
        f"duo.{abbr.lower()}.excludes_{kind}",
        f"{_name(permission)} does not allow {kind} research",
    )


def _match_modifier(purpose: ResearchPurpose, code: str) -> Decision | None:
    abbr = DUO_TERMS[code][0]
    if code == _NMDS and purpose.kind == "methods":
        return deny("duo.nmds", f"{_name(code)}: no general methods research")
    if code == _NPOA and purpose.kind == "ancestry":
        return deny("duo.npoa", f"{_name(code)}: no population origins or ancestry research")
    if code in (_NCU, _NPU, _NPUNCU):
        why = [
            w
            for w, flag in (
                ("the research is commercial", purpose.commercial),
                ("the requester's organisation is for-profit", purpose.for_profit),
            )
            if flag
        ]
        if why:
            return deny(
                f"duo.{abbr.lower()}",
                f"{_name(code)} limits use to non-commercial, not-for-profit research, "
                f"but {' and '.join(why)}",
            )
        return None
    if code in (_NMDS, _NPOA, _CC):
        return None
    # IRB, COL, PUB, MOR, GSO … and any other modifier the matcher does not interpret.
    return abstain(
        f"duo.needs_review.{abbr.lower()}",
        f"{_name(code)}: {DUO_TERMS[code][1]}; a data access committee must decide",
    )


def match_dataset(
    purpose: ResearchPurpose,
    permission: str | None,
    modifiers: Iterable[str] = (),
    *,
    disease_term: str | None = None,
    disease_ancestors=None,
) -> Decision:
    """Match a research purpose against one dataset's DUO codes.

    Parameters
    ----------
    purpose
        The project's purpose (:meth:`ResearchPurpose.from_registry`).
    permission
        The dataset's DUO permission code (``datasets.duo_permission``).
    modifiers
        Its DUO modifier codes (``datasets.modifiers``).
    disease_term
        The MONDO term of a DS permission (``datasets.disease_term``).
    disease_ancestors
        ``None`` for the built-in excerpt :data:`DISEASE_PARENTS`, a mapping term -> parent
        terms, or a callable term -> all ancestor terms.

    Returns
    -------
    Decision
        The combination (:func:`combine`) of the permission's decision and every modifier's.
        Reason codes: ``duo.<perm>.allows_<kind>`` / ``duo.<perm>.excludes_<kind>``,
        ``duo.ds.same_disease`` / ``duo.ds.ancestor_disease`` / ``duo.ds.other_disease``,
        ``duo.nmds``, ``duo.npoa``, ``duo.ncu`` / ``duo.npu`` / ``duo.npuncu``,
        ``duo.needs_review.<abbr>`` (abstain), and the fail-closed denials
        ``duo.missing_permission``, ``duo.malformed_code``, ``duo.unknown_code``,
        ``duo.obsolete_code``, ``duo.not_a_permission``, ``duo.not_a_modifier``,
        ``duo.missing_disease_term``.
    """
    if not isinstance(purpose, ResearchPurpose):
        raise InputError(
            f"purpose must be a ResearchPurpose, got {type(purpose).__name__}; "
            "use ResearchPurpose.from_registry(projects.purpose)"
        )
    if isinstance(modifiers, str):
        raise InputError(
            f"modifiers must be a list of DUO codes, got the string {modifiers!r}; "
            "wrap a single code in a list"
        )
    ancestors = _ancestor_function(disease_ancestors)
    decisions = []
    bad = _check_code(permission, expected_kind="permission")
    decisions.append(
        bad if bad else _match_permission(purpose, permission, disease_term, ancestors)
    )
    for code in modifiers:
        bad = _check_code(code, expected_kind="modifier")
        d = bad if bad else _match_modifier(purpose, code)
        if d is not None:
            decisions.append(d)
    return combine(*decisions)


def match_datasets(
    purpose: ResearchPurpose, datasets: pd.DataFrame, *, disease_ancestors=None
) -> dict[str, Decision]:
    """:func:`match_dataset` for every row of a datasets table, keyed by ``dataset_id``.

    ``datasets`` has the columns of :func:`workbench.access.store.load_datasets`
    (``dataset_id``, ``duo_permission``, ``disease_term``, ``modifiers``).
    """
    needed = ("dataset_id", "duo_permission", "disease_term", "modifiers")
    if not isinstance(datasets, pd.DataFrame) or any(c not in datasets for c in needed):
        raise InputError(
            f"datasets must be a DataFrame with columns {list(needed)} "
            "(workbench.access.store.load_datasets)"
        )
    out = {}
    for row in datasets.itertuples(index=False):
        disease = row.disease_term if isinstance(row.disease_term, str) else None
        mods = row.modifiers
        if isinstance(mods, str):
            mods = json.loads(mods)
        out[row.dataset_id] = match_dataset(
            purpose,
            row.duo_permission,
            tuple(mods),
            disease_term=disease,
            disease_ancestors=disease_ancestors,
        )
    return out
