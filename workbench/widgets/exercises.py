"""Exercise widgets: standard ipywidgets wired to :func:`workbench.teach.check`.

Each widget shows the prompt, a control for the response, a **Check** button, a **Hint**
button (revealing hints one at a time) and a feedback area. The marking is done by
:func:`workbench.teach.check`; :func:`feedback_html` renders its :class:`Feedback` (a plain
function tests can call). Only standard controls (radio buttons, checkboxes, text boxes,
select lists, drop-downs, buttons) are used, so everything is reachable with the keyboard,
behaves the same in JupyterLab and Voila, and no JavaScript is sent to the page.

In a course notebook::

    from workbench.widgets.exercises import exercise
    exercise("m1.q2")
"""

from __future__ import annotations

import html
import os

import ipywidgets as widgets

from ..errors import InputError, WorkbenchError
from ..teach.exercises import Exercise, Feedback, check
from ..teach.progress import ProgressStore
from .dashboards.common import SERVICE_ENV

__all__ = [
    "ClassifyVariant",
    "ExerciseWidget",
    "FreeText",
    "MultipleChoice",
    "Numeric",
    "PickVariants",
    "case_exercise",
    "exercise",
    "feedback_html",
]


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _markdown_inline(text: str) -> str:
    """Escape, then keep **bold**, *italic* and `code` (prompts are short Markdown)."""
    import re

    out = _e(text)
    out = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", out)
    out = re.sub(r"\*(.+?)\*", r"<i>\1</i>", out)
    out = re.sub(r"`(.+?)`", r"<code>\1</code>", out)
    return out.replace("\n\n", "<br><br>")


def feedback_html(feedback: Feedback | None) -> str:
    """HTML for a feedback: a word for the verdict (never colour alone), message, details, in
    a live region (``role="status"``) that screen readers announce."""
    if feedback is None:
        return ""
    if not isinstance(feedback, Feedback):
        raise InputError(f"expected a Feedback from check(), got {type(feedback).__name__}")
    verdict = {True: "✔ Right", False: "✘ Not yet", None: "✎ Noted"}[feedback.correct]
    colour = {True: "#1a7f37", False: "#b35900", None: "#444"}[feedback.correct]
    # A live region: screen readers announce the verdict when Check is pressed.
    parts = ['<div role="status" aria-live="polite">']
    parts.append(f'<p><b style="color:{colour}">{verdict}:</b> {_e(feedback.message)}</p>')
    parts += [f"<p>{_e(d)}</p>" for d in feedback.details]
    if feedback.explanation:
        label = "Model answer" if feedback.correct is None or not feedback.correct else "Why"
        parts.append(f"<p><b>{label}:</b> {_markdown_inline(feedback.explanation)}</p>")
    parts.append("</div>")
    return "".join(parts)


