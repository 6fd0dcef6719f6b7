"""Clinical Genomics Workbench: a national genome centre in miniature, on synthetic genomes.

The public API is small and explicit:

* :func:`open_cohort` → :class:`Cohort`, the data layer over a cohort folder, and
  :meth:`Cohort.session` with the purposes :class:`Treatment`, :class:`Research`,
  :class:`Teaching` and :class:`Stewardship`: consent-aware, audited access;
* :func:`connect` → a remote cohort served by the data-access service (``workbench service``),
  whose sessions have the same methods, and :func:`reach`, which gives a notebook's users the
  cohort either way;
* :func:`record`, which notebooks call for the values the regression harness checks;
* the exceptions in :mod:`workbench.errors`.

Everything else lives in subpackages (``genome``, ``synth``, ``access``, ``pipeline``,
``analysis``, ``interpret``, ``teach``, ``widgets``, ``serve``, ``regress``); see DESIGN.md.
"""

from importlib.metadata import PackageNotFoundError as _NotFound
from importlib.metadata import version as _version

from .access.policy import Research, Stewardship, Teaching, Treatment
from .cohort import Cohort, open_cohort
from .errors import WorkbenchError
from .regress import record

try:
    __version__ = _version("clinical-genomics-workbench")
except _NotFound:  # pragma: no cover - running from a source tree without installing
    __version__ = "0+unknown"


def connect(url: str, *, token: str | None = None):
    """A cohort served by the data-access service at ``url`` (see :mod:`workbench.service`).

    Its ``session(purpose=…)`` has the methods of :meth:`Cohort.session`'s; who asks is the
    token's user (``token=`` or the ``WORKBENCH_TOKEN`` environment variable).
    """
    from .service.client import connect as _connect

    return _connect(url, token=token)


def reach(cohort, *, service: str = "", tokens=None):
    """How a notebook's users reach the cohort: ``reach(folder, …)(user)`` → a cohort.

    Without ``service`` every user gets the folder, opened once in this kernel (the
    cooperative mode of a laptop). With a service URL each user gets :func:`connect` with their
    own token, ``tokens[user]`` (or ``WORKBENCH_TOKEN`` when ``tokens`` has none for them), and
    the service knows them by that token alone.
    """
    from .service.client import reach as _reach

    return _reach(cohort, service=service, tokens=tokens)


__all__ = [
    "Cohort",
    "Research",
    "Stewardship",
    "Teaching",
    "Treatment",
    "WorkbenchError",
    "__version__",
    "connect",
    "open_cohort",
    "reach",
    "record",
]
