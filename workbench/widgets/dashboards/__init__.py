"""The four Voila dashboards, as plain functions plus the widgets that wire them.

Each dashboard notebook in ``notebooks/dashboards/`` is a few lines: reach the cohort (the
folder in the kernel, or the data-access service as the signed-in user: :func:`reach_cohort`),
build one of these widgets, display it, record a few values for the regression harness. One
module per dashboard; everything worth testing lives there as plain functions:

* **cohort explorer** (:class:`CohortExplorer`, a trainer's or researcher's session):
  :func:`explorer_table` (QC metrics and principal components per person, read through the
  session), :func:`filter_samples`, :func:`samples_html`, :func:`pca_png`, :func:`qc_png`;
* **case review** (:class:`CaseReview`, the treating clinician's session):
  :func:`families_in_care`, :func:`open_case`, :func:`phenotype_html`, :func:`funnel_html`,
  :func:`best_variant`;
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

from ...regress._record import in_voila
from .case_review import (
    CaseReview,
    best_variant,
    families_in_care,
    funnel_html,
    open_case,
    phenotype_html,
)
from .common import (
    ANY,
    COHORT_ENV,
    COLOUR_BY,
    SERVICE_ENV,
    reach_cohort,
    record,
    resolve_cohort,
    signed_in,
    table_html,
    whole_cohort,
)
from .explorer import (
    CohortExplorer,
    ExplorerData,
    PcaPicture,
    explorer_table,
    filter_samples,
    pca_png,
    qc_png,
    samples_html,
)
from .pipeline import (
    PipelineReport,
    family_to_sequence,
    load_read_qc,
    metrics_html,
    panel_genes_for,
    read_qc_png,
    run_family_pipeline,
)
from .steward import StewardConsole, audit_html, consent_overview, grants_table, verify_html

__all__ = [
    "ANY",
    "COHORT_ENV",
    "COLOUR_BY",
    "SERVICE_ENV",
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
    "family_to_sequence",
    "filter_samples",
    "funnel_html",
    "grants_table",
    "in_voila",
    "load_read_qc",
    "metrics_html",
    "open_case",
    "panel_genes_for",
    "pca_png",
    "phenotype_html",
    "qc_png",
    "reach_cohort",
    "read_qc_png",
    "record",
    "resolve_cohort",
    "run_family_pipeline",
    "samples_html",
    "signed_in",
    "table_html",
    "verify_html",
    "whole_cohort",
]
