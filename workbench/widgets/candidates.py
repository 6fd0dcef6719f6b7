"""Candidate browser: the ranked genes of a case, filterable, with a detail view and the report.

The widget only wires: :func:`filter_ranking` picks rows, :func:`ranking_html` and
:func:`candidate_detail_html` write HTML, and :func:`workbench.interpret.report.report_html`
writes the report — all plain functions tests call directly. Standard ipywidgets only, so it
works with the keyboard and screen readers; classes are always written in words.

>>> CandidateBrowser(case, secondary)   # doctest: +SKIP
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import pandas as pd

from ..errors import InputError, WorkbenchError
from ..interpret.acmg import CLASSES
from ..interpret.case import CaseInterpretation
from ..interpret.report import report_html
from ..interpret.secondary import SecondaryFindings

__all__ = [
    "ANY",
    "CandidateBrowser",
    "candidate_detail_html",
    "filter_ranking",
    "ranking_html",
]

#: The "no restriction" choice of the drop-downs.
ANY = "any"


def _e(value) -> str:
    # Missing values (None, NaN from a table) show as nothing, never as "nan".
    missing = value is None or (isinstance(value, float) and value != value)
    return html.escape("" if missing else str(value), quote=True)


def filter_ranking(
    ranking: pd.DataFrame, *, mode: str = ANY, gene: str = "", min_class: str = ANY
) -> pd.DataFrame:
    """Rows of a ranking that match the filters.

    Parameters
    ----------
    ranking
        :attr:`CaseInterpretation.ranking`.
    mode
        An ``inheritance`` value (``"de_novo"``…) or :data:`ANY`.
    gene
        Case-insensitive prefix of the gene symbol (``""``: every gene).
    min_class
        The least pathogenic ACMG class kept (``"Likely pathogenic"`` keeps P and LP), or
        :data:`ANY`.
    """
    if not isinstance(ranking, pd.DataFrame):
        raise InputError(f"expected the ranking DataFrame, got {type(ranking).__name__}")
    if min_class != ANY and min_class not in CLASSES:
        raise InputError(f"expected min_class in {CLASSES} or {ANY!r}, got {min_class!r}")
    if not isinstance(gene, str):
        raise InputError(f"expected gene as text, got {gene!r}")
    out = ranking
    if mode != ANY:
        out = out[out.inheritance == mode]
    if gene.strip():
        out = out[out.gene.str.upper().str.startswith(gene.strip().upper())]
    if min_class != ANY:
        allowed = CLASSES[: CLASSES.index(min_class) + 1]
        out = out[out.classification.isin(allowed)]
    return out.reset_index(drop=True)


def ranking_html(table: pd.DataFrame) -> str:
    """The filtered ranking as an HTML table (or a sentence when empty)."""
    if table.empty:
        return "<p>No candidate matches these filters.</p>"
    head = (
        "<tr><th scope='col'>Rank</th><th scope='col'>Gene</th><th scope='col'>Disease</th>"
        "<th scope='col'>Inheritance</th><th scope='col'>Variant(s)</th>"
        "<th scope='col'>ACMG class</th><th scope='col'>Points</th>"
        "<th scope='col'>Phenotype</th><th scope='col'>Score</th></tr>"
    )
    rows = "".join(
        f"<tr><td>{int(r.rank)}</td><td>{_e(r.gene)}</td><td>{_e(r.disease_name)}</td>"
        f"<td>{_e(r.inheritance)} ({_e(r.inheritance_fit)})</td><td>{_e(r.hgvs)}</td>"
        f"<td>{_e(r.classification)}</td><td>{int(r.points)}</td>"
        f"<td>{r.phenotype_score:.3f}</td><td>{r.score:.3f}</td></tr>"
        for r in table.itertuples(index=False)
    )
    return f"<table><caption>Candidate genes</caption>{head}{rows}</table>"


def candidate_detail_html(case: CaseInterpretation, gene: str) -> str:
    """One candidate gene in detail: annotation, the family's genotypes, criteria, explanation."""
    if not isinstance(case, CaseInterpretation):
        raise InputError(f"expected a CaseInterpretation, got {type(case).__name__}")
    rows = case.ranking[case.ranking.gene == gene]
    if rows.empty:
        raise InputError(f"{gene!r} is not a candidate of {case.proband}")
    r = rows.iloc[0]
    parts = [
        f"<h4>{_e(r.gene)} — {_e(r.disease_name)} ({_e(r.disease_id)}, {_e(r['mode'])})</h4>",
        f"<p>{_e(r.explanation)}</p>",
    ]
    if r.matched_terms:
        parts.append(f"<p><b>Matched phenotype:</b> {_e(r.matched_terms)}</p>")
    cand = case.candidates.set_index("variant_id")
    for vid in str(r.variants).split(","):
        v = cand.loc[vid]
        c = case.classifications[vid]
        gts = case.genotypes.get(vid, {})
        who = "".join(
            f"<tr><td>{_e(p)}</td><td>{_e(_role(case, p))}</td><td>{_e(g)}</td></tr>"
            for p, g in sorted(gts.items())
        )
        criteria = (
            "".join(
                f"<tr><td>{_e(e.label)}</td><td>{e.points}</td><td>{_e(e.note)}</td></tr>"
                for e in c.evidence
            )
            or "<tr><td colspan='3'>No criterion applies.</td></tr>"
        )
        parts.append(
            f"<h5>{_e(vid)}</h5>"
            f"<p>{_e(v.consequence)} · {_e(v.hgvs_c)} {_e(v.hgvs_p or '')} · "
            f"transcript {_e(v.transcript)} · impact {_e(v.impact)} · population AF "
            f"{float(v.af):.3g} · in-silico (synthetic) {_e(v.insilico)}"
            f"{' · knowledge base: ' + _e(v.assertion) if v.get('assertion') else ''}</p>"
            f"<table><caption>Genotypes in the family</caption><tr><th scope='col'>Person</th>"
            f"<th scope='col'>Role</th><th scope='col'>Genotype</th></tr>{who}</table>"
            f"<table><caption>ACMG/AMP criteria</caption><tr><th scope='col'>Criterion</th>"
            f"<th scope='col'>Points</th><th scope='col'>Why</th></tr>{criteria}</table>"
            f"<p><b>Table 5:</b> {_e(c.classification)} — {_e(c.rule)}<br>"
            f"<b>Points:</b> {c.points} → {_e(c.points_class)}"
            f"{'<br><b>The views differ:</b> ' + _e(c.disagreement) if c.disagreement else ''}"
            "</p>"
        )
    return "".join(parts)


