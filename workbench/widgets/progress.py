"""The trainer's progress dashboard: a class's attempts per exercise, as plain functions plus
the widget that wires them.

Learners' attempts live in their own SQLite databases (:class:`workbench.teach.ProgressStore`),
whose CSV exports (or the databases) a trainer collects in a folder and opens here; in a hosted
class the data-access service keeps them (``$WORKBENCH_SERVICE``), and a trainer sees the whole
class live, each learner against each exercise, and may reset a learner:

* :func:`progress_sources` says which files a ``progress`` parameter names (a database, a CSV
  export, a folder of them, or ``""`` for the default store) and, when nothing has been
  recorded yet, writes a deterministic demo class (:func:`demo_progress`) and says so;
* :func:`course_table` keeps one course of :func:`workbench.teach.class_progress`'s table;
* :func:`progress_html` and :func:`progress_png` show it as a table and as bar charts of the
  solved percentage and of the mean attempts to solve;
* :func:`grid_html` shows every learner against every exercise and :func:`attempts_csv_link`
  offers the attempts as a CSV download;
* :class:`ClassProgress` wires a course drop-down, Reload, and (through the service) a learner
  reset to them.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import ipywidgets as widgets
import numpy as np
import pandas as pd

from ..errors import InputError
from ..teach.progress import (
    ATTEMPT_COLUMNS,
    ProgressStore,
    default_progress_path,
    learner_grid,
    read_attempts,
    summarise_attempts,
)
from .access import _Shows
from .dashboards.common import SERVICE_ENV, _e, _fig_png, _figure, table_html

__all__ = [
    "ALL_COURSES",
    "DEMO_COURSE",
    "DEMO_EXERCISES",
    "ClassProgress",
    "ProgressSources",
    "attempts_csv_link",
    "course_table",
    "demo_progress",
    "grid_html",
    "progress_html",
    "progress_png",
    "progress_sources",
]

#: The "every course" choice of the course drop-down.
ALL_COURSES = "all courses"
#: Course and exercises of the demo class (module 1 of the genomic-medicine course).
DEMO_COURSE = "genomic-medicine"
DEMO_EXERCISES = ("m1.q1", "m1.q2", "m1.q3", "m1.q4", "m1.q5")
#: Time stamp of every demo attempt (no wall-clock time: the demo database is reproducible).
_DEMO_TIME = "2026-01-05T09:00:00Z"
_FILE_SUFFIXES = (".csv", ".sqlite", ".db", ".sqlite3")


def demo_progress(
    path: str | os.PathLike,
    *,
    seed: int = 0,
    learners: int = 12,
    course: str = DEMO_COURSE,
    exercises: tuple[str, ...] = DEMO_EXERCISES,
) -> Path:
    """Write a demo class's attempts into a new progress database at ``path``.

    Learner ``i`` (``learner01``…) skips an exercise with probability 0.1 and otherwise tries
    it until right, at most four times; exercise ``j`` is answered right with probability
    ``max(0.8 - 0.15 j, 0.15)`` per attempt. Every attempt carries the same time stamp, so the same
    seed gives the same rows.

    Raises
    ------
    InputError
        ``path`` exists already (the demo never adds to a real learner's database).
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(learners, bool) or not isinstance(learners, int) or learners < 1:
        raise InputError(f"learners must be a positive integer, got {learners!r}")
    if not exercises or not all(isinstance(x, str) and x for x in exercises):
        raise InputError(f"exercises must be non-empty exercise ids, got {exercises!r}")
    path = Path(path)
    if path.exists():
        raise InputError(f"{path} exists already; give demo_progress a new file")
    rng = np.random.default_rng(seed)
    for i in range(1, learners + 1):
        store = ProgressStore(path, learner=f"learner{i:02d}", clock=lambda: _DEMO_TIME)
        for j, exercise_id in enumerate(exercises):
            if rng.random() < 0.1:
                continue
            p_right = max(0.8 - 0.15 * j, 0.15)
            for attempt in range(1, 5):
                right = bool(rng.random() < p_right)
                store.record(
                    course=course,
                    exercise_id=exercise_id,
                    response=f"answer {attempt}",
                    correct=right,
                )
                if right:
                    break
    return path


@dataclass(frozen=True)
class ProgressSources:
    """What a dashboard reads: ``paths``, and ``note`` (where they came from, in words);
    ``demo`` is True when they are the demo class of :func:`demo_progress`; ``service`` is
    the data-access service (a remote cohort) when it keeps the class's attempts."""

    paths: tuple[Path, ...]
    note: str
    demo: bool = False
    service: object = None

    def attempts(self) -> pd.DataFrame:
        """Every attempt (columns :data:`workbench.teach.progress.ATTEMPT_COLUMNS`)."""
        if self.service is not None:
            return self.service.class_attempts()
        return read_attempts(self.paths)


def _demo_path(seed: int) -> Path:
    """The demo database, written once per seed under the system temp folder."""
    folder = Path(tempfile.gettempdir()) / "workbench-progress-demo"
    path = folder / f"demo-seed{seed}.sqlite"
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(dir=folder)) / "demo.sqlite"
        demo_progress(scratch, seed=seed)
        os.replace(scratch, path)  # atomic: a concurrent reader never sees half a demo
        scratch.parent.rmdir()
    return path


