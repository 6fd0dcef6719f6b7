"""Notebook regression harness: ``record()`` values in notebooks, compare them with baselines.

Notebooks call :func:`record` (exported as ``workbench.record``); ``workbench regress`` runs
them with papermill on a small cohort (:func:`regress`) and compares what they recorded with
the baselines in ``tests/baselines/``. Importing this package is cheap: papermill, nbformat
and tqdm are imported only when notebooks are run.
"""

from ._record import RECORD_MIME, normalise_value, record
from .baselines import (
    DEFAULT_TOLERANCE,
    Mismatch,
    baseline_filename,
    compare,
    load_baseline,
    make_baseline,
    write_baseline,
)
from .runner import (
    Failure,
    NotebookResult,
    Record,
    RegressReport,
    check_notebook,
    collect_records,
    discover_notebooks,
    regress,
    run_notebook,
)

__all__ = [
    "DEFAULT_TOLERANCE",
    "RECORD_MIME",
    "Failure",
    "Mismatch",
    "NotebookResult",
    "Record",
    "RegressReport",
    "baseline_filename",
    "check_notebook",
    "collect_records",
    "compare",
    "discover_notebooks",
    "load_baseline",
    "make_baseline",
    "normalise_value",
    "record",
    "regress",
    "run_notebook",
    "write_baseline",
]
