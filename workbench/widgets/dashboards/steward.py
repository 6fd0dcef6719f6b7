"""The consent and audit console of a data steward."""

from __future__ import annotations

import ipywidgets as widgets
import pandas as pd

from ...errors import InputError
from ..access import ConsentPanel, _Shows
from .common import ANY, _e, table_html


def consent_overview(session, *, status: str = ANY) -> pd.DataFrame:
    """Everyone's current consent: ``person_id, version, signed_on, signed_by, recontact,
    research_opt_out, withdrawn, secondary_findings``, read through a steward's session.

    ``status`` is :data:`ANY`, ``"withdrawn"``, ``"opted out"`` or ``"changed"`` (more than
    one version). Genotypes are never read here.
    """
    if status not in (ANY, "withdrawn", "opted out", "changed"):
        raise InputError(
            f"status must be {ANY!r}, 'withdrawn', 'opted out' or 'changed', got {status!r}"
        )
    table = session.consents()
    table = table[
        ["person_id", "version", "signed_on", "signed_by", "recontact", "research_opt_out",
         "withdrawn", "secondary_findings"]
    ].copy()  # fmt: skip
    for flag in ("recontact", "research_opt_out", "withdrawn"):
        table[flag] = table[flag].astype(bool)
    if status == "withdrawn":
        table = table[table.withdrawn]
    elif status == "opted out":
        table = table[table.research_opt_out]
    elif status == "changed":
        table = table[table.version > 1]
    return table.reset_index(drop=True)


def grants_table(session) -> pd.DataFrame:
    """Project grants with ``in_force`` on the session's date, through a steward's session."""
    return session.grants()


def audit_html(log: pd.DataFrame, *, limit: int = 25) -> str:
    """The last ``limit`` audit entries, newest first, as an HTML table."""
    columns = ["seq", "at", "user_id", "action", "decision", "basis", "n_excluded", "result_size"]
    shown = log[columns].sort_values("seq", ascending=False).copy()
    shown["basis"] = shown.basis.map(lambda b: ", ".join(b) if isinstance(b, list | tuple) else b)
    return table_html(shown, caption=f"{len(log)} audit entries, newest first", limit=limit)


def verify_html(report: dict) -> str:
    """The audit chain verification in words (never colour alone)."""
    if report.get("ok"):
        return (
            f"<p class='wb-verify'><b>Chain intact</b>: {report['entries']} entries verified "
            f"against the key and the external checkpoints.</p>"
        )
    problems = "".join(f"<li>{_e(p)}</li>" for p in report.get("problems", []))
    return f"<p class='wb-verify'><b>Chain broken</b></p><ul>{problems}</ul>"


class StewardConsole(widgets.VBox, _Shows):
    """Consents with their history, withdrawals, grants and the audit log, for a data steward.

    Every look at a person's history, every withdrawal and every audit read goes through
    the steward's session (decided and audited).

    Attributes
    ----------
    status : ipywidgets.Dropdown
        Which consents the table lists.
    consents, grants, audit : ipywidgets.HTML
    person : ipywidgets.Dropdown
        The person whose consent history ``history`` shows.
    history : ConsentPanel
    withdraw_note, withdraw_button
        Record a withdrawal for ``person`` (signed on the cohort's reference date).
    verify_button, verify_result
    errors : ipywidgets.Output
    """

    def __init__(self, session, **kwargs):
        self.session = session
        self.cohort = session.cohort
        self.status = widgets.Dropdown(
            options=[ANY, "withdrawn", "opted out", "changed"], value=ANY, description="Consents"
        )
        self.consents = widgets.HTML()
        people = list(consent_overview(self.session).person_id)
        self.person = widgets.Dropdown(options=people, value=people[0], description="Person")
        self.history = ConsentPanel(session, people[0])
        self.withdraw_note = widgets.Text(
            value="", description="Note", placeholder="why, as the person said"
        )
        self.withdraw_button = widgets.Button(
            description="Record withdrawal", button_style="warning", icon="ban"
        )
        self.grants = widgets.HTML()
        self.audit_user = widgets.Text(value="", description="User", placeholder="user id")
        self.audit = widgets.HTML()
        self.verify_button = widgets.Button(description="Verify audit chain", icon="check")
        self.verify_result = widgets.HTML()
        self.errors = widgets.Output()
        self.status.observe(lambda _c: self._safely(self._list), names="value")
        self.person.observe(lambda _c: self._safely(self._show_person), names="value")
        self.audit_user.observe(lambda _c: self._safely(self._audit), names="value")
        self.withdraw_button.on_click(lambda _b: self._safely(self._withdraw))
        self.verify_button.on_click(lambda _b: self._safely(self._verify))
        super().__init__(
            [
                widgets.HTML("<h3>Consents</h3>"),
                self.status,
                self.consents,
                widgets.HTML("<h3>One person's consent and its history</h3>"),
                self.person,
                self.history,
                widgets.HBox([self.withdraw_note, self.withdraw_button]),
                self.errors,
                widgets.HTML("<h3>Project grants</h3>"),
                self.grants,
                widgets.HTML("<h3>Audit log</h3>"),
                widgets.HBox([self.verify_button, self.audit_user]),
                self.verify_result,
                self.audit,
            ],
            **kwargs,
        )
        self._safely(self._refresh)

    def _refresh(self) -> None:
        self._list()
        self.grants.value = table_html(grants_table(self.session), caption="Grants")
        self._audit()

    def _list(self) -> None:
        table = consent_overview(self.session, status=self.status.value)
        self.consents.value = table_html(table, caption=f"{len(table)} current consents", limit=40)

    def _show_person(self) -> None:
        self.history.person.value = self.person.value
        if not self.history.refresh():
            raise InputError(self.history.errors.outputs[0]["text"].strip())

    def _audit(self) -> None:
        user = self.audit_user.value.strip()
        log = self.session.audit_log(user=user) if user else self.session.audit_log()
        self.audit.value = audit_html(log)

    def _withdraw(self) -> None:
        note = self.withdraw_note.value.strip()
        if not note:
            raise InputError("write a note (what the person asked for) before recording")
        self.session.withdraw_consent(self.person.value, signed_on=self.session.today, note=note)
        self.withdraw_note.value = ""
        self._show_person()
        self._refresh()

    def _verify(self) -> None:
        self.verify_result.value = verify_html(self.session.audit_verify())
        self._audit()