def progress_sources(
    progress: str | os.PathLike = "", *, service: str = "", token: str = "", demo_seed: int = 0
) -> ProgressSources:
    """The progress files a dashboard's ``progress`` parameter names.

    Parameters
    ----------
    progress
        A progress database, a CSV export, a folder of them (``*.csv``, ``*.sqlite``,
        ``*.db``), or ``""``: the default store (:func:`workbench.teach.default_progress_path`).
        When ``""`` and the default store does not exist yet, a demo class is written under the
        system temp folder (:func:`demo_progress` with ``demo_seed``) and the note says so.

    Raises
    ------
    InputError
        The path does not exist, or the folder holds no progress file.
    """
    if not isinstance(progress, str | os.PathLike):
        raise InputError(f"progress must be a path or '', got {type(progress).__name__}")
    url = os.environ.get(SERVICE_ENV) or service
    if not str(progress) and url:
        from ..service.client import connect

        return ProgressSources(
            (),
            f"The class's attempts, kept by the data-access service at {url}.",
            service=connect(url, token=token or None),
        )
    if not str(progress):
        default = default_progress_path()
        if default.is_file():
            return ProgressSources((default,), f"Attempts recorded in {default}.")
        demo = _demo_path(demo_seed)
        return ProgressSources(
            (demo,),
            f"No progress recorded yet ({default} does not exist): showing a DEMO class of "
            "synthetic learners. Pass the folder of your learners' CSV exports as `progress`.",
            demo=True,
        )
    path = Path(progress).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in _FILE_SUFFIXES)
        if not files:
            raise InputError(
                f"{path} holds no progress file (*.csv exports or *.sqlite databases); "
                "collect your learners' exports (ProgressStore.export_csv) there"
            )
        return ProgressSources(tuple(files), f"{len(files)} progress files in {path}.")
    if not path.is_file():
        raise InputError(
            f"{path} does not exist; pass a progress database, a CSV export or a folder of them"
        )
    return ProgressSources((path,), f"Attempts recorded in {path}.")


def course_table(table: pd.DataFrame, *, course: str = ALL_COURSES) -> pd.DataFrame:
    """The rows of :func:`workbench.teach.class_progress`'s table for one course (or all)."""
    if not isinstance(table, pd.DataFrame) or "course" not in table.columns:
        raise InputError("expected the table of class_progress(), with a 'course' column")
    if course == ALL_COURSES:
        return table.reset_index(drop=True)
    if course not in set(table.course):
        known = ", ".join(sorted(set(table.course))) or "none"
        raise InputError(f"no attempts at course {course!r}; courses: {known}")
    return table[table.course == course].reset_index(drop=True)


def _labels(table: pd.DataFrame) -> list[str]:
    if table.course.nunique() > 1:
        return [f"{c} · {x}" for c, x in zip(table.course, table.exercise_id, strict=True)]
    return [str(x) for x in table.exercise_id]


