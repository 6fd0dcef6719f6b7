"""The pipeline QC report: a family's reads through the pipeline, and their QC."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import ipywidgets as widgets
import pandas as pd

from ...errors import InputError
from ..access import _Shows
from .common import _fig_png, _figure, table_html


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
    from ...pipeline.steps import run_pipeline

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

    from ...pipeline.qc import ReadQC

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
    from ...pipeline.qc import (
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
