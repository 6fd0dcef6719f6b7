"""Learners' progress: every attempt at an exercise, stored locally in SQLite.

One database per learner (or per machine); nothing leaves it unless the learner exports it
(:meth:`ProgressStore.export_csv`) and hands the CSV to the trainer, whose dashboard reads a
class's files with :func:`class_progress`. In a hosted class the data-access service keeps the
attempts instead, under each learner's identity (:mod:`workbench.service.progress`), and the
same :func:`summarise_attempts` and :func:`learner_grid` show them.

Where the database lives: ``path`` if given, else the ``WORKBENCH_PROGRESS`` environment
variable, else ``~/.workbench/progress.sqlite``. Responses are stored as the learner gave them
(their own data); the correct answer never is.
"""

from __future__ import annotations

import getpass
import json
import os
import sqlite3
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from ..errors import InputError

__all__ = [
    "ATTEMPTS_SCHEMA",
    "ATTEMPT_COLUMNS",
    "SUMMARY_COLUMNS",
    "ProgressStore",
    "class_progress",
    "default_progress_path",
    "learner_grid",
    "read_attempts",
    "summarise_attempts",
]

#: Columns of an attempts table (the database table, the CSV export, :meth:`attempts`).
ATTEMPT_COLUMNS = ("learner", "course", "exercise_id", "attempt", "response", "correct", "at")

#: The attempts table (a learner's database, and the data-access service's ledger).
ATTEMPTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    learner TEXT NOT NULL,
    course TEXT NOT NULL,
    exercise_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    response TEXT NOT NULL,
    correct INTEGER,
    at TEXT NOT NULL,
    PRIMARY KEY (learner, course, exercise_id, attempt)
)
"""


def default_progress_path() -> Path:
    """``$WORKBENCH_PROGRESS``, else ``~/.workbench/progress.sqlite``."""
    env = os.environ.get("WORKBENCH_PROGRESS")
    return Path(env) if env else Path.home() / ".workbench" / "progress.sqlite"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ProgressStore:
    """A learner's attempts in a SQLite file.

    Parameters
    ----------
    path
        The database file (created with its folder on first write); default
        :func:`default_progress_path`.
    learner
        Who is answering; default ``$WORKBENCH_LEARNER`` or the login name.
    clock
        Returns the time stamp of an attempt (ISO 8601, UTC); tests pass a fixed one.
    """

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        *,
        learner: str | None = None,
        clock: Callable[[], str] = _now,
    ):
        self.path = default_progress_path() if path is None else Path(path)
        learner = learner or os.environ.get("WORKBENCH_LEARNER") or getpass.getuser()
        if not isinstance(learner, str) or not learner.strip():
            raise InputError(f"learner must be a non-empty name, got {learner!r}")
        self.learner = learner.strip()
        self._clock = clock

    def __repr__(self) -> str:
        return f"ProgressStore({str(self.path)!r}, learner={self.learner!r})"

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path)
        con.execute(ATTEMPTS_SCHEMA)
        return con

    def record(self, *, course: str, exercise_id: str, response, correct: bool | None) -> int:
        """Store one attempt; returns its number (1 for the learner's first at the exercise)."""
        for name, value in (("course", course), ("exercise_id", exercise_id)):
            if not isinstance(value, str) or not value:
                raise InputError(f"{name} must be a non-empty string, got {value!r}")
        if correct not in (True, False, None):
            raise InputError(f"correct must be True, False or None, got {correct!r}")
        text = json.dumps(response, default=str, ensure_ascii=False, sort_keys=True)
        con = self._connect()
        try:
            with con:
                (n,) = con.execute(
                    "SELECT COUNT(*) FROM attempts WHERE learner=? AND course=? AND exercise_id=?",
                    (self.learner, course, exercise_id),
                ).fetchone()
                con.execute(
                    "INSERT INTO attempts VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        self.learner,
                        course,
                        exercise_id,
                        n + 1,
                        text,
                        None if correct is None else int(correct),
                        self._clock(),
                    ),
                )
        finally:
            con.close()
        return n + 1

    def attempts(self, *, all_learners: bool = False) -> pd.DataFrame:
        """This learner's attempts (or everyone's in the file), oldest first."""
        if not self.path.exists():
            return _empty()
        return _read_db(self.path, learner=None if all_learners else self.learner)

    def export_csv(self, path: str | os.PathLike) -> Path:
        """Write this learner's attempts as CSV (columns :data:`ATTEMPT_COLUMNS`)."""
        from ..io import atomic_file

        path = Path(path)
        with atomic_file(path, "w", encoding="utf-8", newline="") as f:
            self.attempts().to_csv(f, index=False)
        return path


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in ATTEMPT_COLUMNS})


def _read_db(path: Path, *, learner: str | None) -> pd.DataFrame:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        where, params = ("WHERE learner=?", (learner,)) if learner else ("", ())
        frame = pd.read_sql_query(
            f"SELECT {', '.join(ATTEMPT_COLUMNS)} FROM attempts {where} "
            "ORDER BY learner, course, exercise_id, attempt",
            con,
            params=params,
        )
    except sqlite3.DatabaseError as e:
        raise InputError(f"{path} is not a progress database ({e})") from e
    finally:
        con.close()
    frame["correct"] = _booleans(frame["correct"])
    return frame


