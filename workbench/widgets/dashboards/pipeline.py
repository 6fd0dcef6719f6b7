"""The pipeline QC report: a family's reads through the pipeline, and their QC."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import ipywidgets as widgets
import pandas as pd

from ...errors import InputError
from ...io import cache_root
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


def family_to_sequence(cohort, family: str = ""):
    """What the pipeline dashboard sequences: ``(source, family)`` for :func:`run_family_pipeline`.

    In this kernel, the cohort folder and ``family`` (by default the first family). Through the
    data-access service, a treatment session of the signed-in clinician for ``family`` (by
    default the first on their worklist): the service makes the reads, audited, and families
    outside their care are refused.
    """
    if getattr(cohort, "user", None) is None:
        return cohort, family or sorted(cohort.samples().family_id.dropna().unique())[0]
    from ...access.policy import Treatment

    cases = cohort.worklist()  # {proband: family}, the signed-in clinician's own
    if not cases:
        raise InputError(
            f"{cohort.user} has no patients in care to sequence; sign in as their clinician"
        )
    chosen = family or next(iter(cases.values()))
    proband = next((p for p, f in cases.items() if f == chosen), None)
    if proband is None:
        yours = ", ".join(sorted(set(cases.values())))
        raise InputError(f"family {chosen!r} is not on your worklist; yours: {yours}")
    return cohort.session(purpose=Treatment(patient=proband)), chosen


def _cache_dir(source, family: str) -> Path:
    """One folder per cohort version, reader and family, in the user's own cache folder."""
    from ...pipeline.compare import public_parts

    parts = public_parts(source)
    reader = getattr(source, "user", "")
    digest = hashlib.sha256(f"{parts.name}/{parts.version}/{reader}".encode()).hexdigest()[:12]
    return cache_root() / "pipelines" / digest / family


def run_family_pipeline(
    cohort, *, family: str, genes, out: str | os.PathLike = "", depth: float = 20.0, seed: int = 1
):
    """Run (or reuse, see :func:`workbench.pipeline.steps.run_pipeline`) a family's pipeline.

    ``cohort`` is the cohort folder or a clinician's treatment session
    (:func:`family_to_sequence`). ``out=""`` caches in the user's cache folder
    (``$WORKBENCH_CACHE``), one folder per cohort version, reader and family, so a dashboard
    reopened on the same cohort shows its report at once; never in a shared temporary folder,
    where another account could read a family's reads.
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
