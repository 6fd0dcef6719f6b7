"""The case review: a clinician's worklist, a case's filtering funnel, candidates and ACMG."""

from __future__ import annotations

import math

import ipywidgets as widgets
import pandas as pd

from ...errors import InputError
from ..access import _Shows
from ..acmg import AcmgPanel
from ..candidates import CandidateBrowser
from .common import _e


def families_in_care(cohort) -> pd.DataFrame:
    """Families whose proband a clinician currently cares for: ``family_id, clinician, proband``.

    One row per family, with the first clinician (by id) caring for its proband, from the
    clinicians' worklists: in process every clinician's, through the data-access service the
    signed-in clinician's own. The case itself is then read through the clinician's own
    session (:func:`open_case`).
    """
    from ...access.explain import worklist
    from ...interpret.case import care_team

    clinicians, today = care_team(cohort)
    rows: dict[str, tuple[str, str, str]] = {}
    for user in clinicians:
        for proband, family in worklist(cohort, user=user, today=today).items():
            rows.setdefault(family, (family, user, proband))
    return pd.DataFrame(
        [rows[f] for f in sorted(rows)], columns=["family_id", "clinician", "proband"]
    )


def open_case(cohort, *, family: str = "", clinician: str = ""):
    """``(session, case)``: the clinician's treatment session and the interpreted case.

    ``family=""`` takes the first family in the clinician's care (see
    :func:`workbench.interpret.case.choose_case`).
    """
    from ... import Treatment
    from ...interpret.case import choose_case, interpret_case

    clinician, proband = choose_case(cohort, clinician=clinician, family=family)
    session = cohort.session(user=clinician, purpose=Treatment(patient=proband))
    return session, interpret_case(session, proband)


def phenotype_html(case) -> str:
    """The case header: proband, family, indication and the HPO terms observed and excluded."""
    observed = (
        "".join(f"<li>{_e(t)} {_e(case.labels.get(t, ''))}</li>" for t in case.terms)
        or "<li>none recorded</li>"
    )
    excluded = (
        "".join(f"<li>{_e(t)} {_e(case.labels.get(t, ''))}</li>" for t in case.excluded_terms)
        or "<li>none recorded</li>"
    )
    notes = "".join(f"<li>{_e(m)}</li>" for m in case.messages)
    return (
        f"<h3 class='wb-case'>Proband {_e(case.proband)} (family {_e(case.family_id)}, "
        f"{_e(case.sex)})</h3><p>{_e(case.indication) or 'No indication recorded.'}</p>"
        f"<p><b>Observed phenotype</b></p><ul>{observed}</ul>"
        f"<p><b>Excluded</b></p><ul>{excluded}</ul>"
        + (f"<p><b>Notes</b></p><ul>{notes}</ul>" if notes else "")
    )


def funnel_html(case) -> str:
    """The case's filtering funnel: variants and genes left after each step, with bars.

    Bar lengths follow the logarithm of the count, so thousands of carried variants and a
    handful of candidates fit one table (:func:`workbench.interpret.funnel.funnel`).
    """
    steps = case.funnel
    top = max(1, int(steps[["variants", "genes"]].to_numpy().max()))

    def bar(n: int, colour: str) -> str:
        width = 0 if n <= 0 else max(2, round(100 * math.log10(n + 1) / math.log10(top + 1)))
        return (
            f"<div style='display:inline-block;height:0.7em;width:{width}px;"
            f"background:{colour}'></div> {n:,}"
        )

    rows = "".join(
        f"<tr><td>{_e(r.step)}</td><td>{bar(r.variants, '#9ecae1')}</td>"
        f"<td>{bar(r.genes, '#3182bd')}</td></tr>"
        for r in steps.itertuples(index=False)
    )
    return (
        "<h4>Filtering funnel</h4><table class='wb-funnel'><tr><th>Step</th><th>Variants</th>"
        f"<th>Genes</th></tr>{rows}</table>"
    )


def best_variant(case, gene: str) -> str | None:
    """The variant id of a candidate gene with the most ACMG points (``None``: no variant)."""
    rows = case.candidates[case.candidates.gene == gene]
    if rows.empty:
        return None
    return max(rows.variant_id, key=lambda v: case.classifications[v].points)


class CaseReview(widgets.VBox, _Shows):
    """Pick a family in care; see the phenotype, the ranked candidates, ACMG and the report.

    Each family is opened in the session of a clinician caring for its proband (decided
    and audited); the ACMG panel follows the candidate picked in the browser, pre-ticked with
    the computed criteria of its best variant.

    Attributes
    ----------
    family : ipywidgets.Dropdown
    header : ipywidgets.HTML
    funnel : ipywidgets.HTML
        Variants and genes left after each filter step (:func:`funnel_html`).
    browser : CandidateBrowser or None
    acmg : AcmgPanel
    errors : ipywidgets.Output
    case, session
        The case shown and the session it was read through.
    """

    def __init__(self, cohort, *, family: str = "", **kwargs):
        self.cohort = cohort
        self.worklist = families_in_care(cohort)
        if self.worklist.empty:
            raise InputError(
                "no family is in your care (through the service you see your own worklist)"
                if hasattr(cohort, "worklist")
                else "no clinician has a current care relationship in this cohort"
            )
        options = [
            (f"{r.family_id} — {r.proband} ({r.clinician})", r.family_id)
            for r in self.worklist.itertuples()
        ]
        first = family or self.worklist.family_id.iloc[0]
        self.family = widgets.Dropdown(options=options, value=first, description="Family")
        self.header = widgets.HTML()
        self.funnel = widgets.HTML()
        self.acmg = AcmgPanel()
        self.acmg_title = widgets.HTML()
        self.browser_box = widgets.VBox()
        self.browser: CandidateBrowser | None = None
        self.errors = widgets.Output()
        self.case = self.session = None
        self.family.observe(lambda _c: self._safely(self._load), names="value")
        super().__init__(
            [
                self.family,
                self.errors,
                self.header,
                self.funnel,
                self.browser_box,
                self.acmg_title,
                self.acmg,
            ],
            **kwargs,
        )
        self._safely(self._load)

    def _load(self) -> None:
        if self.session is not None:
            self.session.close()
        self.session, self.case = open_case(self.cohort, family=self.family.value)
        self.header.value = phenotype_html(self.case)
        self.funnel.value = funnel_html(self.case)
        self.browser = CandidateBrowser(self.case)
        self.browser.selected.observe(lambda _c: self._safely(self._pick), names="value")
        self.browser_box.children = [self.browser]
        self._pick()

    def _pick(self) -> None:
        gene = self.browser.selected.value if self.browser else None
        variant = None if gene is None else best_variant(self.case, gene)
        if variant is None:
            self.acmg_title.value = "<h4>ACMG/AMP criteria</h4><p>No candidate selected.</p>"
            self.acmg.set_evidence([])
            return
        self.acmg_title.value = (
            f"<h4>ACMG/AMP criteria of {_e(gene)} {_e(variant)}</h4>"
            "<p>Computed criteria are ticked; tick or untick to see the class change.</p>"
        )
        self.acmg.set_evidence(self.case.classifications[variant].evidence)