def _role(case: CaseInterpretation, person: str) -> str:
    fam = case.family[case.family.person_id.astype(str) == person]
    if fam.empty:
        return ""
    row = fam.iloc[0]
    status = "affected" if bool(row.affected) else "unaffected"
    return f"{row.role}, {status}" if "role" in fam.columns else status


class CandidateBrowser(widgets.VBox):
    """Filter the ranked candidates, inspect one, and make the report draft.

    Parameters
    ----------
    case
        From :func:`~workbench.interpret.case.interpret_case`.
    secondary
        From :func:`~workbench.interpret.secondary.secondary_findings` (``None``: the
        report says secondary findings were not requested).

    Attributes
    ----------
    mode, gene, min_class : ipywidgets controls
        The filters (inheritance, gene prefix, least pathogenic class).
    table : ipywidgets.HTML
        The filtered ranking.
    selected : ipywidgets.Dropdown
        The candidate shown in ``detail``.
    detail : ipywidgets.HTML
    report_button : ipywidgets.Button
        Writes the report draft into ``report``.
    report : ipywidgets.HTML
    errors : ipywidgets.Output
        Errors of callbacks, in words.
    """

    def __init__(self, case: CaseInterpretation, secondary: SecondaryFindings | None = None):
        if not isinstance(case, CaseInterpretation):
            raise InputError(f"expected a CaseInterpretation, got {type(case).__name__}")
        self.case = case
        self.secondary = secondary
        modes = sorted(set(case.ranking.inheritance.dropna()))
        self.mode = widgets.Dropdown(options=[ANY, *modes], value=ANY, description="Inheritance")
        self.gene = widgets.Text(value="", description="Gene", placeholder="symbol prefix")
        self.min_class = widgets.Dropdown(
            options=[ANY, *CLASSES], value=ANY, description="At least"
        )
        self.table = widgets.HTML()
        self.selected = widgets.Dropdown(options=[], description="Candidate")
        self.detail = widgets.HTML()
        self.report_button = widgets.Button(
            description="Report", tooltip="Write the clinical report draft (HTML)"
        )
        self.report = widgets.HTML()
        self.errors = widgets.Output()
        for w in (self.mode, self.gene, self.min_class):
            w.observe(self._filters_changed, names="value")
        self.selected.observe(self._selection_changed, names="value")
        self.report_button.on_click(self._make_report)
        super().__init__(
            [
                widgets.HBox([self.mode, self.gene, self.min_class]),
                self.table,
                self.selected,
                self.detail,
                self.report_button,
                self.errors,
                self.report,
            ]
        )
        self._filters_changed(None)

    @property
    def shown(self) -> pd.DataFrame:
        """The rows the filters keep."""
        return filter_ranking(
            self.case.ranking,
            mode=self.mode.value,
            gene=self.gene.value,
            min_class=self.min_class.value,
        )

    def _filters_changed(self, _change) -> None:
        rows = self.shown
        self.table.value = ranking_html(rows)
        genes = list(rows.gene)
        keep = self.selected.value if self.selected.value in genes else None
        self.selected.options = genes
        self.selected.value = keep if keep else (genes[0] if genes else None)
        self._selection_changed(None)

    def _selection_changed(self, _change) -> None:
        gene = self.selected.value
        if gene is None:
            self.detail.value = "<p>No candidate selected.</p>"
            return
        self.detail.value = candidate_detail_html(self.case, gene)

    def _make_report(self, _button) -> None:
        self.errors.clear_output()
        try:
            self.report.value = report_html(self.case, self.secondary)
        except WorkbenchError as e:
            with self.errors:
                print(f"could not write the report: {e}")