def progress_html(table: pd.DataFrame) -> str:
    """The per-exercise table, with words for the columns and a caption."""
    table = table.assign(
        mean_attempts_to_solve=[
            "—" if pd.isna(m) else m for m in table.mean_attempts_to_solve
        ]  # nobody solved it: a dash, not "nan"
    )
    shown = table.rename(
        columns={
            "exercise_id": "exercise",
            "learners": "learners who tried",
            "solved": "solved",
            "solved_percent": "solved %",
            "first_try": "right first time",
            "attempts": "attempts",
            "mean_attempts_to_solve": "mean attempts to solve",
        }
    )
    return table_html(shown, caption=f"Progress per exercise ({len(table)} exercises)")


def progress_png(table: pd.DataFrame) -> bytes:
    """PNG of two bar charts per exercise: the solved percentage and the mean attempts to
    solve (exercises nobody solved have no bar and are labelled "none solved")."""
    if not isinstance(table, pd.DataFrame) or table.empty:
        raise InputError("no attempts to plot; learners have not checked any answer yet")
    labels = _labels(table)
    y = np.arange(len(table))
    fig = _figure(9.0, 1.2 + 0.35 * len(table))
    left, right = fig.subplots(1, 2, sharey=True)
    left.barh(y, table.solved_percent, color="#1a7f37")
    left.set_xlim(0, 100)
    left.set_xlabel("learners who solved it (%)")
    left.set_yticks(y, labels)
    left.invert_yaxis()
    left.set_title("Solved")
    mean = table.mean_attempts_to_solve.astype(float)
    right.barh(y, mean.fillna(0), color="#0b5cad")
    for yi, m in zip(y, mean, strict=True):
        if np.isnan(m):
            right.text(0.05, yi, "none solved", va="center", fontsize=8)
    right.set_xlim(0, max(4.0, float(np.nanmax(mean)) if mean.notna().any() else 0) + 0.2)
    right.set_xlabel("mean attempts to solve")
    right.set_title("Attempts")
    return _fig_png(fig)


def grid_html(attempts: pd.DataFrame, *, course: str = ALL_COURSES) -> str:
    """Every learner against every exercise (:func:`workbench.teach.progress.learner_grid`)."""
    grid = learner_grid(attempts, course=None if course == ALL_COURSES else course)
    if grid.empty:
        return "<p>No learner has checked an answer yet.</p>"
    caption = (
        f"Each learner and exercise ({len(grid)} learners): ✔ n solved at attempt n, "
        "✘ n tried n times and not yet right"
    )
    return table_html(grid.reset_index(), caption=caption)


def attempts_csv_link(attempts: pd.DataFrame, *, name: str = "class-progress.csv") -> str:
    """An HTML link that downloads the attempts as CSV (no server round trip: a data URI)."""
    import base64

    data = base64.b64encode(attempts.to_csv(index=False).encode("utf-8")).decode("ascii")
    return (
        f"<a download='{_e(name)}' href='data:text/csv;base64,{data}'>"
        f"Download the {len(attempts)} attempts as CSV</a>"
    )


