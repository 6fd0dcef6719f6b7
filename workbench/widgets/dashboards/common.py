"""What the dashboards share: the cohort they open, records, figures and HTML tables."""

from __future__ import annotations

import html
import io
import os
from pathlib import Path

import pandas as pd

from ...errors import InputError

#: The "no restriction" choice of the filter drop-downs.
ANY = "any"
#: Environment variable naming the cohort a served dashboard opens (``workbench serve
#: --cohort`` sets it); it wins over the notebook's ``cohort`` parameter.
COHORT_ENV = "WORKBENCH_COHORT"
#: Environment variable naming the data-access service a served dashboard reaches instead (on
#: a class's hub, the class's service); it wins over the folder and the ``service`` parameter.
SERVICE_ENV = "WORKBENCH_SERVICE"
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


def reach_cohort(cohort: str | os.PathLike, *, service: str = "", token: str = ""):
    """The cohort a dashboard shows: through the data-access service, or the folder in this kernel.

    ``$WORKBENCH_SERVICE`` or ``service`` names the service; the dashboard then acts as the
    token's user (``token``, else ``WORKBENCH_TOKEN``, else a hub server's own
    ``JUPYTERHUB_API_TOKEN``). Without a service the folder (:func:`resolve_cohort`) is opened
    in this kernel, the cooperative mode of a laptop.
    """
    url = os.environ.get(SERVICE_ENV) or service
    if url:
        from ...service.client import connect

        return connect(url, token=token or None)
    from ...cohort import open_cohort

    return open_cohort(resolve_cohort(cohort), verify=False)


def whole_cohort(cohort):
    """Everyone's records, as a course module on the whole cohort reads them.

    In this kernel, the cohort itself (the cooperative mode: the folder is yours). Through the
    data-access service, the signed-in learner's teaching session and its genotype view: the
    people they may see (consent applies), under pseudonyms, each read audited. Record-level
    teaching reads are the teaching sandbox, which a student holds only when a data steward
    granted it (``workbench service entitle USER teaching.sandbox``); without it the service
    refuses, saying so. Both have ``samples()``, ``variants(contig=)`` and
    ``genotypes(contig=)``.
    """
    if getattr(cohort, "user", None) is None:
        return cohort
    from ...access.policy import Teaching

    return cohort.session(purpose=Teaching(sandbox=True)).genotype_view()


def signed_in(cohort, default: str) -> str:
    """Whom a dashboard acts as: the token's user through the service, else ``default``."""
    return getattr(cohort, "user", None) or default


def record(name: str, value):
    """:func:`workbench.record` (silent under Voila; the regression harness still sees it)."""
    from ...regress import record as _record

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
