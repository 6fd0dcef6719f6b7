"""Exercises and their checking: plain functions the widgets (and tests) call.

An :class:`Exercise` is loaded by id from the sealed answer bundle beside the notebook
(:data:`~workbench.teach.sealing.BUNDLE_NAME`); in the source tree and the instructor edition
the answer key ``answers.yml`` is there instead (or as well) and is sealed on the fly, so the
same notebook cell works everywhere::

    ex = Exercise.load("m1.q2")
    check(ex, 0.07)          # Feedback(correct=True, message="Correct. …")

:func:`check` never needs the answer in clear: it hashes the normalised response and compares
it with the sealed digest (see :mod:`workbench.teach.sealing`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, SolutionMismatch
from .sealing import (
    ANSWERS_NAME,
    BUNDLE_FORMAT,
    BUNDLE_NAME,
    NUMERIC_SPLIT,
    answer_digest,
    load_answer_key,
    normalise_class,
    normalise_keys,
    normalise_text,
    numeric_bucket,
    reveal,
    seal_answers,
    unlock,
)

__all__ = [
    "Exercise",
    "Feedback",
    "SolutionMismatch",
    "check",
    "check_solution",
    "find_bundle",
    "load_bundle",
]


@dataclass(frozen=True)
class Feedback:
    """What :func:`check` says about one response.

    Attributes
    ----------
    correct
        ``True``/``False``; ``None`` for a free-text exercise without keywords (not marked).
    message
        One sentence for the learner.
    details
        Further sentences (criteria implied by ticked ACMG criteria, keywords found …).
    explanation
        The author's explanation, present only when the response was correct.
    """

    correct: bool | None
    message: str
    details: tuple[str, ...] = ()
    explanation: str | None = None

    @property
    def text(self) -> str:
        """Everything as plain text (what a screen reader reads)."""
        parts = [self.message, *self.details]
        if self.explanation:
            parts.append(self.explanation)
        return " ".join(parts)


@dataclass(frozen=True)
class Exercise:
    """One sealed exercise: the public parts in clear, the answer as a digest.

    Build one with :meth:`load` (by id, from the bundle beside the notebook) or
    :meth:`from_bundle`.
    """

    id: str
    type: str
    prompt: str
    course: str
    sealed: Mapping[str, Any] = field(repr=False)
    key: str = field(repr=False)

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def from_bundle(cls, bundle: Mapping, exercise_id: str) -> Exercise:
        """The exercise ``exercise_id`` of a sealed bundle (see :func:`load_bundle`)."""
        exercises = bundle.get("exercises", {})
        if exercise_id not in exercises:
            known = ", ".join(sorted(exercises)) or "none"
            raise InputError(
                f"no exercise {exercise_id!r} in the course {bundle.get('course')!r}; "
                f"known: {known}"
            )
        sealed = exercises[exercise_id]
        return cls(
            id=exercise_id,
            type=sealed["type"],
            prompt=sealed["prompt"],
            course=bundle["course"],
            sealed=sealed,
            key=bundle["key"],
        )

    @classmethod
    def load(cls, exercise_id: str, *, path: str | os.PathLike | None = None) -> Exercise:
        """Load an exercise by id from the course folder ``path`` (default: the current one).

        The sealed bundle ``answers.sealed.json`` is used when present, else ``answers.yml``
        is sealed in memory (source tree).
        """
        if not isinstance(exercise_id, str) or not exercise_id:
            raise InputError(f"expected an exercise id such as 'm1.q1', got {exercise_id!r}")
        return cls.from_bundle(load_bundle(path), exercise_id)

    @classmethod
    def from_spec(cls, course: str, exercise_id: str, spec: Mapping) -> Exercise:
        """An exercise written at run time (fields as in ``answers.yml``), sealed in memory.

        For exercises made from the learner's own case (:mod:`workbench.teach.case_exercises`).
        """
        from .sealing import seal_exercise

        return cls.from_bundle(seal_exercise(course, exercise_id, spec), str(exercise_id))

    # -- public parts ------------------------------------------------------------------------

    @property
    def options(self) -> dict[str, str]:
        """Option key → text (choice exercises; empty otherwise)."""
        return dict(self.sealed.get("options", {}))

    @property
    def multiple(self) -> bool:
        """True when several options may be right (choice exercises)."""
        return bool(self.sealed.get("multiple", False))

    @property
    def tolerance(self) -> float | None:
        return self.sealed.get("tolerance")

    @property
    def unit(self) -> str:
        return self.sealed.get("unit", "")

    @property
    def table(self):
        """The rows to pick from, as a DataFrame indexed by ``id`` (pick exercises)."""
        import pandas as pd

        rows = self.sealed.get("table", [])
        columns = list(self.sealed.get("columns", []))
        frame = pd.DataFrame(rows)
        if frame.empty:
            return frame
        frame["id"] = frame["id"].astype(str)
        return frame.set_index("id")[columns]

    @property
    def variant(self) -> str:
        """The variant to classify, described (classify exercises)."""
        return self.sealed.get("variant", "")

    @property
    def criteria_panel(self) -> bool:
        return bool(self.sealed.get("criteria_panel", False))

    @property
    def n_hints(self) -> int:
        return len(self.sealed.get("hints", []))

    def hint(self, n: int) -> str:
        """The ``n``-th hint (0-based)."""
        hints = self.sealed.get("hints", [])
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < len(hints):
            raise InputError(f"exercise {self.id} has {len(hints)} hints; got hint number {n!r}")
        return reveal(hints[n], key=self.key, exercise_id=self.id, purpose=f"hint{n}")

    def model_answer(self) -> str | None:
        """The model answer of a free-text exercise (``None`` for other types)."""
        blob = self.sealed.get("model_answer")
        if blob is None:
            return None
        return reveal(blob, key=self.key, exercise_id=self.id, purpose="model_answer")

    def describe(self) -> str:
        """The exercise as Markdown (prompt and options), for the static site."""
        lines = [f"**Exercise {self.id}.** {self.prompt}", ""]
        if self.type == "choice":
            lines.append("*Choose all that apply.*" if self.multiple else "*Choose one.*")
            lines.append("")
            lines += [f"- **{k}**: {v}" for k, v in self.options.items()]
        elif self.type == "numeric":
            unit = f" (in {self.unit})" if self.unit else ""
            lines.append(f"*Answer with a number{unit}.*")
        elif self.type == "pick":
            lines.append("*Pick every row that applies.*")
            lines.append("")
            lines.append(_markdown_table(self.table.reset_index()))
        elif self.type == "classify":
            lines.append(f"*Variant:* {self.variant}")
            lines.append("")
            lines.append(
                "*Choose an ACMG/AMP class"
                + (", and tick the criteria that apply.*" if self.criteria_panel else ".*")
            )
        else:
            lines.append("*Write a short answer, then compare it with the model answer.*")
        return "\n".join(lines).rstrip() + "\n"


def _markdown_table(frame) -> str:
    cols = [str(c) for c in frame.columns]
    rows = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        rows.append("| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |")
    return "\n".join(rows)


# -- bundles -------------------------------------------------------------------------------

_CACHE: dict[tuple[str, int, int], dict] = {}


def find_bundle(path: str | os.PathLike | None = None) -> Path:
    """The sealed bundle or answer key serving exercises in folder ``path``.

    Looks in ``path`` (default: the current folder) and its parent, preferring
    ``answers.sealed.json`` to ``answers.yml``.
    """
    start = Path.cwd() if path is None else Path(path)
    if start.is_file():
        return start
    for folder in (start, start.parent):
        for name in (BUNDLE_NAME, ANSWERS_NAME):
            if (folder / name).is_file():
                return folder / name
    raise InputError(
        f"no {BUNDLE_NAME} (or {ANSWERS_NAME}) in {start} or its parent; open the notebook "
        f"from its course folder, or build the course with `workbench course build`"
    )


def load_bundle(path: str | os.PathLike | None = None) -> dict:
    """The sealed bundle for folder (or file) ``path``; an answer key is sealed in memory."""
    found = find_bundle(path)
    stat = found.stat()
    cache_key = (str(found.resolve()), stat.st_mtime_ns, stat.st_size)
    if cache_key in _CACHE:
        return _CACHE[cache_key]
    if found.name.endswith((".yml", ".yaml")):
        bundle = seal_answers(load_answer_key(found))
    else:
        try:
            bundle = json.loads(found.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise InputError(f"{found} is not valid JSON ({e}); rebuild the course") from e
        if not isinstance(bundle, Mapping) or bundle.get("format") != BUNDLE_FORMAT:
            raise InputError(
                f"{found} is not a sealed answer bundle (format {BUNDLE_FORMAT}); rebuild it "
                f"with `workbench course build`"
            )
    _CACHE[cache_key] = bundle
    return bundle


# -- checking ------------------------------------------------------------------------------


def _explanation(ex: Exercise, normalised: str) -> str | None:
    blob = ex.sealed.get("explanation")
    return None if blob is None else unlock(blob, salt=ex.sealed["salt"], normalised=normalised)


def _matches(ex: Exercise, normalised: str) -> bool:
    return answer_digest(ex.sealed["salt"], normalised) == ex.sealed["answer"]


def _verdict(ex: Exercise, normalised: str, *, wrong: str, details=()) -> Feedback:
    if _matches(ex, normalised):
        return Feedback(True, "Correct.", tuple(details), _explanation(ex, normalised))
    hint = " Try a hint." if ex.n_hints else ""
    return Feedback(False, f"Not quite. {wrong}{hint}".rstrip(), tuple(details))


def _as_list(response) -> list:
    if response is None:
        return []
    if isinstance(response, str | int):
        return [response]
    if isinstance(response, Iterable):
        return list(response)
    raise InputError(f"expected a key or a list of keys, got {type(response).__name__}")


def _check_choice(ex: Exercise, response) -> Feedback:
    keys = [str(k) for k in _as_list(response)]
    unknown = [k for k in keys if k not in ex.options]
    if unknown:
        raise InputError(
            f"exercise {ex.id}: {', '.join(unknown)} is not an option; "
            f"choose among {', '.join(ex.options)}"
        )
    if not keys:
        return Feedback(False, "Choose an answer first.")
    if not ex.multiple and len(keys) > 1:
        return Feedback(False, "Choose one answer only.")
    wrong = "Some of your choices are not right, or one is missing." if ex.multiple else ""
    return _verdict(ex, normalise_keys(keys), wrong=wrong)


def _check_numeric(ex: Exercise, response) -> Feedback:
    if response is None or (isinstance(response, str) and not response.strip()):
        return Feedback(False, "Enter a number first.")
    try:
        bucket = numeric_bucket(response, ex.tolerance)
    except InputError:
        return Feedback(False, f"{response!r} is not a number; write it like 0.25 or 12.")
    for offset in range(-NUMERIC_SPLIT, NUMERIC_SPLIT + 1):
        normalised = str(bucket + offset)
        if _matches(ex, normalised):
            return Feedback(True, "Correct.", (), _explanation(ex, normalised))
    hint = " Try a hint." if ex.n_hints else ""
    return Feedback(False, f"Not quite: that is not within {ex.tolerance:g} of the answer.{hint}")


def _check_pick(ex: Exercise, response) -> Feedback:
    ids = [str(i) for i in _as_list(response)]
    rows = set(ex.table.index)
    unknown = [i for i in ids if i not in rows]
    if unknown:
        raise InputError(f"exercise {ex.id}: no rows {', '.join(unknown)} in the table")
    if not ids:
        return Feedback(False, "Pick at least one row first.")
    return _verdict(
        ex, normalise_keys(ids), wrong="Your selection misses a row or includes one too many."
    )


def _check_classify(ex: Exercise, response) -> Feedback:
    from ..interpret.acmg import classify, parse_evidence

    criteria: list = []
    if isinstance(response, Mapping):
        chosen = response.get("class")
        criteria = list(response.get("criteria") or [])
    else:
        chosen = response
    if chosen is None or chosen == "":
        return Feedback(False, "Choose a class first.")
    normalised = normalise_class(chosen)
    details = []
    if criteria:
        evidence = parse_evidence(criteria)
        implied = classify(evidence)
        labels = ", ".join(e.label for e in evidence)
        same = normalise_class(implied.classification) == normalised
        details.append(
            f"Your criteria ({labels}) give {implied.classification} by Table 5 "
            f"({implied.rule}); "
            + ("that agrees with the class you chose." if same else "not the class you chose.")
        )
        if "criteria" in ex.sealed:
            joined = "|".join(sorted(e.label for e in evidence)).casefold()
            match = answer_digest(ex.sealed["salt"], joined) == ex.sealed["criteria"]
            details.append(
                "Your criteria are the ones in the answer key."
                if match
                else "Your criteria differ from the answer key's."
            )
    return _verdict(
        ex, normalised, wrong="That is not the class the evidence supports.", details=details
    )


def _phrases(text: str, n: int = 3) -> set[str]:
    words = re.findall(r"[\w'-]+", normalise_text(text))
    out = set()
    for size in range(1, n + 1):
        for i in range(len(words) - size + 1):
            out.add(" ".join(words[i : i + size]))
    return out


def _check_text(ex: Exercise, response) -> Feedback:
    if not isinstance(response, str) or not response.strip():
        return Feedback(None, "Write an answer first.")
    model = ex.model_answer() or ""
    keywords = list(ex.sealed.get("keywords", []))
    if not keywords:
        return Feedback(
            None, "Thank you. Compare your answer with the model answer.", explanation=model
        )
    salt = ex.sealed["salt"]
    found = {answer_digest(salt, p) for p in _phrases(response)}
    hit = sum(1 for alternatives in keywords if found.intersection(alternatives))
    if hit == len(keywords):
        return Feedback(True, "Your answer covers every key idea.", explanation=model)
    return Feedback(
        False,
        f"Your answer mentions {hit} of {len(keywords)} key ideas; "
        "compare it with the model answer.",
        explanation=model,
    )


_CHECKERS = {
    "choice": _check_choice,
    "numeric": _check_numeric,
    "pick": _check_pick,
    "classify": _check_classify,
    "text": _check_text,
}


def check(exercise: Exercise, response) -> Feedback:
    """Mark a response to an exercise.

    Parameters
    ----------
    exercise
        An :class:`Exercise`.
    response
        ``choice``: an option key, or a list of keys; ``numeric``: a number (or its text);
        ``pick``: a list of row ids; ``classify``: a class (``"Likely pathogenic"``, ``"LP"``)
        or a mapping ``{"class": …, "criteria": ["PVS1", "PM2_Supporting"]}``; ``text``: text.

    Returns
    -------
    Feedback
        An empty response gives ``correct=False`` (``None`` for text) with a prompt to answer.

    Raises
    ------
    InputError
        A response naming options or rows the exercise does not have, or an unknown class.
    """
    if not isinstance(exercise, Exercise):
        raise InputError(f"expected an Exercise (Exercise.load(id)), got {type(exercise).__name__}")
    return _CHECKERS[exercise.type](exercise, response)


def check_solution(exercise_id: str | Exercise, response, *, path: str | os.PathLike | None = None):
    """Assert that a model solution is marked correct; for solution cells of course notebooks.

    ``exercise_id`` is an id of the course's answer key or an :class:`Exercise` (a case
    exercise, :meth:`Exercise.from_spec`). Returns the :class:`Feedback`; raises
    :class:`SolutionMismatch` when it is not correct, so a papermill run of the notebook
    (``workbench course check``) fails on a broken key.
    """
    ex = exercise_id if isinstance(exercise_id, Exercise) else Exercise.load(exercise_id, path=path)
    exercise_id = ex.id
    feedback = check(ex, response)
    if feedback.correct is not True:
        raise SolutionMismatch(
            f"the model solution of exercise {exercise_id} ({response!r}) is marked "
            f"{feedback.message!r}; fix the solution or the answer key",
            exercise_id=exercise_id,
            feedback=feedback,
        )
    return feedback
