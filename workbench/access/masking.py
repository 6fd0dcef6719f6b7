"""Small-count masking with complementary suppression (see :mod:`workbench.access.disclosure`).

:func:`mask_counts` shows every non-zero count below the threshold as ``"<5"`` and suppresses
further cells until no small count can be worked out exactly (a pair of linear programmes per
small count, scipy HiGHS, or where the count's hidden cells share a single relation, as each
row of an allele-count table does, its feasible range in closed form); :func:`mask_rows` does
it for tables whose every row total is public, withholding the rows no mask can protect.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linprog

from ..errors import DisclosureRefused, InputError
from .duo import Reason

__all__ = ["DEFAULT_THRESHOLD", "SECONDARY_MARKER", "MaskedTable", "mask_counts", "mask_rows"]

#: Counts below this (and above zero) never leave unmasked.
DEFAULT_THRESHOLD = 5

#: Marker of a cell suppressed to protect another (its count is >= the threshold).
SECONDARY_MARKER = "*"

_DISCLOSED = 0.5  # feasible range narrower than one count: the cell is pinned


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
        if len(A) == 1:  # one relation: the cell's range in closed form, as the LP finds it
            lo, hi = _range_on_one_relation(A[0], b[0], lp_bounds, k)
            if hi - values[c] >= _DISCLOSED or values[c] - lo >= _DISCLOSED:
                safe.add(c)
                continue
            return c
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


def _range_on_one_relation(coefs, rhs, bounds, k) -> tuple[float, float]:
    """The least and greatest value of cell ``k`` satisfying ``coefs · x = rhs`` within
    ``bounds`` (``(low, high)``, ``None`` for no upper bound): a single relation's feasible
    range, which needs no linear programme."""
    low = high = 0.0  # the range of the other cells' contribution
    for i, (a, (lo, hi)) in enumerate(zip(coefs, bounds, strict=True)):
        if i == k or a == 0:
            continue
        ends = (a * lo, math.inf * a if hi is None else a * hi)
        low += min(ends)
        high += max(ends)
    a = coefs[k]
    lo_k, hi_k = bounds[k][0], math.inf if bounds[k][1] is None else bounds[k][1]
    ends = ((rhs - high) / a, (rhs - low) / a)
    return max(lo_k, min(ends)), min(hi_k, max(ends))


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
    # The rows are independent problems, so a row is withheld exactly when masking it alone
    # is refused. Most such rows are refused by their total alone (no linear programme):
    # find those first, then mask the rest at once, and only if that is still refused try
    # the rows one by one.
    threshold = _check_threshold(threshold)
    columns = [count_columns] if isinstance(count_columns, str) else list(count_columns)
    counts = _count_matrix(table, columns)
    withheld = [
        label for label, row in zip(table.index, counts, strict=True) if _row_pinned(row, threshold)
    ]
    try:
        masked = mask_counts(
            table.drop(index=withheld),
            count_columns=count_columns,
            threshold=threshold,
            assume_margins_known="rows",
        )
        return masked, withheld
    except DisclosureRefused:
        pass
    for label in table.index.drop(withheld):
        try:
            mask_counts(
                table.loc[[label]],
                count_columns=count_columns,
                threshold=threshold,
                assume_margins_known="rows",
            )
        except DisclosureRefused:
            withheld.append(label)
    refused = set(withheld)
    withheld = [label for label in table.index if label in refused]
    kept = table.drop(index=withheld)
    masked = mask_counts(
        kept, count_columns=count_columns, threshold=threshold, assume_margins_known="rows"
    )
    return masked, withheld


def _row_pinned(row, threshold: int) -> bool:
    """Whether a row's public total pins one of its small counts whatever is hidden (the
    refusal :func:`mask_counts` opens with, for a single row)."""
    values = {(0, j): int(v) for j, v in enumerate(row)}
    primary = {c for c, v in values.items() if 0 < v < threshold}
    eqs = _equations(1, len(row), len(row), None, None, "rows")
    return bool(primary) and _tight_relation(values, eqs, primary, threshold) is not None
