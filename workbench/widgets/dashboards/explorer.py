"""The cohort explorer: QC metrics and principal components of a session's view."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import ipywidgets as widgets
import numpy as np
import pandas as pd

from ...errors import InputError
from ..access import _Shows
from .common import ANY, COLOUR_BY, _fig_png, _figure, table_html


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
        view itself is opened and audited either way. Through the data-access service there
        is no such folder on the client, and the table is computed afresh.
    """
    from ...analysis import pca, sample_qc
    from ...cohort import _DASK_THRESHOLD
    from ...io import write_json

    if isinstance(n_components, bool) or not isinstance(n_components, int) or n_components < 2:
        raise InputError(f"n_components must be an integer ≥ 2, got {n_components!r}")
    view = session.genotype_view()
    path = _explorer_cache(session.cohort, view, n_components=n_components, seed=seed)
    cache = cache and path is not None
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


def _explorer_cache(cohort, view, *, n_components: int, seed: int) -> Path | None:
    from ... import __version__

    if not hasattr(cohort, "path"):  # a cohort behind the service: its cache is the service's
        return None
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

        from ...analysis import plot_pca

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
    from ...analysis.plots_qc import plot_het_vs_call_rate

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
