"""Disclosure control: small-count masking, complementary suppression, identifiers, differencing."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest

from workbench.access.disclosure import (
    SECONDARY_MARKER,
    DifferencingGuard,
    ExportRequest,
    MaskedTable,
    check_identifiers,
    mask_counts,
    review_export,
)
from workbench.access.pseudonyms import Pseudonymiser
from workbench.errors import DisclosureRefused, InputError

T = 5


# -- an attacker that tries to recover hidden cells ----------------------------------------------


def _relations(truth: np.ndarray, n_counts: int, total_col, total_row, margins_known):
    """Every relation an attacker can use: (cells, constant) meaning sum(cells) = constant.

    Shown totals become unknowns of their own relation (``sum - total = 0``) when hidden.
    """
    n, m = truth.shape
    rels = []
    body_rows = [i for i in range(n) if i != total_row]
    for i in range(n):
        cells = [(i, j, 1) for j in range(n_counts)]
        if total_col is not None:
            rels.append([*cells, (i, total_col, -1)])
        elif margins_known and len(cells) >= 2:
            rels.append(cells)
    for j in range(m):
        cells = [(i, j, 1) for i in body_rows]
        if total_row is not None:
            rels.append([*cells, (total_row, j, -1)])
        elif margins_known and len(cells) >= 2:
            rels.append(cells)
    return rels


def attack(masked: MaskedTable, truth: pd.DataFrame, *, margins_known=True):
    """Small counts of ``masked`` an attacker pins to one value, by subtraction and enumeration.

    Knowledge: shown cells; known margins (true row/column sums); ``"<5"`` means 1..4 for a
    true non-zero count and 0..4 for a hidden zero; ``"*"`` means >= 5.
    """
    cols = list(masked.count_columns) + ([masked.total_column] if masked.total_column else [])
    shown = masked.table[cols].to_numpy(dtype=object)
    true = truth[cols].to_numpy().astype(int)
    total_row = None if masked.total_row is None else list(truth.index).index(masked.total_row)
    total_col = len(masked.count_columns) if masked.total_column else None
    rels = _relations(true, len(masked.count_columns), total_col, total_row, margins_known)
    hidden = {(i, j) for i, j in itertools.product(*map(range, shown.shape))
              if isinstance(shown[i, j], str)}  # fmt: skip
    constants = []
    for rel in rels:
        has_total = any(c < 0 for *_, c in rel)
        constants.append(0 if has_total else sum(true[i, j] for i, j, _ in rel))

    # 1. subtraction: a relation with exactly one unknown gives it away; repeat.
    known = {}
    changed = True
    while changed:
        changed = False
        for rel, const in zip(rels, constants, strict=True):
            unknown = [(i, j, c) for i, j, c in rel if (i, j) in hidden and (i, j) not in known]
            if len(unknown) == 1:
                i, j, c = unknown[0]
                rest = sum(
                    c2 * (known.get((i2, j2), true[i2, j2]))
                    for i2, j2, c2 in rel
                    if (i2, j2) != (i, j)
                )
                known[(i, j)] = (const - rest) // c
                changed = True
    by_subtraction = set(known)

    # 2. enumeration of every assignment consistent with the markers and relations.
    cells = sorted(hidden)
    cap = int(true.sum())  # no cell exceeds the sum of all cells
    ranges = {}
    for i, j in cells:
        if shown[i, j] == SECONDARY_MARKER:
            ranges[(i, j)] = range(T, cap + 1)
        else:
            ranges[(i, j)] = range(0 if true[i, j] == 0 else 1, T)
    feasible = {c: set() for c in cells}
    assignment = {}

    def value(i, j):
        return assignment.get((i, j)) if (i, j) in hidden else true[i, j]

    def consistent():
        for rel, const in zip(rels, constants, strict=True):
            vals = [value(i, j) for i, j, _ in rel]
            if all(v is not None for v in vals) and (
                sum(c * v for (_, _, c), v in zip(rel, vals, strict=True)) != const
            ):
                return False
        return True

    def search(k):
        if k == len(cells):
            for c in cells:
                feasible[c].add(assignment[c])
            return
        c = cells[k]
        for v in ranges[c]:
            assignment[c] = v
            if consistent():
                search(k + 1)
        del assignment[c]

    search(0)
    by_enumeration = {c for c in cells if len(feasible[c]) <= 1}
    # Only small counts need protecting: learning that a hidden cell holds 12 harms nobody.
    small = {c for c in cells if 0 < true[c] < T}
    return by_subtraction & small, by_enumeration & small


def _names(masked, cells):
    cols = list(masked.count_columns) + ([masked.total_column] if masked.total_column else [])
    labels = list(masked.table.index)
    return {(labels[i], cols[j]) for i, j in cells}


# -- masking --------------------------------------------------------------------------------------


def test_small_counts_masked_zeros_and_large_counts_kept():
    t = pd.DataFrame(
        {"group": ["a", "b", "c"], "carriers": [0, 3, 12], "other": [7, 1, 40]}
    ).set_index("group")
    m = mask_counts(t, count_columns=["carriers", "other"], assume_margins_known=False)
    assert m.table.loc["a", "carriers"] == 0
    assert m.table.loc["b", "carriers"] == "<5" and m.table.loc["b", "other"] == "<5"
    assert m.table.loc["c", "other"] == 40 and m.table.loc["a", "other"] == 7
    assert set(m.primary) == {("b", "carriers"), ("b", "other")} and m.secondary == ()
    assert 3 not in m.table["carriers"].tolist()  # the original value is gone
    json.dumps(m.to_dict())  # plain values only


def test_threshold_is_configurable():
    t = pd.DataFrame({"n": [6, 12, 30]})
    m = mask_counts(t, count_columns=["n"], threshold=10, assume_margins_known=False)
    assert m.table["n"].tolist() == ["<10", 12, 30]
    assert m.legend["<10"] == "a count from 0 to 9"


def test_naive_masking_is_recoverable_which_the_attacker_sees():
    t = pd.DataFrame({"x": [3, 10, 20], "y": [7, 12, 8]}, index=["a", "b", "c"])
    naive = mask_counts(t, count_columns=["x", "y"], assume_margins_known=False)
    sub, enum = attack(naive, t, margins_known=True)
    assert _names(naive, sub) == {("a", "x")}  # 10 - 7 = 3: the checker can fail
    assert _names(naive, enum) == {("a", "x")}


def test_complementary_suppression_protects_with_known_margins():
    t = pd.DataFrame({"x": [3, 10, 20], "y": [7, 12, 8]}, index=["a", "b", "c"])
    m = mask_counts(t, count_columns=["x", "y"])
    assert m.primary == (("a", "x"),)
    assert set(m.secondary) == {("a", "y"), ("b", "x"), ("b", "y")}  # a 2 x 2 rectangle
    assert m.table.loc["c"].tolist() == [20, 8]
    assert attack(m, t) == (set(), set())


def test_single_column_with_known_total():
    t = pd.DataFrame({"n": [3, 10, 20, 12]}, index=list("abcd"))
    m = mask_counts(t, count_columns="n")
    assert m.table["n"].tolist() == ["<5", SECONDARY_MARKER, 20, 12]
    assert attack(m, t) == (set(), set())


def test_shown_totals_are_protected_too():
    t = pd.DataFrame(
        {"x": [3, 10, 13], "y": [7, 12, 19], "total": [10, 22, 32]}, index=["a", "b", "all"]
    )
    m = mask_counts(t, count_columns=["x", "y"], total_column="total", total_row="all")
    assert m.table.loc["all"].tolist() == [13, 19, 32]
    assert attack(m, t) == (set(), set())


def test_small_total_is_masked_and_protected():
    t = pd.DataFrame({"x": [1, 9, 10], "y": [2, 8, 10], "total": [3, 17, 20]},
                     index=["a", "b", "all"])  # fmt: skip
    m = mask_counts(t, count_columns=["x", "y"], total_column="total", total_row="all")
    assert m.table.loc["a", "total"] == "<5"
    assert attack(m, t) == (set(), set())


def test_range_attack_is_also_prevented():
    # Hiding 1 and 5 in a column of known total 12 leaves "<5" + "*" = 6: since "*" means
    # >= 5, both would be pinned (1 and 5). A third cell must go too.
    t = pd.DataFrame({"n": [1, 5, 6]}, index=list("abc"))
    m = mask_counts(t, count_columns=["n"])
    assert m.table["n"].tolist() == ["<5", SECONDARY_MARKER, SECONDARY_MARKER]
    assert attack(m, t) == (set(), set())


@pytest.mark.parametrize(
    "counts",
    [[[1], [5]], [[4, 4, 4], [20, 30, 40]], [[1, 5, 5], [20, 30, 40]]],
    ids=["1+5=6", "4+4+4=12", "1+5+5=11"],
)
def test_unprotectable_table_is_refused(counts):
    # With known totals, "<5" (1..4) and "*" (>= 5) cells pin these whatever is hidden.
    t = pd.DataFrame(counts)
    with pytest.raises(DisclosureRefused) as info:
        mask_counts(t, count_columns=list(t.columns))
    assert info.value.reasons[0] == "disclosure.unprotectable"  # exceptions carry codes
    # ... but when the totals are truly unavailable, masking alone is enough.
    m = mask_counts(t, count_columns=list(t.columns), assume_margins_known=False)
    assert attack(m, t, margins_known=False) == (set(), set())


@pytest.mark.parametrize("seed", range(25))
def test_random_tables_leave_nothing_recoverable(seed):
    rng = np.random.default_rng(seed)
    n_rows, n_cols = rng.integers(2, 4), rng.integers(1, 4)
    values = rng.choice([0, 1, 2, 3, 4, 6, 9, 15], size=(n_rows, n_cols))
    t = pd.DataFrame(values, columns=[f"c{j}" for j in range(n_cols)])
    with_totals = bool(rng.integers(0, 2))
    if with_totals:
        t["total"] = t.sum(axis=1)
        t.loc["all"] = t.sum(axis=0)
    kwargs = {"total_column": "total", "total_row": "all"} if with_totals else {}
    try:
        m = mask_counts(t, count_columns=[f"c{j}" for j in range(n_cols)], **kwargs)
    except DisclosureRefused:
        return  # refusing is always safe
    sub, enum = attack(m, t)
    assert sub == set() and enum == set()
    small = (t.to_numpy() > 0) & (t.to_numpy() < T)
    shown = m.table.to_numpy(dtype=object)
    assert all(isinstance(shown[i, j], str) for i, j in zip(*np.nonzero(small), strict=True))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"count_columns": ["nope"]}, "missing"),
        ({"count_columns": []}, "distinct"),
        ({"count_columns": ["x"], "threshold": 1}, "threshold"),
        ({"count_columns": ["x"], "total_column": "x"}, "distinct"),
        ({"count_columns": ["x", "y"], "total_column": "bad_total"}, "row sum"),
        ({"count_columns": ["x"], "total_row": "zzz"}, "index label"),
    ],
)
def test_mask_counts_checks_arguments(kwargs, match):
    t = pd.DataFrame({"x": [1, 2], "y": [3, 4], "bad_total": [0, 0]})
    with pytest.raises(InputError, match=match):
        mask_counts(t, **kwargs)


@pytest.mark.parametrize("bad", [[-1, 2], [1.5, 2], [np.nan, 2], ["a", 2]])
def test_counts_must_be_whole_non_negative_numbers(bad):
    with pytest.raises(InputError):
        mask_counts(pd.DataFrame({"x": bad}), count_columns=["x"])


# -- identifiers ----------------------------------------------------------------------------------


PSEUDONYM = Pseudonymiser(bytes(range(32)), version=1).project_pseudonym("P00001", "EPI-7")


@pytest.mark.parametrize(
    ("output", "code"),
    [
        ({"carriers": ["P00042"]}, "disclosure.person_id"),
        ({"P00042": 3}, "disclosure.person_id"),
        (pd.DataFrame({"n": [1]}, index=["sample_P00042"]), "disclosure.person_id"),
        ({"note": "cpr 121265-1234"}, "disclosure.national_id"),
        ([["1212651234"]], "disclosure.national_id"),
        (pd.DataFrame({PSEUDONYM: [10]}), "disclosure.pseudonym"),
        ({"rows": [{"id": PSEUDONYM, "af": 0.5}]}, "disclosure.pseudonym"),
    ],
)
def test_identifiers_are_refused(output, code):
    d = check_identifiers(output)
    assert d.outcome == "deny" and code in d.codes
    assert "P00042" not in json.dumps(d.to_dict()) and PSEUDONYM not in json.dumps(d.to_dict())


def test_aggregates_pass_identifier_check():
    out = {
        "region": ["Hovedstaden", "Sjælland"],
        "n": [120, 45],
        "af": [0.012, 0.2],
        "variant": "chr2:166000123 G>A",
        "table": pd.DataFrame({"population": ["NOR", "SAS"], "carriers": [30, 7]}),
    }
    assert check_identifiers(out).codes == ("disclosure.no_identifiers",)


def test_identifier_check_refuses_opaque_objects():
    with pytest.raises(InputError, match="plain values"):
        check_identifiers({"x": object()})


# -- differencing -------------------------------------------------------------------------------


POP = [f"P{i:05d}" for i in range(1, 201)]


def test_differencing_attack_on_counts_is_refused():
    guard = DifferencingGuard()
    assert guard.check(user="u", project="EPI-7", population=POP).approved
    guard.record(user="u", project="EPI-7", population=POP, label="all carriers")
    minus_one = POP[:-1]  # "everyone but P00200": the difference is one person
    d = guard.check(user="u", project="EPI-7", population=minus_one)
    assert d.outcome == "deny" and d.codes == ("disclosure.differencing",)
    assert "P00200" not in d.reasons[0].detail
    for k in range(1, T):
        assert not guard.check(user="u", project="EPI-7", population=POP[k:]).approved
        assert not guard.check(user="u", project="EPI-7", population=POP + [f"X{k}"] * 1).approved


def test_legitimately_different_counts_are_allowed():
    guard = DifferencingGuard()
    guard.record(user="u", project="EPI-7", population=POP)
    assert guard.check(user="u", project="EPI-7", population=POP[T:]).approved
    assert guard.check(user="u", project="EPI-7", population=POP).approved  # same count again
    assert guard.check(user="u", project="EPI-7", population=POP[:50]).approved
    assert guard.releases(user="u", project="EPI-7") == [{"label": "release 1", "size": 200}]
    assert guard.releases(user="v", project="EPI-7") == []


def test_differencing_history_is_the_populations_not_the_callers():
    # A trainer's count before an opt-out and a student's after it, or two projects with
    # identical views, would each pass a history kept per caller: together they name a person.
    guard = DifferencingGuard()
    guard.record(user="trainer.holm", project="teaching", population=POP)
    for user, project in (("student.ravn", "teaching"), ("trainer.holm", "EPI-7")):
        d = guard.check(user=user, project=project, population=POP[:-1])
        assert d.codes == ("disclosure.differencing",)


def test_guard_keeps_no_ids():
    guard = DifferencingGuard(key=b"k" * 16)
    guard.record(user="u", project="p", population=POP)
    stored = repr(guard._released)
    assert "P00001" not in stored


# -- the airlock --------------------------------------------------------------------------------


def _counts_table():
    t = pd.DataFrame({"carriers": [3, 12, 20], "non_carriers": [40, 55, 61]},
                     index=["Hovedstaden", "Sjælland", "Syddanmark"])  # fmt: skip
    return mask_counts(t, count_columns=["carriers", "non_carriers"])


def test_review_approves_masked_summary_and_records_it():
    guard = DifferencingGuard()
    req = ExportRequest("u", "EPI-7", {"table": _counts_table()}, populations={"cohort": POP})
    d = review_export(req, history=guard)
    assert d.approved
    assert set(d.codes) == {
        "disclosure.no_identifiers",
        "disclosure.small_counts_masked",
        "disclosure.no_differencing",
    }
    assert guard.releases(user="u", project="EPI-7") == [{"label": "cohort", "size": 200}]


def test_review_refuses_the_differencing_attack_across_exports():
    guard = DifferencingGuard()
    first = ExportRequest("u", "EPI-7", {"n": 200}, populations={"a": POP}, count_columns=("n",))
    second = ExportRequest(
        "u", "EPI-7", {"n": 199}, populations={"a-minus-one": POP[:-1]}, count_columns=("n",)
    )
    assert review_export(first, history=guard).approved
    d = review_export(second, history=guard)
    assert d.outcome == "deny" and "disclosure.differencing" in d.codes
    assert len(guard.releases(user="u", project="EPI-7")) == 1  # refused exports not recorded


def test_review_refuses_differencing_within_one_request():
    req = ExportRequest(
        "u", "EPI-7", {"n": [200, 198]}, populations={"a": POP, "b": POP[2:]},
        count_columns=("n",),
    )  # fmt: skip
    assert review_export(req, history=DifferencingGuard()).outcome == "deny"


@pytest.mark.parametrize(
    ("req", "code"),
    [
        (ExportRequest("u", "p", [{"age": 40}], record_level=True), "disclosure.record_level"),
        (ExportRequest("u", "p", {"ids": ["P00001"]}), "disclosure.person_id"),
        (
            ExportRequest("u", "p", {"n": 3}, populations={"x": POP[:3]}, count_columns=("n",)),
            "disclosure.small_count",
        ),
        (
            ExportRequest("u", "p", pd.DataFrame({"n": [2, 30]}), populations={"x": POP},
                          count_columns=("n",)),
            "disclosure.small_count",
        ),
    ],
)  # fmt: skip
def test_review_refuses(req, code):
    d = review_export(req, history=DifferencingGuard())
    assert d.outcome == "deny" and code in d.codes


def test_review_refuses_tables_masked_below_the_airlock_threshold():
    t = pd.DataFrame({"n": [6, 30, 40]})
    weak = mask_counts(t, count_columns=["n"], threshold=3)
    req = ExportRequest("u", "p", weak, populations={"x": POP})
    assert "disclosure.small_count" in review_export(req, history=DifferencingGuard()).codes


def test_review_abstains_when_populations_are_missing():
    req = ExportRequest("u", "p", {"table": _counts_table()})
    d = review_export(req, history=DifferencingGuard())
    assert d.outcome == "abstain" and not d.approved
    assert "disclosure.no_population" in d.codes


def test_persisted_history_survives_a_new_guard_and_damage_fails_closed(tmp_path):
    from workbench.access.disclosure import DifferencingGuard
    from workbench.errors import AuditIntegrityError

    path, key = tmp_path / "releases.jsonl", b"k" * 32
    first = DifferencingGuard(key=key, path=path)
    people = [f"P{i:05d}" for i in range(1, 30)]
    first.record(user="u", project="p", population=people, label="all")
    again = DifferencingGuard(key=key, path=path)
    assert not again.check(user="u", project="p", population=people[1:]).approved
    assert "P00001" not in path.read_text()  # digests only, never ids
    path.write_text(path.read_text() + "{not json\n")
    with pytest.raises(AuditIntegrityError, match="release history is damaged"):
        DifferencingGuard(key=key, path=path)
    with pytest.raises(InputError, match="fixed key"):
        DifferencingGuard(path=tmp_path / "other.jsonl")


def test_mask_rows_withholds_rows_whose_public_total_pins_a_small_count():
    from workbench.access.disclosure import mask_rows

    t = pd.DataFrame({"female": [29, 5, 3, 2], "male": [13, 1, 9, 3]}, index=["a", "b", "c", "d"])
    masked, withheld = mask_rows(t, count_columns=["female", "male"])
    # b: hiding 5 leaves it >= 5, and the total 6 then pins the 1; it cannot leave
    assert withheld == ["b"]
    out = masked.table
    assert list(out.index) == ["a", "c", "d"]
    assert list(out.loc["a"]) == [29, 13]  # nothing small: shown in full
    assert list(out.loc["c"]) == ["<5", "*"]  # the total is public: one hidden cell is not
    assert list(out.loc["d"]) == ["<5", "<5"]


def test_mask_rows_withholds_the_same_rows_as_masking_each_row_alone():
    """Rows are independent problems: the fast path (refuse by the total first, then mask
    the rest at once) must withhold exactly what masking every row alone refuses."""
    from workbench.access.disclosure import mask_counts, mask_rows

    rng = np.random.default_rng(5)
    t = pd.DataFrame(rng.poisson(4, size=(60, 3)), columns=["a", "b", "c"])
    masked, withheld = mask_rows(t, count_columns=list(t.columns))
    alone = []
    for label in t.index:
        try:
            mask_counts(t.loc[[label]], count_columns=list(t.columns), assume_margins_known="rows")
        except DisclosureRefused:
            alone.append(label)
    assert withheld == alone and alone  # some rows cannot leave
    assert list(masked.table.index) == [i for i in t.index if i not in alone]


def test_a_single_relations_range_in_closed_form_is_the_linear_programmes():
    from scipy.optimize import linprog

    from workbench.access.masking import _range_on_one_relation

    rng = np.random.default_rng(8)
    for _ in range(80):
        k = int(rng.integers(1, 6))
        coefs = rng.choice([1.0, -1.0], size=k)
        bounds = [
            (float(lo), None if rng.random() < 0.3 else float(lo + rng.integers(0, 8)))
            for lo in rng.integers(0, 6, size=k)
        ]
        point = np.array([lo if hi is None else rng.integers(lo, hi + 1) for lo, hi in bounds])
        rhs = float(coefs @ point)  # feasible by construction
        for cell in range(k):
            lo, hi = _range_on_one_relation(coefs, rhs, bounds, cell)
            obj = np.zeros(k)
            for sign, expected in ((1.0, lo), (-1.0, hi)):
                obj[cell] = sign
                res = linprog(obj, A_eq=coefs[None, :], b_eq=[rhs], bounds=bounds)
                if res.status == 3:  # unbounded
                    assert expected == sign * -np.inf
                else:
                    assert res.success and res.x[cell] == pytest.approx(expected)


@pytest.mark.parametrize("seed", range(30))
def test_rows_leaving_mask_rows_give_nothing_away_to_whom_every_row_total_is_known(seed):
    """The attacker of :func:`mask_rows`: each row's total is public (a variant's allele
    count, whoever groups it), so every row is shown with its total; subtraction and
    enumeration must pin no small count of the rows that leave."""
    import dataclasses

    from workbench.access.disclosure import mask_rows

    rng = np.random.default_rng(seed)
    n_rows, n_cols = rng.integers(2, 5), rng.integers(2, 5)
    values = rng.choice([0, 1, 1, 2, 3, 4, 5, 6, 9, 15], size=(n_rows, n_cols))
    t = pd.DataFrame(values, columns=[f"c{j}" for j in range(n_cols)])
    t.loc[n_rows] = [1, 1, 9, *[0] * (n_cols - 3)] if n_cols >= 3 else [1, 9]
    masked, withheld = mask_rows(t, count_columns=list(t.columns))
    truth = t.drop(index=withheld)
    truth["total"] = truth.sum(axis=1)
    shown = masked.table.assign(total=truth["total"])
    for label in truth.index:  # rows are independent: attacked one at a time
        row = dataclasses.replace(masked, table=shown.loc[[label]], total_column="total")
        assert attack(row, truth.loc[[label]], margins_known=False) == (set(), set())