class ExerciseWidget(widgets.VBox):
    """Prompt, response control, Check and Hint buttons, feedback.

    Parameters
    ----------
    exercise
        The :class:`~workbench.teach.Exercise` (``Exercise.load(id)``).
    store
        A :class:`~workbench.teach.ProgressStore` recording every attempt, or ``None`` to
        record nothing.

    Attributes
    ----------
    check_button, hint_button : ipywidgets.Button
    feedback : ipywidgets.HTML
        What the last check said (:func:`feedback_html`).
    hints : ipywidgets.HTML
        The hints revealed so far.
    last : Feedback or None
    attempts : int
    """

    def __init__(self, exercise: Exercise, *, store: ProgressStore | None = None):
        if not isinstance(exercise, Exercise):
            raise InputError(f"expected an Exercise, got {type(exercise).__name__}")
        self.exercise = exercise
        self.store = store
        self.attempts = 0
        self.last: Feedback | None = None
        self._hints_shown = 0
        self.prompt = widgets.HTML(
            f"<p><b>Exercise {_e(exercise.id)}.</b> {_markdown_inline(exercise.prompt)}</p>"
        )
        self.check_button = widgets.Button(
            description="Check",
            button_style="primary",
            tooltip="Check your answer",
            icon="check",
        )
        self.hint_button = widgets.Button(
            description=self._hint_label(),
            tooltip="Reveal the next hint",
            disabled=exercise.n_hints == 0,
            icon="lightbulb-o",
        )
        if exercise.n_hints == 0:
            self.hint_button.layout.display = "none"
        self.feedback = widgets.HTML()
        self.hints = widgets.HTML()
        self.check_button.on_click(self._on_check)
        self.hint_button.on_click(self._on_hint)
        super().__init__(
            [
                self.prompt,
                *self._controls(),
                widgets.HBox([self.check_button, self.hint_button]),
                self.hints,
                self.feedback,
            ],
            layout=widgets.Layout(border="1px solid #bbb", padding="0.5em", margin="0.5em 0"),
        )

    # subclasses: the controls and the response they make
    def _controls(self) -> list:
        raise NotImplementedError

    @property
    def response(self):
        """The learner's current response, in the form :func:`check` takes."""
        raise NotImplementedError

    def _hint_label(self) -> str:
        n = self.exercise.n_hints
        return (
            f"Hint ({self._hints_shown + 1} of {n})" if self._hints_shown < n else "No more hints"
        )

    def _on_hint(self, _button=None) -> None:
        if self._hints_shown >= self.exercise.n_hints:
            return
        text = self.exercise.hint(self._hints_shown)
        self._hints_shown += 1
        self.hints.value += f"<p><b>Hint {self._hints_shown}:</b> {_markdown_inline(text)}</p>"
        self.hint_button.description = self._hint_label()
        self.hint_button.disabled = self._hints_shown >= self.exercise.n_hints

    def _on_check(self, _button=None) -> None:
        try:
            feedback = check(self.exercise, self.response)
        except WorkbenchError as e:  # a bad response: say so, never a traceback
            self.feedback.value = f"<p><b>Cannot check this:</b> {_e(e)}</p>"
            return
        self.attempts += 1
        self.last = feedback
        self.feedback.value = feedback_html(feedback)
        if self.store is not None:
            try:
                self.store.record(
                    course=self.exercise.course,
                    exercise_id=self.exercise.id,
                    response=self.response,
                    correct=feedback.correct,
                )
            except (OSError, WorkbenchError) as e:
                self.feedback.value += f"<p><i>(progress not saved: {_e(e)})</i></p>"


class MultipleChoice(ExerciseWidget):
    """Radio buttons (one answer) or checkboxes (several answers)."""

    def _controls(self) -> list:
        ex = self.exercise
        if ex.multiple:
            self.choices = {
                key: widgets.Checkbox(
                    value=False,
                    description=f"{key}) {text}",
                    indent=False,
                    layout=widgets.Layout(width="auto"),
                )
                for key, text in ex.options.items()
            }
            return list(self.choices.values())
        self.choices = widgets.RadioButtons(
            options=[(f"{k}) {t}", k) for k, t in ex.options.items()],
            value=None,
            layout=widgets.Layout(width="auto"),
        )
        return [self.choices]

    @property
    def response(self):
        if self.exercise.multiple:
            return [k for k, box in self.choices.items() if box.value]
        return self.choices.value


class Numeric(ExerciseWidget):
    """A text box for a number (text, so an empty box is not read as 0)."""

    def _controls(self) -> list:
        unit = self.exercise.unit
        self.answer = widgets.Text(
            placeholder="a number, e.g. 0.25",
            description="Answer:",
            layout=widgets.Layout(width="260px"),
        )
        return [widgets.HBox([self.answer, widgets.Label(unit)])] if unit else [self.answer]

    @property
    def response(self):
        return self.answer.value


