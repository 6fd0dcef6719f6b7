"""Access widgets: a patient's consent, and why a session sees what it sees.

The widgets only wire: they read their controls, call the plain functions of
:mod:`workbench.access.explain`, and show the result as HTML built by the functions below
(:func:`consent_html`, :func:`explanation_html`), which tests can call directly. They are made
of standard ipywidgets (no custom front-end), so they work with the keyboard and screen
readers; every control has a label. An error raised by a callback is shown as one line in
the widget's ``errors`` Output — never a traceback.

>>> ConsentPanel(session, "P00003")   # doctest: +SKIP
>>> AccessExplainer(session)          # doctest: +SKIP
"""

from __future__ import annotations

import html
from collections.abc import Callable

import ipywidgets as widgets

from ..access.explain import consent_history, consent_summary, explain_access
from ..errors import InputError

__all__ = [
    "AccessExplainer",
    "ConsentPanel",
    "consent_html",
    "error_line",
    "explanation_html",
]


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _list(items) -> str:
    return "<ul>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>"


def error_line(error: BaseException) -> str:
    """An error as one line for people: ``"<Kind>: <first line of the message>"``."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else 'no details'}"


def consent_html(summary: dict) -> str:
    """HTML for :func:`~workbench.access.explain.consent_summary`'s result.

    The current choices and their meaning come first as text (the text alternative of the
    table), then the version history as a table with a caption and column headers; the
    current version is marked in words, not by colour alone.
    """
    if not isinstance(summary, dict) or "versions" not in summary:
        raise InputError("summary must be the dict consent_summary() returns")
    meaning = summary["meaning"]
    head = ("Version", "Signed on", "Form", "Signed by", "Change", "Secondary findings",
            "Recontact", "Research opt-out", "Withdrawn")  # fmt: skip
    last = summary["versions"][-1]["version"]
    rows = []
    for v in summary["versions"]:
        sf = ", ".join(c.replace("_", " ") for c in v["secondary_findings"]) or "none"
        cells = (
            f"{v['version']} (current)" if v["version"] == last else v["version"],
            v["signed_on"],
            v["form_version"],
            v["signed_by"],
            v["change"],
            sf,
            "yes" if v["recontact"] else "no",
            "opted out" if v["research_opt_out"] else "no",
            "withdrawn" if v["withdrawn"] else "no",
        )
        rows.append(
            f'<tr><th scope="row">{_e(cells[0])}</th>'
            + "".join(f"<td>{_e(c)}</td>" for c in cells[1:])
            + "</tr>"
        )
    pid = _e(summary["person_id"])
    return (
        f'<section class="wb-consent" aria-label="Consent of {pid}">'
        f"<h4>Consent of {pid}: current choices</h4>"
        + _list(summary["choices"])
        + "<h4>What this means</h4>"
        + _list(
            [
                f"Care: {meaning['care']}",
                f"Research: {meaning['research']}",
                f"Secondary findings: {meaning['secondary_findings']}",
            ]
        )
        + f"<table><caption>Consent versions of {pid}, oldest first</caption><thead><tr>"
        + "".join(f'<th scope="col">{_e(h)}</th>' for h in head)
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></section>"
    )


def explanation_html(explanation: dict) -> str:
    """HTML for :func:`~workbench.access.explain.explain_access`'s result.

    Outcome and scope first, then the reasons, the approved and refused datasets, the
    consent rules and the counts, each as text.
    """
    if not isinstance(explanation, dict) or "outcome" not in explanation:
        raise InputError("explanation must be the dict explain_access() returns")
    x = explanation
    purpose = ", ".join(f"{k}={v}" for k, v in x["purpose"].items())
    parts = [
        f'<section class="wb-access" aria-label="Access of {_e(x["user"])}">',
        f"<h4>Access for {_e(x['user'])} ({_e(purpose)}): {_e(x['outcome'])}</h4>",
        f"<p><strong>Scope:</strong> {_e(x['scope_means'])}. "
        f"<strong>People are shown by:</strong> {_e(x['identifiers'])}.</p>",
        "<p><strong>Reasons</strong></p>",
        _list(f"{r['detail']} ({r['code']})" for r in x["reasons"]),
    ]
    if x["datasets"]:
        parts += ["<p><strong>Approved datasets</strong></p>", _list(x["datasets"])]
    if x["refused_datasets"]:
        refused = [
            f"{r['dataset']}: " + "; ".join(f"{q['detail']} ({q['code']})" for q in r["reasons"])
            for r in x["refused_datasets"]
        ]
        parts += ["<p><strong>Your refused grants</strong></p>", _list(refused)]
    if x["consent_rules"]:
        parts += ["<p><strong>Consent rules applied</strong></p>", _list(x["consent_rules"])]
    counts = []
    if x["people_in_view"] is not None:
        counts.append(f"People in view: {x['people_in_view']}")
    if x["excluded_by_consent"] is not None:
        counts.append(f"Excluded by consent: {x['excluded_by_consent']} (a count, never who)")
    elif x["scope"] in ("record", "aggregate"):
        counts.append("Excluded by consent: known after your first query")
    if counts:
        parts += ["<p><strong>Counts</strong></p>", _list(counts)]
    parts.append("</section>")
    return "".join(parts)


class _Shows:
    """Shared plumbing: run a callback, show its error as one line in ``errors``."""

    errors: widgets.Output

    def _safely(self, fn: Callable[[], None]) -> bool:
        self.errors.outputs = ()
        try:
            fn()
        except Exception as e:  # a UI callback must never surface a traceback
            self.errors.append_stdout(error_line(e) + "\n")
            return False
        return True


class ConsentPanel(widgets.VBox, _Shows):
    """A person's consent: current choices in words and the version history.

    Parameters
    ----------
    session_or_conn_factory
        A :class:`~workbench.access.session.Session` of a treating clinician (their
        patients) or a data steward — each look is decided and audited — or a callable
        returning a registry connection (consent administration).
    person_id
        The person to show first; the ``person`` field changes it.

    Attributes
    ----------
    person, show, view, errors
        The person-id field, the button that shows it, the HTML view and the error Output.
    summary
        The last :func:`~workbench.access.explain.consent_summary` shown, or ``None``.
    """

    def __init__(self, session_or_conn_factory, person_id: str, **kwargs):
        self._source = session_or_conn_factory
        self.summary: dict | None = None
        self.person = widgets.Text(
            value=person_id,
            description="Person id",
            placeholder="e.g. P00003",
            tooltip="Internal person id of the patient",
            style={"description_width": "initial"},
        )
        self.show = widgets.Button(
            description="Show consent",
            tooltip="Show this person's current consent and its versions",
            icon="id-card",
        )
        self.view = widgets.HTML(value="")
        self.errors = widgets.Output()
        self.show.on_click(lambda _button: self.refresh())
        super().__init__(
            children=[widgets.HBox([self.person, self.show]), self.errors, self.view], **kwargs
        )
        self.refresh()

    def refresh(self) -> bool:
        """Load and show the consent of the id in ``person``; ``False`` if it failed."""

        def load():
            summary = consent_summary(consent_history(self._source, self.person.value.strip()))
            self.view.value = consent_html(summary)
            self.summary = summary

        ok = self._safely(load)
        if not ok:
            self.view.value = ""
            self.summary = None
        return ok


class AccessExplainer(widgets.VBox, _Shows):
    """Why a session sees what it sees: outcome, reasons, datasets and counts.

    The explanation is decided afresh on every click of **Explain my access** (a revoked
    grant shows at once). With record-level access each refresh makes one audited
    ``samples()`` read to count the people in view.

    Attributes
    ----------
    refresh_button, view, errors
        The button, the HTML view and the error Output.
    explanation
        The last :func:`~workbench.access.explain.explain_access` shown, or ``None``.
    """

    def __init__(self, session, **kwargs):
        self._session = session
        self.explanation: dict | None = None
        self.refresh_button = widgets.Button(
            description="Explain my access",
            tooltip="Decide again and explain what this session may see, and why",
            icon="refresh",
        )
        self.view = widgets.HTML(value="")
        self.errors = widgets.Output()
        self.refresh_button.on_click(lambda _button: self.refresh())
        super().__init__(children=[self.refresh_button, self.errors, self.view], **kwargs)
        self.refresh()

    def refresh(self) -> bool:
        """Explain the session's access again; ``False`` if it failed."""

        def load():
            explanation = explain_access(self._session)
            self.view.value = explanation_html(explanation)
            self.explanation = explanation

        ok = self._safely(load)
        if not ok:
            self.view.value = ""
            self.explanation = None
        return ok
