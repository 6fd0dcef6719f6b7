"""Output (disclosure) control: a reading library, not a lending library.

Only summary results leave. Before a result is exported:

* :func:`mask_counts` shows every non-zero count below the threshold as ``"<5"`` (zeros stay
  visible) and suppresses further cells (*complementary suppression*) until no small count
  can be worked out exactly from the totals, from the other cells or from the ranges the
  markers reveal (and refuses a table where that is impossible);
* :func:`check_identifiers` refuses any output containing a person id (``P00042``), a
  CPR-shaped national id or a project pseudonym;
* :class:`DifferencingGuard` remembers the populations behind earlier released counts per
  (user, project) and refuses a new count whose population differs from an earlier one by
  1 … threshold − 1 people (count(A) and count(A minus one person) reveal that person);
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

import hashlib
import json
import math
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import linprog

from ..errors import AuditIntegrityError, DisclosureRefused, InputError
from .duo import Decision, Reason, approve, combine, deny
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

#: Counts below this (and above zero) never leave unmasked.
DEFAULT_THRESHOLD = 5

#: The workbench's internal person ids (``P`` + at least five digits).
PERSON_ID_PATTERN = re.compile(r"(?<![A-Za-z0-9])P\d{5,}(?!\d)")

#: CPR-shaped national ids (``DDMMYY-SSSS``, dash optional).
NATIONAL_ID_PATTERN = re.compile(r"(?<!\d)\d{6}-?\d{4}(?!\d)")

#: Marker of a cell suppressed to protect another (its count is >= the threshold).
SECONDARY_MARKER = "*"

_DISCLOSED = 0.5  # feasible range narrower than one count: the cell is pinned


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


# -- masking --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MaskedTable:
    """A count table fit to leave: small counts masked, complementary cells suppressed.

    Attributes
    ----------
    table
        The input table with its count (and total) columns as objects: ints for shown
        counts, ``f"<{threshold}"`` or :data:`SECONDARY_MARKER` for hidden ones. The original
        values of hidden cells are not kept anywhere in this object.
    primary
        ``(row label, column)`` of the cells masked because they are small (or a hidden zero).
    secondary
        ``(row label, column)`` of the cells suppressed to protect them.
    threshold, count_columns, total_column, total_row
        As passed to :func:`mask_counts`.
    """

    table: pd.DataFrame
    primary: tuple[tuple, ...]
    secondary: tuple[tuple, ...]
    threshold: int
    count_columns: tuple[str, ...]
    total_column: str | None = None
    total_row: object = None

    @property
    def legend(self) -> dict[str, str]:
        """What each marker means."""
        t = self.threshold
        return {
            f"<{t}": f"a count from 0 to {t - 1}",
            SECONDARY_MARKER: f"a count of {t} or more, hidden to protect a small count",
        }

    def to_dict(self) -> dict:
        """Plain JSON-serialisable form: columns, index, rows and the legend."""
        return {
            "columns": [str(c) for c in self.table.columns],
            "index": [_plain(i) for i in self.table.index],
            "rows": [[_plain(v) for v in row] for row in self.table.itertuples(index=False)],
            "legend": self.legend,
            "threshold": self.threshold,
        }


def _plain(v):
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def _check_threshold(threshold) -> int:
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 2:
        raise InputError(f"threshold must be an int >= 2, got {threshold!r}")
    return threshold


def _count_matrix(table: pd.DataFrame, columns: list) -> np.ndarray:
    values = table[columns].to_numpy()
    try:
        as_float = values.astype(float)
    except (TypeError, ValueError):
        raise InputError(
            f"count columns {columns} must hold numbers; found non-numeric values "
            "(mask a table once, from its raw counts)"
        ) from None
    if not np.isfinite(as_float).all() or (as_float < 0).any():
        raise InputError(f"count columns {columns} must hold non-negative finite counts")
    if (as_float != np.round(as_float)).any():
        raise InputError(f"count columns {columns} must hold whole counts")
    return as_float.astype(np.int64)


def _equations(n, m, n_counts, total_col, total_row, assume_known):
    """Linear relations an attacker can use: lists of (cell, coefficient)."""
    eqs = []
    body_cols = range(n_counts)
    body_rows = [i for i in range(n) if i != total_row]
    for i in range(n):
        cells = [((i, j), 1) for j in body_cols]
        if total_col is not None:
            eqs.append([*cells, ((i, total_col), -1)])
        elif assume_known in (True, "rows") and len(cells) >= 2:
            eqs.append(cells)
    for j in range(m):
        cells = [((i, j), 1) for i in body_rows]
        if total_row is not None:
            eqs.append([*cells, ((total_row, j), -1)])
        elif assume_known is True and len(cells) >= 2:
            eqs.append(cells)
    return eqs


def _bounds(values, masked, hidden_zero, threshold):
    out = {}
    for c in masked:
        if values[c] >= threshold:
            out[c] = (threshold, None)
        elif c in hidden_zero:
            out[c] = (0, threshold - 1)
        else:
            out[c] = (1, threshold - 1)
    return out


def _recoverable(values, eqs, masked, hidden_zero, threshold, safe: set, primary):
    """A small (primary) cell the linear programme pins to one value, or None.

    Only small counts need protecting: pinning a hidden count >= threshold reveals nothing
    that could not have been shown (the LP still uses every hidden cell jointly).

    ``safe`` holds cells already shown to have at least two feasible values; it is updated.
    Hiding more cells only widens what is feasible (a known value becomes a range containing
    it), so a safe cell stays safe and later calls skip it. The true table is one feasible
    point; any LP solution that differs from it on a cell proves that cell safe too.
    """
    masked = sorted(masked)
    todo = [c for c in masked if c in primary and c not in safe]
    if not todo:
        return None
    bounds = _bounds(values, masked, hidden_zero, threshold)
    # Connected components of masked cells through shared equations.
    parent = {c: c for c in masked}

    def find(c):
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    relevant = []
    for eq in eqs:
        cells = [c for c, _ in eq if c in parent]
        if cells:
            relevant.append(eq)
            for c in cells[1:]:
                parent[find(c)] = find(cells[0])
    groups: dict = {}
    for c in masked:
        groups.setdefault(find(c), []).append(c)
    eq_groups: dict = {}
    for eq in relevant:
        root = find(next(c for c, _ in eq if c in parent))
        eq_groups.setdefault(root, []).append(eq)

    systems: dict = {}
    for c in todo:
        root = find(c)
        eqs_here = eq_groups.get(root, [])
        if not eqs_here:
            safe.add(c)  # nothing relates this cell to anything known
            continue
        if root not in systems:
            cells = groups[root]
            pos = {x: k for k, x in enumerate(cells)}
            A = np.zeros((len(eqs_here), len(cells)))
            b = np.zeros(len(eqs_here))
            for r, eq in enumerate(eqs_here):
                for x, coef in eq:
                    if x in pos:
                        A[r, pos[x]] += coef
                    else:
                        b[r] -= coef * values[x]
                if _is_margin(eq):  # a known margin not shown: the true sum is the constant
                    b[r] += sum(coef * values[x] for x, coef in eq)
            truth = np.array([values[x] for x in cells], dtype=float)
            systems[root] = (cells, pos, A, b, [bounds[x] for x in cells], truth)
        cells, pos, A, b, lp_bounds, truth = systems[root]
        if c in safe:
            continue
        k = pos[c]
        for sign in (1.0, -1.0):
            obj = np.zeros(len(cells))
            obj[k] = sign
            res = linprog(obj, A_eq=A, b_eq=b, bounds=lp_bounds, method="highs")
            if not res.success:  # pragma: no cover - the true values are feasible
                return c
            moved = np.abs(res.x - truth) >= _DISCLOSED
            safe.update(x for x, m in zip(cells, moved, strict=True) if m)
            if c in safe:
                break
        if c not in safe:
            return c
    return None


def _tight_relation(values, eqs, primary, threshold):
    """A relation that pins a small count however much of the table is hidden, or None.

    Hide every cell: a small count lies in 1 … t−1, a zero in 0 … t−1, any other count in
    t … ∞. If a relation's sum can then only reach its constant with every cell at a bound
    (``[1, 5, 5]`` with a known total of 11, or ``[4, 4, 4]`` with 12), nothing can protect
    it — detected up front instead of after hiding the whole table.
    """

    def bounds(c):
        v = values[c]
        if v >= threshold:
            return threshold, math.inf
        return (1 if v > 0 else 0), threshold - 1

    for eq in eqs:
        if not any(c in primary for c, _ in eq):
            continue
        const = sum(coef * values[c] for c, coef in eq)
        lo = sum(coef * bounds(c)[0 if coef > 0 else 1] for c, coef in eq)
        hi = sum(coef * bounds(c)[1 if coef > 0 else 0] for c, coef in eq)
        if lo == const or hi == const:
            return eq
    return None


def _is_margin(eq) -> bool:
    # An equation without a shown total (all coefficients +1) states "sum = known margin".
    return all(coef == 1 for _, coef in eq)


def _candidate(values, eq_list, masked, eqs_of, threshold):
    """The cell to suppress next among the unmasked cells of ``eq_list``.

    Preference: a count of at least 2 × threshold − 2 (a hidden ``"*"`` cell is known to be
    >= threshold, so a count just above it pins the small count it should hide: 1 + 5 = 6),
    then other non-zero counts, then zeros; within those, the cell that leaves the fewest
    other relations with a single hidden cell (each would need yet another suppression), then
    the smallest count, then table order.
    """
    cells = {c for eq in eq_list for c, _ in eq if c not in masked}
    if not cells:
        return None

    def strength(c):
        v = values[c]
        return 0 if v >= 2 * threshold - 2 else 1 if v > 0 else 2

    def new_singletons(c):
        return sum(not any(x in masked for x, _ in eq) for eq in eqs_of.get(c, ()))

    return min(cells, key=lambda c: (strength(c), new_singletons(c), values[c], c))


def mask_counts(
    table: pd.DataFrame,
    *,
    count_columns,
    threshold: int = DEFAULT_THRESHOLD,
    total_column: str | None = None,
    total_row=None,
    assume_margins_known: bool | str = True,
) -> MaskedTable:
    """Mask small counts and suppress complementary cells until none can be recovered.

    Parameters
    ----------
    table
        One row per group; other columns (labels) pass through unchanged. Index labels must
        be unique.
    count_columns
        The columns holding counts (non-negative whole numbers).
    threshold
        Non-zero counts below it are masked as ``f"<{threshold}"``.
    total_column
        A column holding each row's sum of ``count_columns``, shown in the output.
    total_row
        The index label of a row holding each column's sum over the other rows.
    assume_margins_known
        Treat every row and column total as known even when the table does not show it
        (they can usually be had from another query). ``"rows"`` treats the row totals only
        as known (each row's total is published elsewhere; column totals cannot be had). Set
        to false only when the totals are truly unavailable; then only totals shown in the
        table are used.

    Returns
    -------
    MaskedTable

    Raises
    ------
    InputError
        Bad arguments, non-count values, or shown totals that do not add up.
    DisclosureRefused
        No set of suppressions protects every small count (for example ``[1, 5, 5]`` or
        ``[4, 4, 4]`` with a known row total): the table must not leave; merge groups.

    Notes
    -----
    Suppression is greedy (not minimal) and checks each small count with a pair of linear
    programmes (scipy HiGHS). It is meant for the summary tables that leave the environment,
    up to a few hundred groups; a 1,000 × 3 table with 300 small counts takes 10–50 s.
    """
    threshold = _check_threshold(threshold)
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"table must be a pandas DataFrame, got {type(table).__name__}")
    if isinstance(count_columns, str):
        count_columns = [count_columns]
    count_columns = list(count_columns)
    if not count_columns or len(set(count_columns)) != len(count_columns):
        raise InputError(f"count_columns must name distinct columns, got {count_columns}")
    columns = count_columns + ([total_column] if total_column is not None else [])
    missing = [c for c in columns if c not in table.columns]
    if missing or total_column in count_columns:
        raise InputError(
            f"count_columns and total_column must be distinct columns of the table; "
            f"missing {missing}, columns are {list(table.columns)}"
        )
    if not table.index.is_unique:
        raise InputError("table index labels must be unique (cells are reported by label)")
    if not isinstance(assume_margins_known, bool) and assume_margins_known != "rows":
        raise InputError(
            f"assume_margins_known must be True, False or 'rows', got {assume_margins_known!r}"
        )
    values_arr = _count_matrix(table, columns)
    n, m = values_arr.shape
    n_counts = len(count_columns)
    total_col = n_counts if total_column is not None else None
    total_row_pos = None
    if total_row is not None:
        if total_row not in table.index:
            raise InputError(f"total_row {total_row!r} is not an index label of the table")
        total_row_pos = int(table.index.get_loc(total_row))
    if (
        total_col is not None
        and (values_arr[:, :n_counts].sum(axis=1) != values_arr[:, total_col]).any()
    ):
        raise InputError(f"total_column {total_column!r} is not the row sum of {count_columns}")
    if total_row_pos is not None:
        body = [i for i in range(n) if i != total_row_pos]
        if (values_arr[body].sum(axis=0) != values_arr[total_row_pos]).any():
            raise InputError(f"total_row {total_row!r} is not the column sum of the other rows")

    values = {(i, j): int(values_arr[i, j]) for i in range(n) for j in range(m)}
    eqs = _equations(n, m, n_counts, total_col, total_row_pos, assume_margins_known)
    eqs_of: dict = {}
    for eq in eqs:
        for c, _ in eq:
            eqs_of.setdefault(c, []).append(eq)
    primary = {c for c, v in values.items() if 0 < v < threshold}
    tight = _tight_relation(values, eqs, primary, threshold)
    if tight is not None:
        raise DisclosureRefused(
            f"expected small counts that suppression can protect, found a row or column whose "
            f"known total pins its small count(s) whatever is hidden (counts just above or "
            f"below {threshold}); merge groups or drop the total before export",
            reasons=(Reason("disclosure.unprotectable", "small counts cannot be protected"),),
        )
    masked = set(primary)
    hidden_zero: set = set()
    safe: set = set()  # hidden cells proven to have two or more feasible values

    def add(c):
        masked.add(c)
        if values[c] == 0:
            hidden_zero.add(c)

    while True:
        changed = False
        # A relation with a single hidden cell gives it away; even when that cell is not
        # small, hiding a second one there keeps suppression patterns closed (rectangles).
        for eq in eqs:
            if sum(c in masked for c, _ in eq) == 1:
                c = _candidate(values, [eq], masked, eqs_of, threshold)
                if c is not None:
                    add(c)
                    changed = True
        if changed:
            continue
        c = _recoverable(values, eqs, masked, hidden_zero, threshold, safe, primary)
        if c is None:
            break
        extra = _candidate(values, eqs_of.get(c, []), masked, eqs_of, threshold)
        if extra is None:
            extra = _candidate(values, eqs, masked, eqs_of, threshold)
        if extra is None:
            raise DisclosureRefused(
                "expected to find cells to suppress that protect every small count, found "
                "none (every related cell is hidden already); aggregate further before export",
                reasons=(Reason("disclosure.unprotectable", "small counts cannot be protected"),),
            )
        add(extra)

    out = table.copy()
    for j, col in enumerate(columns):
        shown = [values[(i, j)] for i in range(n)]
        series = pd.Series(shown, index=out.index, dtype=object)
        for i in range(n):
            c = (i, j)
            if c in masked:
                series.iloc[i] = f"<{threshold}" if values[c] < threshold else SECONDARY_MARKER
        out[col] = series
    labels = list(table.index)

    def named(cells):
        return tuple((_plain(labels[i]), columns[j]) for i, j in sorted(cells))

    small = {c for c in masked if values[c] < threshold}
    return MaskedTable(
        table=out,
        primary=named(small),
        secondary=named(masked - small),
        threshold=threshold,
        count_columns=tuple(count_columns),
        total_column=total_column,
        total_row=total_row,
    )


def mask_rows(
    table: pd.DataFrame, *, count_columns, threshold: int = DEFAULT_THRESHOLD
) -> tuple[MaskedTable, list]:
    """Mask a table whose every row total is public, withholding rows no mask protects.

    Each row's total is known (a variant's allele count is the same whoever it is grouped
    by, and another table shows it), column totals are not: the rows are independent
    problems. A row whose total pins a small count whatever is hidden (``[5, 1]`` with a total
    of 6: hiding the 5 leaves it at least 5, so the other is 1) cannot leave at all; it is
    withheld rather than refusing the whole table.

    Returns
    -------
    (MaskedTable, list)
        The masked table of the rows that may leave, and the index labels withheld.
    """
    try:
        return (
            mask_counts(
                table,
                count_columns=count_columns,
                threshold=threshold,
                assume_margins_known="rows",
            ),
            [],
        )
    except DisclosureRefused:
        pass
    withheld = []
    for label in table.index:
        try:
            mask_counts(
                table.loc[[label]],
                count_columns=count_columns,
                threshold=threshold,
                assume_margins_known="rows",
            )
        except DisclosureRefused:
            withheld.append(label)
    kept = table.drop(index=withheld)
    masked = mask_counts(
        kept, count_columns=count_columns, threshold=threshold, assume_margins_known="rows"
    )
    return masked, withheld


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


# -- differencing -----------------------------------------------------------------------------


class DifferencingGuard:
    """Remembers the populations behind released counts, whoever asked for them.

    Members are stored as keyed BLAKE2b digests (the guard's own random key), never as ids.
    A new count is refused when its population differs from *any* earlier released one by
    1 … ``threshold`` − 1 people: subtracting the two counts would describe those people. The
    history is the population's, not the caller's: a count released to a trainer before an
    opt-out and one released to a student after it differ by the person who opted out, and
    two projects with identical views would otherwise each release half of a difference.
    Who asked (user, project) is kept with each release, for the record only.

    With ``path``, every release is also appended to a JSON-lines file (user, project,
    label and the keyed digests) and the file is read back on creation, so the history
    outlives the process; the key must then be the same each time (derive it from a
    service secret), or the stored digests match nothing.

    Limits: only pairwise differences are checked (not differences of unions of several
    earlier releases).
    """

    def __init__(self, *, threshold: int = DEFAULT_THRESHOLD, key: bytes | None = None, path=None):
        self.threshold = _check_threshold(threshold)
        if key is None:
            if path is not None:
                raise InputError("a persisted history needs a fixed key (pass key=…)")
            key = secrets.token_bytes(32)
        if not isinstance(key, bytes) or not 16 <= len(key) <= 64:
            raise InputError("key must be 16 to 64 bytes (or None for a random one)")
        self._key = key
        # (user, project, label, members) of every release, in order
        self._released: list[tuple[str, str, str, frozenset[bytes]]] = []
        self.path = None if path is None else Path(path)
        if self.path is not None and self.path.exists():
            self._load()

    def _load(self) -> None:
        with open(self.path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                    user, project = self._scope(rec["user"], rec["project"])
                    members = frozenset(bytes.fromhex(h) for h in rec["members"])
                    label = str(rec["label"])
                except (ValueError, KeyError, TypeError) as e:
                    raise AuditIntegrityError(
                        f"{self.path} line {n} is not a release record ({e}); the release "
                        "history is damaged — restore it before releasing more counts",
                        sequence=n,
                    ) from None
                self._released.append((user, project, label, members))

    def __repr__(self) -> str:
        return f"DifferencingGuard(threshold={self.threshold}, releases={len(self._released)})"

    def _digest(self, member) -> bytes:
        if not isinstance(member, str):
            raise InputError(f"population members must be str ids, got {type(member).__name__}")
        return hashlib.blake2b(member.encode("utf-8"), key=self._key, digest_size=16).digest()

    def _population(self, population) -> frozenset[bytes]:
        if isinstance(population, str) or not isinstance(population, Iterable):
            raise InputError("population must be an iterable of person ids (not a single str)")
        return frozenset(self._digest(p) for p in population)

    @staticmethod
    def _scope(user, project) -> tuple[str, str]:
        for name, v in (("user", user), ("project", project)):
            if not isinstance(v, str) or not v:
                raise InputError(f"{name} must be a non-empty str, got {v!r}")
        return (user, project)

    def _check(self, pop: frozenset[bytes], extra=()) -> Decision:
        earlier = [*((label, q) for _, _, label, q in self._released), *extra]
        for label, q in earlier:
            d = len(pop ^ q)
            if 1 <= d < self.threshold:
                return deny(
                    "disclosure.differencing",
                    f"this count's population differs from the earlier release {label!r} by "
                    f"fewer than {self.threshold} people; subtracting the two would describe "
                    "them",
                )
        return approve("disclosure.no_differencing", "no near-duplicate of an earlier release")

    def check(self, *, user: str, project: str, population) -> Decision:
        """Would releasing a count over ``population`` to anyone be safe? (Records nothing.)

        ``user`` and ``project`` are checked for shape only: the history is everyone's.
        """
        self._scope(user, project)
        return self._check(self._population(population))

    def record(self, *, user: str, project: str, population, label: str = "") -> None:
        """Remember that a count over ``population`` was released (to ``user`` in ``project``)."""
        user, project = self._scope(user, project)
        if not isinstance(label, str):
            raise InputError(f"label must be a str, got {type(label).__name__}")
        label = label or f"release {len(self._released) + 1}"
        members = self._population(population)
        if self.path is not None:
            record = {
                "user": user,
                "project": project,
                "label": label,
                "members": sorted(m.hex() for m in members),
            }
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record, sort_keys=True) + "\n")
                f.flush()
                os.fsync(f.fileno())
        self._released.append((user, project, label, members))

    def releases(self, *, user: str, project: str) -> list[dict]:
        """The earlier releases to (user, project): label and population size."""
        scope = self._scope(user, project)
        return [
            {"label": lab, "size": len(q)} for u, p, lab, q in self._released if (u, p) == scope
        ]


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
