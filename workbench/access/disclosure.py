"""Output (disclosure) control: a reading library, not a lending library.

Only summary results leave. Before a result is exported:

* :func:`mask_counts` shows every non-zero count below the threshold as ``"<5"`` (zeros stay
  visible) and suppresses further cells (*complementary suppression*) until no small count
  can be worked out exactly from the totals, from the other cells or from the ranges the
  markers reveal (and refuses a table where that is impossible);
* :func:`check_identifiers` refuses any output containing a person id (``P00042``), a
  CPR-shaped national id or a project pseudonym;
* :class:`DifferencingGuard` remembers the populations behind every earlier released count,
  whoever asked, and refuses a new count whose population differs from an earlier one by
  1 … threshold − 1 people (count(A) and count(A minus one person) reveal that person);
* a :class:`DisclosureProfile` sets the threshold and any rounding (Genomics England, All of
  Us, OpenSAFELY).

The masking lives in :mod:`workbench.access.masking`, the guard in
:mod:`workbench.access.differencing`; both are re-exported here.
* :func:`review_export` combines these into one :class:`~workbench.access.duo.Decision`.

Markers in a masked table
-------------------------
``"<5"`` (``f"<{threshold}"``)
    A count from 0 to threshold − 1: a small non-zero count, or (rarely) a zero hidden to
    protect one.
``"*"``
    A count of threshold or more, hidden so that a small count cannot be derived.

The attacker model of the recovery check: every row and column total may be known (shown in
the table, or obtainable from another query) unless ``assume_margins_known=False``; a
``"<5"`` cell holding a non-zero count lies in 1 … threshold − 1, a hidden zero in
0 … threshold − 1, a ``"*"`` cell in threshold … ∞. A small count is *recoverable* when the
linear programme over those facts pins it to a single value (a hidden count >= threshold may
be pinned: that reveals nothing that could not have been shown) (bounds are exact here: the
row/column constraint matrix is totally unimodular). Inference from knowing the suppression
algorithm itself, and from combining several tables, is out of scope — the differencing guard
covers repeated counts, and an airlock reviewer the rest.

References
----------
Genomics England, Airlock rules (small-count suppression below 5, no participant identifiers).
Hundepool A. et al. (2012) Statistical Disclosure Control, ch. 4 (secondary cell suppression).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import InputError
from .differencing import DifferencingGuard
from .duo import Decision, Reason, approve, combine, deny
from .masking import (
    DEFAULT_THRESHOLD,
    SECONDARY_MARKER,
    MaskedTable,
    mask_counts,
    mask_rows,
)
from .pseudonyms import PSEUDONYM_PATTERN

__all__ = [
    "DEFAULT_PROFILE",
    "DEFAULT_THRESHOLD",
    "NATIONAL_ID_PATTERN",
    "PERSON_ID_PATTERN",
    "PROFILES",
    "SECONDARY_MARKER",
    "DifferencingGuard",
    "DisclosureProfile",
    "ExportRequest",
    "MaskedTable",
    "check_identifiers",
    "mask_counts",
    "mask_rows",
    "profile",
    "review_export",
    "round_shown",
]


#: The workbench's internal person ids (``P`` + at least five digits).
PERSON_ID_PATTERN = re.compile(r"(?<![A-Za-z0-9])P\d{5,}(?!\d)")

#: CPR-shaped national ids (``DDMMYY-SSSS``, dash optional).
NATIONAL_ID_PATTERN = re.compile(r"(?<!\d)\d{6}-?\d{4}(?!\d)")


# -- rule profiles ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DisclosureProfile:
    """One trusted research environment's output rules, as a service applies them.

    Attributes
    ----------
    name
        How releases record it (``disclosure.profile.<name>`` in the audit basis).
    threshold
        Non-zero counts below it never leave (masked, with complementary suppression); also
        the smallest group reported and the differencing distance refused.
    round_to
        Shown counts are rounded to the nearest multiple (halves up) after masking, or
        ``None``.
    source
        Where the rule comes from.
    """

    name: str
    threshold: int
    round_to: int | None
    source: str


PROFILES = {
    p.name: p
    for p in (
        DisclosureProfile(
            "genomics-england",
            5,
            None,
            "Genomics England airlock: non-zero counts below 5 shown as <5 and not recoverable",
        ),
        DisclosureProfile(
            "all-of-us",
            21,
            None,
            "All of Us Data and Statistics Dissemination Policy: counts of 1 to 20 not shown",
        ),
        DisclosureProfile(
            "opensafely",
            8,
            5,
            "OpenSAFELY output checking: counts of 7 or fewer redacted, the rest rounded to 5",
        ),
    )
}
DEFAULT_PROFILE = "genomics-england"


def profile(name: str | DisclosureProfile = DEFAULT_PROFILE) -> DisclosureProfile:
    """The :class:`DisclosureProfile` named ``name`` (one of :data:`PROFILES`)."""
    if isinstance(name, DisclosureProfile):
        return name
    if name not in PROFILES:
        raise InputError(f"unknown disclosure profile {name!r}; one of {', '.join(PROFILES)}")
    return PROFILES[name]


def round_shown(table: pd.DataFrame, columns, to: int) -> pd.DataFrame:
    """Round every shown count of ``columns`` to the nearest multiple of ``to`` (halves up);
    masked cells (strings) stay as they are."""
    out = table.copy()
    for c in columns:
        out[c] = [
            int((int(v) + to // 2) // to * to) if isinstance(v, int | np.integer) else v
            for v in out[c]
        ]
    return out


# -- identifiers ----------------------------------------------------------------------------


def _strings(obj, depth=0):
    """Every string (and stringified integer) inside a nested result."""
    if depth > 50:
        raise InputError("the result nests more than 50 levels deep; flatten it before export")
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, bool | np.bool_) or obj is None:
        return
    elif isinstance(obj, int | np.integer):
        yield str(int(obj))
    elif isinstance(obj, float | np.floating):
        return
    elif isinstance(obj, MaskedTable):
        yield from _strings(obj.table, depth + 1)
    elif isinstance(obj, pd.DataFrame):
        yield from _strings(list(obj.columns), depth + 1)
        yield from _strings(list(obj.index), depth + 1)
        for col in obj.columns:
            yield from _strings(obj[col].tolist(), depth + 1)
    elif isinstance(obj, pd.Series | pd.Index):
        if obj.name is not None:
            yield from _strings(obj.name, depth + 1)
        if isinstance(obj, pd.Series):
            yield from _strings(list(obj.index), depth + 1)
        yield from _strings(obj.tolist(), depth + 1)
    elif isinstance(obj, np.ndarray):
        yield from _strings(obj.tolist(), depth + 1)
    elif isinstance(obj, Mapping):
        for k, v in obj.items():
            yield from _strings(k, depth + 1)
            yield from _strings(v, depth + 1)
    elif isinstance(obj, list | tuple | set | frozenset):
        for v in obj:
            yield from _strings(v, depth + 1)
    else:
        raise InputError(
            f"an export must be plain values (str, numbers, lists, dicts, DataFrames), "
            f"found {type(obj).__name__}; convert it first"
        )


_IDENTIFIER_RULES = (
    ("disclosure.person_id", PERSON_ID_PATTERN, "a person id"),
    ("disclosure.national_id", NATIONAL_ID_PATTERN, "a national (CPR-shaped) id"),
    ("disclosure.pseudonym", PSEUDONYM_PATTERN, "a project pseudonym"),
)


def check_identifiers(obj) -> Decision:
    """Refuse a result that contains a person id, a CPR-shaped id or a project pseudonym.

    Every string, dict key, column name, index label and integer inside ``obj`` is searched.
    Pseudonyms are refused in exports of any shape: a pseudonym in an output makes it
    record-level. The reasons say which kind was found and how often, never the value.

    Returns
    -------
    Decision
        ``approve`` (``disclosure.no_identifiers``) or ``deny`` with one reason per kind found.
    """
    found = {code: 0 for code, _, _ in _IDENTIFIER_RULES}
    for s in _strings(obj):
        for code, pattern, _ in _IDENTIFIER_RULES:
            found[code] += len(pattern.findall(s))
    denials = [
        deny(code, f"the output contains {n} occurrence(s) of {what}; identifiers never leave")
        for code, _, what in _IDENTIFIER_RULES
        if (n := found[code])
    ]
    if denials:
        return combine(*denials)
    return approve("disclosure.no_identifiers", "no person, national or pseudonymous ids found")


# -- the airlock --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportRequest:
    """A result someone wants to take out, with what the airlock needs to judge it.

    Attributes
    ----------
    user, project
        Who asks, for which project (the differencing history is kept per pair).
    content
        The result: a :class:`MaskedTable`, a DataFrame, or nested dicts/lists of plain values.
    populations
        For each count released, a label -> the person ids it counts (never exported; used
        only by the differencing guard).
    count_columns
        Columns (of a DataFrame) or dict keys (anywhere in nested dicts) holding counts that
        are not already masked: any value 1 … threshold − 1 there is refused.
    record_level
        The result has one row per person: never exported.
    """

    user: str
    project: str
    content: object
    populations: Mapping[str, Iterable[str]] = field(default_factory=dict)
    count_columns: tuple[str, ...] = ()
    record_level: bool = False


def _small_counts(obj, keys: frozenset, threshold: int, depth=0) -> int:
    if depth > 50:
        raise InputError("the result nests more than 50 levels deep; flatten it before export")
    n = 0
    if isinstance(obj, MaskedTable):
        return 0  # masked by construction (its own threshold is checked by the caller)
    if isinstance(obj, pd.DataFrame):
        for col in obj.columns:
            if col in keys:
                n += sum(_is_small(v, threshold) for v in obj[col].tolist())
        return n
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            if k in keys and not isinstance(v, Mapping | list | tuple | pd.DataFrame):
                n += _is_small(v, threshold)
            elif k in keys and isinstance(v, list | tuple):
                n += sum(_is_small(x, threshold) for x in v)
            else:
                n += _small_counts(v, keys, threshold, depth + 1)
        return n
    if isinstance(obj, list | tuple):
        return sum(_small_counts(v, keys, threshold, depth + 1) for v in obj)
    return 0


def _is_small(v, threshold) -> bool:
    if isinstance(v, bool | np.bool_) or not isinstance(v, int | float | np.integer | np.floating):
        return False
    return not math.isnan(v) and 0 < v < threshold


def _masked_tables(obj, depth=0):
    if depth > 50:
        return
    if isinstance(obj, MaskedTable):
        yield obj
    elif isinstance(obj, Mapping):
        for v in obj.values():
            yield from _masked_tables(v, depth + 1)
    elif isinstance(obj, list | tuple):
        for v in obj:
            yield from _masked_tables(v, depth + 1)


def review_export(
    result: ExportRequest, *, history: DifferencingGuard, record: bool = True
) -> Decision:
    """Decide whether a result may leave, judging it together with earlier exports.

    Checks, all of which must pass: not record-level (``disclosure.record_level``); no
    identifiers (:func:`check_identifiers`); no unmasked count below the threshold in
    ``count_columns`` and every :class:`MaskedTable` masked at least at the guard's threshold
    (``disclosure.small_count``); each population not a near-duplicate of an earlier release
    or of another population in the same request (``disclosure.differencing``). A result with
    counts but no populations cannot be judged for differencing: the decision abstains
    (``disclosure.no_population``) and an airlock reviewer decides.

    With ``record`` (the default) an approved request's populations are added to
    ``history``, so the next request is judged against this one.
    """
    if not isinstance(result, ExportRequest):
        raise InputError(f"result must be an ExportRequest, got {type(result).__name__}")
    if not isinstance(history, DifferencingGuard):
        raise InputError(f"history must be a DifferencingGuard, got {type(history).__name__}")
    t = history.threshold
    decisions = []
    if result.record_level:
        decisions.append(
            deny("disclosure.record_level", "record-level data never leave; export summaries")
        )
    decisions.append(check_identifiers(result.content))
    tables = list(_masked_tables(result.content))
    weak = [mt for mt in tables if mt.threshold < t]
    n_small = _small_counts(result.content, frozenset(result.count_columns), t)
    if weak or n_small:
        decisions.append(
            deny(
                "disclosure.small_count",
                f"{n_small} unmasked count(s) below {t} and {len(weak)} table(s) masked at a "
                f"lower threshold; pass the table through mask_counts(threshold={t})",
            )
        )
    else:
        decisions.append(approve("disclosure.small_counts_masked", f"no unmasked count below {t}"))
    has_counts = bool(tables or result.count_columns)
    pops = dict(result.populations)
    if not pops:
        if has_counts:
            decisions.append(
                Decision(
                    "abstain",
                    (
                        Reason(
                            "disclosure.no_population",
                            "the counts come without their populations, so differencing "
                            "cannot be checked; an airlock reviewer must decide",
                        ),
                    ),
                )
            )
    else:
        history._scope(result.user, result.project)
        seen: list[tuple[str, frozenset[bytes]]] = []
        for label, members in pops.items():
            pop = history._population(members)
            d = history._check(pop, extra=seen)
            decisions.append(d)
            seen.append((str(label), pop))
    decision = combine(*decisions)
    if decision.approved and record:
        for label, members in pops.items():
            history.record(
                user=result.user, project=result.project, population=members, label=str(label)
            )
    return decision