def _booleans(column: pd.Series) -> pd.Series:
    """True/False/None (object dtype: ``None`` is "not marked", not missing data)."""
    values = [None if pd.isna(v) else str(v).lower() in ("true", "1", "1.0") for v in column]
    return pd.Series(values, index=column.index, dtype=object)


def _read_any(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise InputError(f"{path} does not exist; pass progress databases or CSV exports")
    if path.suffix.lower() == ".csv":
        frame = pd.read_csv(path, dtype={"response": str, "learner": str})
        missing = [c for c in ATTEMPT_COLUMNS if c not in frame.columns]
        if missing:
            raise InputError(f"{path} lacks the columns {', '.join(missing)}; export it again")
        frame["correct"] = _booleans(frame["correct"])
        return frame[list(ATTEMPT_COLUMNS)]
    return _read_db(path, learner=None)


def class_progress(paths_or_db: str | os.PathLike | Iterable[str | os.PathLike]) -> pd.DataFrame:
    """A class's progress per exercise, from learners' databases and/or CSV exports.

    Duplicated attempts (the same file given twice) count once; the table is
    :func:`summarise_attempts`'s.
    """
    return summarise_attempts(read_attempts(paths_or_db))


def read_attempts(paths_or_db: str | os.PathLike | Iterable[str | os.PathLike]) -> pd.DataFrame:
    """Every attempt in learners' databases and/or CSV exports, one table (duplicates once)."""
    if isinstance(paths_or_db, str | os.PathLike):
        paths_or_db = [paths_or_db]
    paths = [Path(p) for p in paths_or_db]
    if not paths:
        raise InputError("pass at least one progress database or CSV export")
    frames = [_read_any(p) for p in paths]
    return pd.concat(frames, ignore_index=True).drop_duplicates(
        subset=["learner", "course", "exercise_id", "attempt"], ignore_index=True
    )


#: Columns of :func:`summarise_attempts`'s table.
SUMMARY_COLUMNS = (
    "course",
    "exercise_id",
    "learners",
    "solved",
    "solved_percent",
    "first_try",
    "attempts",
    "mean_attempts_to_solve",
)


def summarise_attempts(attempts: pd.DataFrame) -> pd.DataFrame:
    """A class's progress per exercise, from an attempts table (columns :data:`ATTEMPT_COLUMNS`).

    Returns
    -------
    pandas.DataFrame
        One row per (course, exercise_id): ``learners`` (who attempted it), ``solved`` (who
        got it right at least once), ``solved_percent``, ``first_try`` (right at the first
        attempt), ``attempts`` (in all) and ``mean_attempts_to_solve`` (over those who solved
        it; NaN when nobody did).
    """
    attempts = _checked(attempts).drop_duplicates(
        subset=["learner", "course", "exercise_id", "attempt"]
    )
    if attempts.empty:
        return pd.DataFrame(columns=list(SUMMARY_COLUMNS))
    attempts = attempts.assign(right=attempts["correct"].eq(True))
    rows = []
    for (course, ex_id), group in attempts.groupby(["course", "exercise_id"], sort=True):
        right = group[group.right]
        solved_at = right.groupby("learner").attempt.min()  # the first right attempt
        learners = group.learner.nunique()
        rows.append(
            {
                "course": course,
                "exercise_id": ex_id,
                "learners": learners,
                "solved": len(solved_at),
                "solved_percent": round(100 * len(solved_at) / learners, 1),
                "first_try": int((solved_at == 1).sum()),
                "attempts": len(group),
                "mean_attempts_to_solve": (
                    round(float(solved_at.mean()), 2) if len(solved_at) else float("nan")
                ),
            }
        )
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def learner_grid(attempts: pd.DataFrame, *, course: str | None = None) -> pd.DataFrame:
    """Every learner against every exercise: where each stands, for a trainer's eye.

    One row per learner, one column per exercise (``course · exercise`` when several courses
    are shown); a cell is ``"✔ n"`` (solved at attempt *n*), ``"✘ n"`` (tried *n* times, not
    yet right), ``"· n"`` (*n* attempts nobody marked) or ``""`` (not tried).
    """
    attempts = _checked(attempts)
    if course is not None:
        attempts = attempts[attempts.course == course]
    if attempts.empty:
        return pd.DataFrame()
    several = attempts.course.nunique() > 1
    cells: dict[str, dict[str, str]] = {}
    for (learner, c, ex), group in attempts.groupby(["learner", "course", "exercise_id"]):
        right = group[group.correct.eq(True)]
        if len(right):
            cell = f"✔ {int(right.attempt.min())}"
        elif group.correct.eq(False).any():
            cell = f"✘ {len(group)}"
        else:
            cell = f"· {len(group)}"
        cells.setdefault(f"{c} · {ex}" if several else str(ex), {})[str(learner)] = cell
    grid = pd.DataFrame(cells).sort_index().fillna("")
    grid.index.name = "learner"
    return grid[sorted(grid.columns)]


def _checked(attempts) -> pd.DataFrame:
    if not isinstance(attempts, pd.DataFrame):
        raise InputError(f"expected an attempts table, got {type(attempts).__name__}")
    missing = [c for c in ATTEMPT_COLUMNS if c not in attempts.columns]
    if missing:
        raise InputError(f"the attempts table lacks the columns {', '.join(missing)}")
    return attempts
