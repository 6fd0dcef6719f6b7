"""Read a PED file (PLINK's six columns) and check that it describes a possible family tree.

:func:`read_pedigree` returns the table ``cohort.pedigree()`` gives and refuses, with one line
naming the file, the line or person and the fix, what PLINK and peddy would stumble over or
silently misread: a row without six tab-separated columns, an unknown sex or phenotype code,
a person listed twice, a person who is their own parent, a parent missing from the file or of
the wrong sex, and cycles of ancestry.

References
----------
PLINK 1.9 file formats, ``.ped``/``.fam``: family id, individual id, father, mother, sex
(1 male, 2 female, 0 unknown), phenotype (1 unaffected, 2 affected, 0 or -9 missing).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from .errors import CohortFormatError

__all__ = ["PED_COLUMNS", "read_pedigree"]

PED_COLUMNS = ["family_id", "person_id", "father_id", "mother_id", "sex", "phenotype"]
_SEXES = {"0", "1", "2"}
_PHENOTYPES = {"-9", "0", "1", "2"}


def _fail(path: Path, message: str) -> CohortFormatError:
    return CohortFormatError(f"{path}: {message}", path=path)


def read_pedigree(path: str | os.PathLike) -> pd.DataFrame:
    """The rows of a PED file as a table of strings (``"0"`` where a parent is unknown).

    Raises
    ------
    CohortFormatError
        When the file is missing, not text, or not a possible pedigree (see the module).
    """
    path = Path(path)
    if not path.is_file():
        raise CohortFormatError(
            f"{path} is missing; a cohort's pedigree.ped lists its families (regenerate it)",
            path=path,
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise _fail(path, "is not text (a PED file is tab-separated UTF-8); restore it") from e
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 6:
            raise _fail(
                path,
                f"line {n} has {len(cols)} columns; a PED row has 6 columns (family, person, "
                "father, mother, sex, phenotype) separated by tabs",
            )
        if cols[4] not in _SEXES:
            raise _fail(path, f"line {n}: sex {cols[4]!r} is not 1 (male), 2 (female) or 0")
        if cols[5] not in _PHENOTYPES:
            raise _fail(path, f"line {n}: phenotype {cols[5]!r} is not 1, 2, 0 or -9")
        rows.append(cols)
    if not rows:
        raise _fail(path, "holds no people; a PED file has one row per person")
    table = pd.DataFrame(rows, columns=PED_COLUMNS)
    _check_family_tree(path, table)
    return table


def _check_family_tree(path: Path, table: pd.DataFrame) -> None:
    seen = table.person_id[table.person_id.duplicated()]
    if len(seen):
        raise _fail(path, f"{seen.iloc[0]} appears more than once; each person has one row")
    sex = dict(zip(table.person_id, table.sex, strict=True))
    parents: dict[str, list[str]] = {}
    for row in table.itertuples(index=False):
        for role, parent, wanted in (
            ("father", row.father_id, "1"),
            ("mother", row.mother_id, "2"),
        ):
            if parent == "0":
                continue
            if parent == row.person_id:
                raise _fail(path, f"{row.person_id} is listed as their own parent")
            if parent not in sex:
                raise _fail(
                    path,
                    f"{role} {parent} of {row.person_id} is not in the file; add a row for "
                    "them or write 0 for an unknown parent",
                )
            if sex[parent] not in (wanted, "0"):
                raise _fail(
                    path,
                    f"{parent} is the {role} of {row.person_id} but has sex {sex[parent]}; "
                    "swap the parent columns or fix the sex",
                )
            parents.setdefault(row.person_id, []).append(parent)
    # A cycle of ancestry: depth-first search, colouring people being visited.
    state: dict[str, int] = {}
    for start in parents:
        stack = [(start, iter(parents.get(start, ())))]
        state[start] = 1
        trail = [start]
        while stack:
            person, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[person] = 2
                stack.pop()
                trail.pop()
            elif state.get(nxt) == 1:
                loop = [*trail[trail.index(nxt) :], nxt]
                raise _fail(path, f"a cycle of ancestry: {' → '.join(loop)} (parent of …)")
            elif state.get(nxt) is None:
                state[nxt] = 1
                trail.append(nxt)
                stack.append((nxt, iter(parents.get(nxt, ()))))