class PickVariants(ExerciseWidget):
    """The table, then a multi-select list with one entry per row (Ctrl/Shift to pick more)."""

    def _controls(self) -> list:
        table = self.exercise.table
        caption = "Rows to choose from (pick every one that applies below)"
        frame = table.reset_index()
        self.table_html = widgets.HTML(
            frame.to_html(index=False, escape=True, border=0)
            .replace("<table", f'<table aria-label="{_e(caption)}"', 1)
            .replace(">", f"><caption>{_e(caption)}</caption>", 1)
        )
        labels = []
        for row_id, row in table.iterrows():
            summary = ", ".join(f"{c}={v}" for c, v in row.items())
            labels.append((f"{row_id}: {summary}", row_id))
        self.rows = widgets.SelectMultiple(
            options=labels,
            value=(),
            rows=min(len(labels), 8),
            description="Pick:",
            layout=widgets.Layout(width="95%"),
        )
        return [self.table_html, self.rows]

    @property
    def response(self):
        return list(self.rows.value)


class ClassifyVariant(ExerciseWidget):
    """A class drop-down and, when the exercise asks for it, the ACMG criteria panel."""

    def _controls(self) -> list:
        from ..interpret.acmg import CLASSES
        from .acmg import AcmgPanel

        ex = self.exercise
        self.classification = widgets.Dropdown(
            options=[("— choose a class —", None), *[(c, c) for c in CLASSES]],
            value=None,
            description="Class:",
            layout=widgets.Layout(width="360px"),
        )
        controls = [widgets.HTML(f"<p><b>Variant:</b> {_e(ex.variant)}</p>")]
        self.panel = AcmgPanel() if ex.criteria_panel else None
        if self.panel is not None:
            controls.append(widgets.HTML("<p>Tick the criteria that apply:</p>"))
            controls.append(self.panel)
        controls.append(self.classification)
        return controls

    @property
    def response(self):
        criteria = [] if self.panel is None else [e.label for e in self.panel.evidence]
        return {"class": self.classification.value, "criteria": criteria}


class FreeText(ExerciseWidget):
    """A text area; the model answer appears after the first attempt."""

    def _controls(self) -> list:
        self.answer = widgets.Textarea(
            placeholder="Your answer, in a few sentences",
            description="Answer:",
            layout=widgets.Layout(width="95%", height="7em"),
        )
        return [self.answer]

    @property
    def response(self):
        return self.answer.value


_WIDGETS = {
    "choice": MultipleChoice,
    "numeric": Numeric,
    "pick": PickVariants,
    "classify": ClassifyVariant,
    "text": FreeText,
}


def exercise(
    exercise_id: str,
    *,
    path: str | os.PathLike | None = None,
    store: ProgressStore | str | None = "default",
) -> ExerciseWidget:
    """The widget of exercise ``exercise_id`` of the course in folder ``path`` (default: here).

    ``store="default"`` records attempts where :func:`default_store` says; ``None`` records
    nothing.
    """
    return _widget(Exercise.load(exercise_id, path=path), store)


def case_exercise(
    exercise_id: str,
    spec,
    *,
    path: str | os.PathLike | None = None,
    store: ProgressStore | str | None = "default",
) -> ExerciseWidget:
    """The widget of an exercise made from the learner's case (``spec``: the fields of an
    ``answers.yml`` entry, e.g. :func:`workbench.teach.case_exercises.inheritance_exercise`).

    Sealed in memory and marked like the course's own exercises; attempts are recorded under
    ``exercise_id`` in the course of the folder ``path`` (default: here).
    """
    from ..teach.exercises import load_bundle

    course = load_bundle(path)["course"]
    return _widget(Exercise.from_spec(course, exercise_id, spec), store)


def _widget(ex: Exercise, store) -> ExerciseWidget:
    if isinstance(store, str):
        if store != "default":
            raise InputError(f"store must be a ProgressStore, None or 'default'; got {store!r}")
        store = default_store()
    return _WIDGETS[ex.type](ex, store=store)


def default_store():
    """Where a learner's attempts go by default.

    To the data-access service when ``$WORKBENCH_SERVICE`` names one, as the token's user (in
    a hosted class, the learner's hub identity: the trainer sees the class's progress live);
    else to :class:`ProgressStore`'s local database. Either is reached at the first check.
    """
    url = os.environ.get(SERVICE_ENV)
    if url:
        from ..service.client import RemoteProgress

        return RemoteProgress(url)
    return ProgressStore()
