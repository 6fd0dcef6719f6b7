"""The four Voila dashboards, as plain functions plus the widgets that wire them.

Each dashboard notebook in ``notebooks/dashboards/`` is a few lines: resolve the cohort,
build one of these widgets, display it, record a few values for the regression harness.
Everything worth testing lives here as plain functions:

* **cohort explorer** (:class:`CohortExplorer`, a trainer's or researcher's session):
  :func:`explorer_table` (QC metrics and principal components per person, read through the
  session), :func:`filter_samples`, :func:`samples_html`, :func:`pca_png`, :func:`qc_png`;
* **case review** (:class:`CaseReview`, the treating clinician's session):
  :func:`families_in_care`, :func:`open_case`, :func:`phenotype_html`, :func:`best_variant`;
* **consent and audit console** (:class:`StewardConsole`, a data steward's session):
  :func:`consent_overview`, :func:`grants_table`, :func:`audit_html`, :func:`verify_html`;
* **pipeline QC report** (:class:`PipelineReport`): :func:`panel_genes_for`,
  :func:`run_family_pipeline` (cached), :func:`load_read_qc`, :func:`read_qc_png`,
  :func:`metrics_html`.

Plots are PNG images (``ipywidgets.Image``), drawn with matplotlib's Agg backend, so the
dashboards need no JavaScript beyond the standard widgets and load nothing from the network.
Widget callbacks never show a traceback: errors appear as one line in the widget's
``errors`` output (:func:`workbench.widgets.access.error_line`).
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import ipywidgets as widgets
import numpy as np
import pandas as pd

from ..errors import InputError
from ..regress._record import in_voila
from .access import ConsentPanel, _Shows
from .acmg import AcmgPanel
from .candidates import CandidateBrowser

__all__ = [
    "ANY",
    "COHORT_ENV",
    "COLOUR_BY",
    "CaseReview",
    "CohortExplorer",
    "ExplorerData",
    "PcaPicture",
    "PipelineReport",
    "StewardConsole",
    "audit_html",
    "best_variant",
    "consent_overview",
    "explorer_table",
    "families_in_care",
    "filter_samples",
    "grants_table",
    "in_voila",
    "load_read_qc",
    "metrics_html",
    "open_case",
    "panel_genes_for",
    "pca_png",
    "phenotype_html",
    "qc_png",
    "read_qc_png",
    "record",
    "resolve_cohort",
    "run_family_pipeline",
    "samples_html",
    "table_html",
    "verify_html",
]

#: The "no restriction" choice of the filter drop-downs.
ANY = "any"
#: Environment variable naming the cohort a served dashboard opens (``workbench serve
#: --cohort`` sets it); it wins over the notebook's ``cohort`` parameter.
COHORT_ENV = "WORKBENCH_COHORT"
#: Columns of a research or teaching view the PCA can be coloured by.
COLOUR_BY = ("population", "sex", "affected", "birth_decade", "outlier")
_FILTER_LIMIT = 200


def _e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def resolve_cohort(cohort: str | os.PathLike) -> Path:
    """The cohort folder a dashboard opens: ``$WORKBENCH_COHORT`` when set, else ``cohort``.

    Voila cannot inject papermill parameters, so ``workbench serve --cohort DIR`` and the
    published start scripts pass the cohort through the environment.

    Raises
    ------
    InputError
        The folder has no ``manifest.json`` (not a cohort written by ``workbench generate``).
    """
    chosen = os.environ.get(COHORT_ENV) or cohort
    if not isinstance(chosen, str | os.PathLike) or not str(chosen):
        raise InputError(f"expected a cohort folder, got {chosen!r}")
    path = Path(chosen).expanduser().resolve()
    if not (path / "manifest.json").is_file():
        raise InputError(
            f"{path} is not a cohort folder (no manifest.json); run `workbench generate "
            f"--preset teaching` or pass --cohort to `workbench serve`"
        )
    return path


def record(name: str, value):
    """:func:`workbench.record` (silent under Voila; the regression harness still sees it)."""
    from ..regress import record as _record

    return _record(name, value)


def _figure(width: float, height: float):
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    return Figure(figsize=(width, height), layout="constrained")


def _fig_png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


def table_html(table: pd.DataFrame, *, caption: str = "", limit: int = _FILTER_LIMIT) -> str:
    """A DataFrame as an accessible HTML table (caption, column headers), first ``limit`` rows.

    Says how many rows were left out, or says the table is empty in words.
    """
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"expected a DataFrame, got {type(table).__name__}")
    if table.empty:
        return f"<p>{_e(caption) + ': ' if caption else ''}nothing to show.</p>"
    shown = table.head(limit)
    head = "".join(f"<th scope='col'>{_e(c)}</th>" for c in shown.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{_e(v)}</td>" for v in row) + "</tr>"
        for row in shown.itertuples(index=False)
    )
    more = "" if len(table) <= limit else f"<p>{len(table) - limit} more rows not shown.</p>"
    cap = f"<caption>{_e(caption)}</caption>" if caption else ""
    return (
        f"<table class='wb-table'>{cap}<thead><tr>{head}</tr></thead>"
        f"<tbody>{rows}</tbody></table>{more}"
    )


# -- cohort explorer -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ExplorerData:
    """What the cohort explorer shows: one row per person in the session's view.

    ``table`` is indexed by the session's labels (project pseudonyms) with the view's columns
    (sex, population, affected, birth decade), the QC metrics of
    :func:`workbench.analysis.sample_qc` and ``PC1…PC4``; ``explained`` is the variance
    fraction of each component; ``n_variants`` how many sites were read.
    """

    table: pd.DataFrame
    explained: np.ndarray
    n_variants: int


#: Bump when explorer_table's computation changes, so cached tables are recomputed.
_EXPLORER_VERSION = 3


def explorer_table(
    session, *, n_components: int = 4, seed: int = 0, cache: bool = True
) -> ExplorerData:
    """QC metrics and principal components of everyone a session may see at record level.

    Genotypes are read through the session's :meth:`genotype_view` (a decided, audited call),
    so opted-out people and withdrawn consents are never in the table.

    Parameters
    ----------
    session
        A trainer's ``Teaching()`` or a researcher's ``Research(project=…)`` session.
    n_components
        Principal components computed (at least 2).
    seed
        Seed of the randomised PCA.
    cache
        Reuse the table computed for exactly this view before. It is kept in the cohort's
        ``service/cache/`` (the access service's side), under a key made of the cohort's
        genotype checksums, the labels of everyone in view, the parameters and the code
        version: any change in who may be seen (a withdrawal, another project's pseudonyms)
        is another key, so a cached table never shows someone the view does not hold. The
        view itself is opened and audited either way.
    """
    from ..analysis import pca, sample_qc
    from ..cohort import _DASK_THRESHOLD
    from ..io import write_json

    if isinstance(n_components, bool) or not isinstance(n_components, int) or n_components < 2:
        raise InputError(f"n_components must be an integer ≥ 2, got {n_components!r}")
    view = session.genotype_view()
    path = _explorer_cache(session.cohort, view, n_components=n_components, seed=seed)
    if cache and path.is_file():
        return _read_explorer(path)
    samples = view.samples().set_index("person_id")
    samples.index.name = "sample_id"
    variants = view.variants()
    gt = view.genotypes()
    if gt.shape[0] * gt.shape[1] <= _DASK_THRESHOLD:  # teaching scale: read once, in memory
        import allel

        gt = allel.GenotypeArray(gt.values.compute())
    qc = sample_qc(
        gt,
        variants=variants,
        sample_ids=view.sample_ids,
        sex=samples.sex.tolist(),
        populations=samples.population.tolist(),
    )
    autosomal = np.flatnonzero(~variants.contig.isin(["chrX", "X"]).to_numpy())
    coords, explained = pca(
        gt[autosomal], sample_ids=view.sample_ids, n_components=n_components, seed=seed
    )
    metrics = qc[["call_rate", "heterozygosity", "inbreeding_f", "ti_tv", "sex_check", "outlier"]]
    columns = ["sex", "population", "affected", "birth_decade"]
    table = samples[columns].join(metrics).join(coords)
    table.index.name = "sample_id"
    data = ExplorerData(table=table, explained=np.asarray(explained), n_variants=len(variants))
    if cache:
        write_json(
            path,
            {
                "explained": data.explained.tolist(),
                "n_variants": data.n_variants,
                "table": json.loads(table.reset_index().to_json(orient="split", index=False)),
            },
        )
    return data


def _explorer_cache(cohort, view, *, n_components: int, seed: int) -> Path:
    from .. import __version__

    files = cohort.manifest["files"]
    key = json.dumps(
        {
            "genotypes": sorted((k, v) for k, v in files.items() if k.startswith("genotypes.vcz")),
            "people": sorted(view.sample_ids),
            "n_components": n_components,
            "seed": seed,
            "code": [__version__, _EXPLORER_VERSION],
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return Path(cohort.path) / "service" / "cache" / f"explorer-{digest}.json"


def _read_explorer(path: Path) -> ExplorerData:
    raw = json.loads(path.read_text(encoding="utf-8"))
    part = raw["table"]
    table = pd.DataFrame(part["data"], columns=part["columns"]).set_index("sample_id")
    table["affected"] = table["affected"].astype(bool)
    table["outlier"] = table["outlier"].astype(bool)
    return ExplorerData(
        table=table, explained=np.asarray(raw["explained"]), n_variants=int(raw["n_variants"])
    )


def filter_samples(
    table: pd.DataFrame,
    *,
    population: str = ANY,
    sex: str = ANY,
    affected: str = ANY,
    outliers_only: bool = False,
    search: str = "",
) -> pd.DataFrame:
    """Rows of :func:`explorer_table`'s table matching every filter.

    ``affected`` is ``"yes"``, ``"no"`` or :data:`ANY`; ``search`` a case-insensitive
    substring of the sample label.
    """
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"expected the explorer table, got {type(table).__name__}")
    if affected not in (ANY, "yes", "no"):
        raise InputError(f"affected must be 'yes', 'no' or {ANY!r}, got {affected!r}")
    keep = np.ones(len(table), dtype=bool)
    if population != ANY:
        keep &= (table.population == population).to_numpy()
    if sex != ANY:
        keep &= (table.sex == sex).to_numpy()
    if affected != ANY:
        keep &= (table.affected.astype(bool) == (affected == "yes")).to_numpy()
    if outliers_only:
        keep &= table.outlier.astype(bool).to_numpy()
    if search.strip():
        keep &= table.index.str.lower().str.contains(search.strip().lower(), regex=False)
    return table[keep]


def samples_html(table: pd.DataFrame, *, limit: int = 50) -> str:
    """The filtered people as an HTML table: label, view columns and rounded QC metrics."""
    columns = ["sex", "population", "affected", "birth_decade", "call_rate", "heterozygosity",
               "inbreeding_f", "ti_tv", "sex_check", "outlier"]  # fmt: skip
    shown = table[columns].round(3).reset_index()
    return table_html(shown, caption=f"{len(table)} people match", limit=limit)


class PcaPicture:
    """The explorer's PCA, drawn once and re-rendered fast for each filter.

    The coloured scatter is drawn once (layout included) and kept as a pixel background; a
    filter only restores that background, draws the ring of highlighted people and the title
    over it, and encodes the PNG. That keeps a filter change well under 100 ms at teaching
    scale, where redrawing the whole figure took ~110 ms.
    """

    def __init__(self, table: pd.DataFrame, explained, *, colour_by: str = "population",
                 x: str = "PC1", y: str = "PC2"):  # fmt: skip
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        from ..analysis import plot_pca

        if colour_by not in COLOUR_BY:
            raise InputError(f"colour_by must be one of {COLOUR_BY}, got {colour_by!r}")
        self._table, self._x, self._y = table, x, y
        fig = _figure(6.0, 4.2)
        fig.set_dpi(80)
        ax = fig.add_subplot()
        labels = table[colour_by].astype(str).rename(colour_by.replace("_", " "))
        plot_pca(table[[x, y]], labels, x=x, y=y, explained=explained, ax=ax)
        ax.set_title(" ")  # room for the title, which is drawn per filter
        self._ring = ax.scatter(
            [], [], s=40, facecolors="none", edgecolors="black", linewidths=0.8, animated=True
        )
        self._title = ax.title
        self._title.set_animated(True)
        self._canvas = FigureCanvasAgg(fig)
        self._canvas.draw()  # lays out once; later draws reuse the layout
        fig.set_layout_engine("none")
        self._background = self._canvas.copy_from_bbox(fig.bbox)
        self._fig, self._ax = fig, ax

    def png(self, highlight=None) -> bytes:
        """PNG with ``highlight`` (labels) ringed, or none when it is empty or everyone."""
        from PIL import Image

        table = self._table
        if highlight is not None and 0 < len(highlight) < len(table):
            sel = table.loc[list(highlight)]
            self._ring.set_offsets(sel[[self._x, self._y]].to_numpy())
            self._title.set_text(f"{len(sel)} of {len(table)} people ringed (the table's filter)")
        else:
            self._ring.set_offsets(np.empty((0, 2)))
            self._title.set_text(f"{len(table)} people")
        self._canvas.restore_region(self._background)
        self._ax.draw_artist(self._ring)
        self._ax.draw_artist(self._title)
        rgba = np.asarray(self._canvas.buffer_rgba())
        buffer = io.BytesIO()
        Image.fromarray(rgba).convert("RGB").save(buffer, format="png", compress_level=1)
        return buffer.getvalue()


def pca_png(
    table: pd.DataFrame,
    explained,
    *,
    colour_by: str = "population",
    highlight=None,
    x: str = "PC1",
    y: str = "PC2",
) -> bytes:
    """PNG of the PCA, coloured by a view column; ``highlight`` (labels) drawn ringed."""
    return PcaPicture(table, explained, colour_by=colour_by, x=x, y=y).png(highlight)


def qc_png(table: pd.DataFrame) -> bytes:
    """PNG of heterozygosity against call rate, outliers highlighted."""
    from ..analysis.plots_qc import plot_het_vs_call_rate

    fig = _figure(5.0, 4.2)
    ax = fig.add_subplot()
    plot_het_vs_call_rate(table, ax=ax)
    ax.set_title("Sample QC")
    return _fig_png(fig)


class CohortExplorer(widgets.VBox, _Shows):
    """PCA coloured by a view column, sample QC, and a filterable table of the people in view.

    Parameters
    ----------
    data
        From :func:`explorer_table`.

    Attributes
    ----------
    colour_by, population, sex, affected, outliers_only, search : ipywidgets controls
    pca_image, qc_image : ipywidgets.Image
    count : ipywidgets.HTML
        How many people the filters keep.
    table : ipywidgets.HTML
    errors : ipywidgets.Output
    """

    def __init__(self, data: ExplorerData, **kwargs):
        if not isinstance(data, ExplorerData):
            raise InputError(f"expected ExplorerData from explorer_table(), got {data!r}")
        self.data = data
        self._pictures: dict[str, PcaPicture] = {}  # one drawn PCA per colouring
        t = data.table
        self.colour_by = widgets.Dropdown(
            options=list(COLOUR_BY), value="population", description="Colour by"
        )
        self.population = widgets.Dropdown(
            options=[ANY, *sorted(t.population.unique())], value=ANY, description="Population"
        )
        self.sex = widgets.Dropdown(
            options=[ANY, *sorted(t.sex.unique())], value=ANY, description="Sex"
        )
        self.affected = widgets.Dropdown(
            options=[ANY, "yes", "no"], value=ANY, description="Affected"
        )
        self.outliers_only = widgets.Checkbox(value=False, description="QC outliers only")
        self.search = widgets.Text(value="", description="Label", placeholder="part of a label")
        self.count = widgets.HTML()
        self.pca_image = widgets.Image(format="png", layout=widgets.Layout(width="480px"))
        self.qc_image = widgets.Image(
            value=qc_png(t), format="png", layout=widgets.Layout(width="400px")
        )
        self.table = widgets.HTML()
        self.errors = widgets.Output()
        self.colour_by.observe(lambda _c: self._safely(self._draw), names="value")
        for w in (self.population, self.sex, self.affected, self.outliers_only, self.search):
            w.observe(lambda _c: self._safely(self._filter), names="value")
        super().__init__(
            [
                widgets.HTML(
                    f"<p>{len(t)} people in this session's view; {data.n_variants} sites.</p>"
                ),
                self.colour_by,
                widgets.HBox([self.pca_image, self.qc_image]),
                widgets.HBox([self.population, self.sex, self.affected]),
                widgets.HBox([self.outliers_only, self.search]),
                self.count,
                self.errors,
                self.table,
            ],
            **kwargs,
        )
        self._filter()

    @property
    def shown(self) -> pd.DataFrame:
        """The rows the filters keep."""
        return filter_samples(
            self.data.table,
            population=self.population.value,
            sex=self.sex.value,
            affected=self.affected.value,
            outliers_only=self.outliers_only.value,
            search=self.search.value,
        )

    def _filter(self) -> None:
        rows = self.shown
        self._draw(rows)  # first, so the count (which tests and readers watch) changes last
        self.table.value = samples_html(rows)
        self.count.value = f"<p class='wb-count'><b>{len(rows)}</b> people match the filters</p>"

    def _draw(self, rows: pd.DataFrame | None = None) -> None:
        rows = self.shown if rows is None else rows
        colour_by = self.colour_by.value
        if colour_by not in self._pictures:
            self._pictures[colour_by] = PcaPicture(
                self.data.table, self.data.explained, colour_by=colour_by
            )
        self.pca_image.value = self._pictures[colour_by].png(rows.index)


# -- case review -------------------------------------------------------------------------------
def families_in_care(cohort) -> pd.DataFrame:
    """Families whose proband a clinician currently cares for: ``family_id, clinician, proband``.

    Read from the registry like a worklist (read-only); the case itself is then read
    through the clinician's own session (:func:`open_case`).
    """
    from ..interpret.rank import choose_case

    rows = []
    families = cohort.samples().family_id.dropna().unique()
    for family in sorted(families):
        try:
            clinician, proband = choose_case(cohort, family=str(family))
        except InputError:
            continue  # nobody cares for this family now
        rows.append((str(family), clinician, proband))
    return pd.DataFrame(rows, columns=["family_id", "clinician", "proband"])


def open_case(cohort, *, family: str = "", clinician: str = ""):
    """``(session, case)``: the clinician's treatment session and the interpreted case.

    ``family=""`` takes the first family in the clinician's care (see
    :func:`workbench.interpret.rank.choose_case`).
    """
    from .. import Treatment
    from ..interpret.rank import choose_case, interpret_case

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
            raise InputError("no clinician has a current care relationship in this cohort")
        options = [
            (f"{r.family_id} — {r.proband} ({r.clinician})", r.family_id)
            for r in self.worklist.itertuples()
        ]
        first = family or self.worklist.family_id.iloc[0]
        self.family = widgets.Dropdown(options=options, value=first, description="Family")
        self.header = widgets.HTML()
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


# -- consent and audit console ------------------------------------------------------------------
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


# -- pipeline QC report ------------------------------------------------------------------------
def panel_genes_for(cohort, *, panel: str = "epilepsy", n_genes: int = 2) -> list[str]:
    """The first ``n_genes`` genes (alphabetical) of a diagnostic panel of the knowledge base."""
    if isinstance(n_genes, bool) or not isinstance(n_genes, int) or n_genes < 1:
        raise InputError(f"n_genes must be a positive integer, got {n_genes!r}")
    table = cohort.knowledge.gene_disease
    in_panel = table[table.panels.str.split(",").map(lambda p: panel in p)]
    if in_panel.empty:
        known = sorted({p for ps in table.panels.str.split(",") for p in ps})
        raise InputError(f"no gene is on panel {panel!r}; panels: {', '.join(known)}")
    return sorted(set(in_panel.gene))[:n_genes]


def _cache_dir(cohort, family: str) -> Path:
    digest = hashlib.sha256(str(Path(cohort.path).resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / "workbench-dashboards" / digest / family


def run_family_pipeline(
    cohort, *, family: str, genes, out: str | os.PathLike = "", depth: float = 20.0, seed: int = 1
):
    """Run (or reuse, see :func:`workbench.pipeline.steps.run_pipeline`) a family's pipeline.

    ``out=""`` caches under the system temp folder, one folder per cohort path and family,
    so a dashboard reopened on the same cohort shows its report at once.
    """
    from ..pipeline.steps import run_pipeline

    folder = Path(out) if str(out) else _cache_dir(cohort, family)
    return run_pipeline(
        cohort,
        family=family,
        out_dir=folder,
        genes=list(genes),
        depth=depth,
        seed=seed,
        progress=False,
    )


def load_read_qc(result, person: str):
    """The raw-read QC of one family member, from the ``qc`` step's JSON report."""
    import json

    from ..pipeline.qc import ReadQC

    path = result.steps["qc"].folder / f"{person}.json"
    if not path.is_file():
        raise InputError(f"no read QC for {person!r}; members: {', '.join(result.members)}")
    raw = json.loads(path.read_text(encoding="utf-8"))
    tables = ("per_position_quality", "gc_content", "length_distribution", "n_content",
              "duplication", "adapter_content")  # fmt: skip
    return ReadQC(
        files=tuple(Path(f) for f in raw["files"]),
        n_reads=int(raw["n_reads"]),
        n_bases=int(raw["n_bases"]),
        mean_quality=float(raw["mean_quality"]),
        duplicate_percent=float(raw["duplicate_percent"]),
        adapter_percent=float(raw["adapter_percent"]),
        **{name: pd.DataFrame(raw[name]) for name in tables},
        flags=dict(raw["flags"]),
        details=dict(raw["details"]),
    )


def read_qc_png(qc) -> bytes:
    """PNG of the four FastQC-like panels (quality, GC, adapters, duplication)."""
    from ..pipeline.qc import (
        plot_adapter_content,
        plot_duplication,
        plot_gc_content,
        plot_per_position_quality,
    )

    fig = _figure(10.0, 5.5)
    axes = fig.subplots(2, 2)
    plot_per_position_quality(qc, ax=axes[0, 0]).set_title("Quality along the read")
    plot_gc_content(qc, ax=axes[0, 1]).set_title("GC content per read")
    plot_adapter_content(qc, ax=axes[1, 0]).set_title("Adapter content")
    plot_duplication(qc, ax=axes[1, 1]).set_title("Sequence duplication")
    return _fig_png(fig)


def metrics_html(metrics: dict) -> str:
    """Precision, recall and F1 against the planted truth, per variant type."""
    table = pd.DataFrame(metrics).T
    columns = ["tp", "fp", "fn", "precision", "recall", "f1", "genotype_concordance"]
    table = table[[c for c in columns if c in table.columns]].reset_index(names="type")
    return table_html(table, caption="Calls compared with the planted truth")


class PipelineReport(widgets.VBox, _Shows):
    """A family's pipeline run: steps (ran or reused), read QC per member, coverage, accuracy.

    Attributes
    ----------
    result : PipelineResult
    member : ipywidgets.Dropdown
        Whose read QC is shown.
    flags, qc_image, steps, coverage, metrics, errors
    """

    def __init__(self, result, **kwargs):
        self.result = result
        self.member = widgets.Dropdown(
            options=list(result.members), value=result.members[0], description="Member"
        )
        self.flags = widgets.HTML()
        self.qc_image = widgets.Image(format="png", layout=widgets.Layout(width="760px"))
        steps = pd.DataFrame(
            [
                (name, "reused" if s.cached else "ran", round(s.seconds, 2))
                for name, s in result.steps.items()
            ],
            columns=["step", "this time", "seconds"],
        )
        coverage = result.coverage().query("level == 'gene'")
        per_gene = (
            coverage.pivot(index="gene", columns="sample", values="mean_depth")
            .round(1)
            .reset_index()
        )
        self.steps = widgets.HTML(table_html(steps, caption=f"Steps of family {result.family}"))
        self.coverage = widgets.HTML(table_html(per_gene, caption="Mean depth per gene"))
        self.metrics = widgets.HTML(metrics_html(result.metrics()))
        self.errors = widgets.Output()
        self.member.observe(lambda _c: self._safely(self._show), names="value")
        super().__init__(
            [
                self.steps,
                widgets.HTML("<h3>Raw-read QC</h3>"),
                self.member,
                self.errors,
                self.flags,
                self.qc_image,
                widgets.HTML("<h3>Coverage</h3>"),
                self.coverage,
                widgets.HTML("<h3>Accuracy</h3>"),
                self.metrics,
            ],
            **kwargs,
        )
        self._safely(self._show)

    def _show(self) -> None:
        qc = load_read_qc(self.result, self.member.value)
        flags = pd.DataFrame(
            [(m, f, qc.details.get(m, "")) for m, f in qc.flags.items()],
            columns=["module", "flag", "measured"],
        )
        self.flags.value = table_html(
            flags,
            caption=f"{self.member.value}: {qc.n_reads:,} read pairs, mean quality "
            f"{qc.mean_quality:.1f}",
        )
        self.qc_image.value = read_qc_png(qc)