class ClassProgress(widgets.VBox, _Shows):
    """A class's progress per exercise: a course drop-down, a table, bar charts, Reload.

    Parameters
    ----------
    sources
        From :func:`progress_sources` (or a sequence of progress files).

    Attributes
    ----------
    course : ipywidgets.Dropdown
    reload_button : ipywidgets.Button
        Reads the files again (learners keep answering during a session).
    note, summary, table, grid, download : ipywidgets.HTML
    chart : ipywidgets.Image
    learner : ipywidgets.Dropdown
    reset_button : ipywidgets.Button
        Through the service only: resets the chosen learner (a first click asks to confirm,
        a second deletes their attempts).
    errors : ipywidgets.Output
    attempts : pandas.DataFrame
        Every attempt read.
    data : pandas.DataFrame
        The per-exercise table (:func:`workbench.teach.progress.summarise_attempts`).
    """

    def __init__(self, sources: ProgressSources, **kwargs):
        if not isinstance(sources, ProgressSources):
            sources = ProgressSources(tuple(Path(p) for p in sources), "")
        self.sources = sources
        self.note = widgets.HTML(
            f"<p class='wb-note'>{'<b>Demo:</b> ' if sources.demo else ''}{_e(sources.note)}</p>"
        )
        self.course = widgets.Dropdown(
            options=[ALL_COURSES], value=ALL_COURSES, description="Course"
        )
        self.reload_button = widgets.Button(
            description="Reload", icon="refresh", tooltip="Read the progress files again"
        )
        self.summary = widgets.HTML()
        self.table = widgets.HTML()
        self.chart = widgets.Image(format="png", layout=widgets.Layout(width="720px"))
        self.chart.layout.display = "none"  # until there is a chart: empty, it shows as broken
        self.grid = widgets.HTML()
        self.download = widgets.HTML()
        self.learner = widgets.Dropdown(options=[], description="Learner")
        self.reset_button = widgets.Button(
            description="Reset learner", icon="trash", button_style="warning",
            tooltip="Delete every attempt of the chosen learner (asks to confirm)",
        )  # fmt: skip
        self._armed = None
        self.errors = widgets.Output()
        self.attempts = pd.DataFrame(columns=list(ATTEMPT_COLUMNS))
        self.data = summarise_attempts(self.attempts)
        self.course.observe(lambda _c: self._safely(self._show), names="value")
        self.reload_button.on_click(lambda _b: self._safely(self._load))
        self.reset_button.on_click(lambda _b: self._safely(self._reset))
        # Resetting is the service's (for a trainer), and only once there is someone to reset
        self.resetting = widgets.HBox([self.learner, self.reset_button])
        self.resetting.layout.display = "none"
        resetting = [self.resetting] if sources.service else []
        super().__init__(
            [
                self.note,
                widgets.HBox([self.course, self.reload_button]),
                self.errors,
                self.summary,
                self.table,
                self.chart,
                self.grid,
                *resetting,
                self.download,
            ],
            **kwargs,
        )
        self._safely(self._load)

    @property
    def shown(self) -> pd.DataFrame:
        """The rows of the chosen course."""
        return course_table(self.data, course=self.course.value)

    def _load(self) -> None:
        self.attempts = self.sources.attempts()
        self.data = summarise_attempts(self.attempts)
        learners = sorted(set(self.attempts.learner))
        self.learner.options = learners
        self.resetting.layout.display = None if learners else "none"
        self.download.value = attempts_csv_link(self.attempts) if len(self.attempts) else ""
        courses = [ALL_COURSES, *sorted(set(self.data.course))]
        keep = self.course.value if self.course.value in courses else ALL_COURSES
        with self.course.hold_trait_notifications():
            self.course.options = courses
            self.course.value = keep
        self._show()

    def _reset(self) -> None:
        learner = self.learner.value
        if not learner:
            raise InputError("choose the learner to reset first")
        if self._armed != learner:  # the first click asks; the second deletes
            self._armed = learner
            self.reset_button.description = f"Confirm: reset {learner}"
            return
        self._armed = None
        self.reset_button.description = "Reset learner"
        removed = self.sources.service.reset_learner(learner)
        self.note.value = f"<p class='wb-note'>Reset {_e(learner)}: {removed} attempts deleted.</p>"
        self._load()

    def _show(self) -> None:
        self.grid.value = grid_html(self.attempts, course=self.course.value)
        rows = self.shown
        if rows.empty:
            self.summary.value = "<p>No attempts recorded yet.</p>"
            self.table.value = ""
            self.chart.value = b""
            self.chart.layout.display = "none"
            return
        self.chart.layout.display = None
        self.summary.value = (
            f"<p class='wb-count'><b>{len(rows)}</b> exercises, <b>{int(rows.attempts.sum())}"
            f"</b> attempts; up to <b>{int(rows.learners.max())}</b> learners per exercise.</p>"
        )
        self.table.value = progress_html(rows)
        self.chart.value = progress_png(rows)
