"""ACMG/AMP criteria panel: tick criteria, see the Table 5 class and the points class live.

The panel only wires: its checkboxes and strength drop-downs make a list of
:class:`~workbench.interpret.acmg.Evidence`, :func:`~workbench.interpret.acmg.classify`
decides, and :func:`classification_html` (a plain function tests can call) shows the result.
Standard ipywidgets only, so it works with the keyboard and screen readers; the class is
always written in words.

>>> from workbench.interpret import compute_criteria
>>> AcmgPanel(compute_criteria(facts))   # doctest: +SKIP
"""

from __future__ import annotations

import html
from collections.abc import Iterable

import ipywidgets as widgets

from ..errors import InputError
from ..interpret.acmg import (
    CRITERIA,
    Classification,
    Evidence,
    allowed_strengths,
    classify,
    parse_evidence,
)

__all__ = ["AcmgPanel", "classification_html"]

_STRENGTH_LABEL = {
    "stand_alone": "stand-alone",
    "very_strong": "very strong",
    "strong": "strong",
    "moderate": "moderate",
    "supporting": "supporting",
}


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def classification_html(classification: Classification | None) -> str:
    """HTML for a classification: Table 5 class and rule, points class, and any disagreement.

    ``None`` (nothing ticked) gives a prompt.
    """
    if classification is None:
        return "<p>No criteria ticked: tick the criteria that apply to see the class.</p>"
    if not isinstance(classification, Classification):
        raise InputError(
            f"expected a Classification from classify(), got {type(classification).__name__}"
        )
    c = classification
    parts = [
        f"<p><b>Table 5:</b> {_e(c.classification)} &mdash; {_e(c.rule)}</p>",
        f"<p><b>Points:</b> {c.points} &rarr; {_e(c.points_class)}</p>",
    ]
    if c.disagreement:
        parts.append(f"<p><b>The two views differ:</b> {_e(c.disagreement)}</p>")
    return "".join(parts)


class AcmgPanel(widgets.VBox):
    """One checkbox per ACMG/AMP criterion, grouped pathogenic / benign, and the live result.

    Parameters
    ----------
    evidence
        Criteria to pre-tick (usually :func:`~workbench.interpret.criteria.compute_criteria`'s
        output), at their strengths; their notes are shown beside the checkbox and as its
        tooltip.

    Attributes
    ----------
    checkboxes, strengths, notes : dict
        Code → ``Checkbox`` / strength ``Dropdown`` / note ``HTML``.
    result : ipywidgets.HTML
        The classification as :func:`classification_html` writes it.
    """

    def __init__(self, evidence: Iterable[Evidence | str] | None = None):
        self.checkboxes: dict[str, widgets.Checkbox] = {}
        self.strengths: dict[str, widgets.Dropdown] = {}
        self.notes: dict[str, widgets.HTML] = {}
        self._given: dict[str, Evidence] = {}
        self._quiet = False
        rows = {"pathogenic": [], "benign": []}
        for code, criterion in CRITERIA.items():
            box = widgets.Checkbox(
                value=False,
                description=code,
                indent=False,
                tooltip=criterion.summary,
                layout=widgets.Layout(width="70px"),
            )
            options = [(_STRENGTH_LABEL[s], s) for s in allowed_strengths(code)]
            strength = widgets.Dropdown(
                options=options,
                value=criterion.strength,
                tooltip=f"strength at which {code} is applied",
                disabled=len(options) == 1,
                layout=widgets.Layout(width="120px"),
            )
            note = widgets.HTML(value=_e(criterion.summary))
            box.observe(self._changed, names="value")
            strength.observe(self._changed, names="value")
            self.checkboxes[code], self.strengths[code], self.notes[code] = box, strength, note
            rows[criterion.direction].append(widgets.HBox([box, strength, note]))
        self.result = widgets.HTML()
        columns = widgets.HBox(
            [
                widgets.VBox([widgets.HTML("<b>Pathogenic criteria</b>"), *rows["pathogenic"]]),
                widgets.VBox([widgets.HTML("<b>Benign criteria</b>"), *rows["benign"]]),
            ]
        )
        super().__init__([columns, self.result])
        self.set_evidence(evidence or [])

    def set_evidence(self, evidence: Iterable[Evidence | str]) -> None:
        """Reset the panel to these criteria (ticked, at their strengths, with their notes)."""
        given = {e.code: e for e in parse_evidence(evidence)}
        self._quiet = True
        try:
            self._given = given
            for code, criterion in CRITERIA.items():
                e = given.get(code)
                self.checkboxes[code].value = e is not None
                self.strengths[code].value = criterion.strength if e is None else e.strength
                text = e.note if e is not None and e.note else criterion.summary
                if e is not None and e.source == "computed":
                    text = f"computed: {text}"
                self.notes[code].value = _e(text)
                self.checkboxes[code].tooltip = text
        finally:
            self._quiet = False
        self._update()

    @property
    def evidence(self) -> tuple[Evidence, ...]:
        """The ticked criteria.

        A pre-ticked criterion keeps its source and note while its strength is unchanged;
        at another strength it becomes the user's, its note saying so.
        """
        out = []
        for code in CRITERIA:
            if not self.checkboxes[code].value:
                continue
            strength = self.strengths[code].value
            given = self._given.get(code)
            if given is not None and given.strength == strength:
                out.append(given)
            else:
                note = f"{given.note} (strength set by the user)" if given and given.note else ""
                out.append(Evidence(code, strength, source="user", note=note))
        return tuple(out)

    @property
    def classification(self) -> Classification | None:
        """The classification of the ticked criteria, ``None`` when none is ticked."""
        evidence = self.evidence
        return classify(evidence) if evidence else None

    def _changed(self, _change) -> None:
        if not self._quiet:
            self._update()

    def _update(self) -> None:
        self.result.value = classification_html(self.classification)
