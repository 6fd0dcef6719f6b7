"""Run notebooks with papermill, collect what they recorded and compare it with baselines.

:func:`regress` is what ``workbench regress`` calls: it finds every notebook under
``notebooks/`` and ``courses/`` (or the paths given), checks that each is committed stripped
of outputs and has a cell tagged ``parameters``, executes it in its own folder with the cohort
injected as the ``cohort`` parameter, and compares the values it recorded with
``record(name, value)`` against ``tests/baselines/``. Mismatches are returned in a
:class:`RegressReport`, never raised.

Cell indices are 0-based positions in the notebook as committed (the cell papermill injects
after the parameters cell is not counted).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, RegressionFailure
from ._record import RECORD_MIME
from .baselines import (
    COHORT_PLACEHOLDER,
    baseline_filename,
    compare,
    load_baseline,
    make_baseline,
    show_value,
    write_baseline,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "Failure",
    "NotebookResult",
    "Record",
    "RegressReport",
    "check_notebook",
    "collect_records",
    "discover_notebooks",
    "regress",
    "run_notebook",
]

#: Seconds one cell may run before the notebook fails (the tiny preset needs far less).
DEFAULT_TIMEOUT = 600
#: Folders searched below the repository root when no paths are given.
NOTEBOOK_FOLDERS = ("notebooks", "courses")

_PARAMETERS_TAG = "parameters"
_INJECTED_TAG = "injected-parameters"
_PAPERMILL_MARKER_TAG = "papermill-error-cell-tag"


@dataclass(frozen=True)
class Record:
    """One value a notebook recorded, and the (0-based, as committed) cell that recorded it."""

    name: str
    value: Any
    cell_index: int


@dataclass(frozen=True)
class NotebookResult:
    """An executed notebook: its path, the parameters injected, the executed document and
    the values it recorded, in cell order."""

    path: Path
    parameters: dict
    notebook: Any  # nbformat.NotebookNode
    records: list[Record]


@dataclass(frozen=True)
class Failure:
    """One reason a notebook failed the regression run.

    ``kind`` is one of ``"changed"``, ``"missing"``, ``"unexpected"`` (recorded values vs
    baseline), ``"error"`` (execution failed), ``"notebook"`` (the committed notebook breaks a
    rule) or ``"baseline"`` (no usable baseline). ``cell_index`` and ``name`` are ``None`` when
    the failure is not about one cell or one recorded value.
    """

    notebook: str
    kind: str
    message: str
    cell_index: int | None = None
    name: str | None = None
    expected: Any = None
    got: Any = None

    def __str__(self) -> str:
        cell = "" if self.cell_index is None else f" cell {self.cell_index}"
        return f"FAIL {self.notebook}{cell}: {self.message}"


@dataclass
class RegressReport:
    """What a regression run found: ``notebooks`` run (POSIX paths relative to the root),
    ``failures`` (empty when all reproduce their baselines) and baselines ``updated``."""

    notebooks: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no notebook failed."""
        return not self.failures

    @property
    def failed_notebooks(self) -> list[str]:
        """Notebooks with at least one failure, in run order."""
        failed = {f.notebook for f in self.failures}
        return [nb for nb in self.notebooks if nb in failed]

    def format(self) -> str:
        """Readable lines: one per failure and per updated baseline, then a summary."""
        lines = [str(f) for f in self.failures]
        lines += [f"updated {u}" for u in self.updated]
        n, n_failed = len(self.notebooks), len(self.failed_notebooks)
        summary = f"{n} notebook{'s' if n != 1 else ''}: {n - n_failed} passed"
        if n_failed:
            summary += f", {n_failed} failed ({len(self.failures)} failures)"
        lines.append(summary)
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Reading notebooks


def _read(path: Path):
    import nbformat

    try:
        return nbformat.read(path, as_version=4)
    except FileNotFoundError:
        raise InputError(f"notebook {path} does not exist; check the path") from None
    except Exception as e:  # nbformat raises several kinds for unreadable JSON
        raise InputError(
            f"{path} is not a readable notebook ({type(e).__name__}: {e}); "
            f"open it in JupyterLab and save it again"
        ) from e


def _tags(cell) -> list:
    return list(cell.get("metadata", {}).get("tags", []))


def _first_tagged(nb, tag: str) -> int:
    return next((i for i, c in enumerate(nb.cells) if tag in _tags(c)), -1)


def collect_records(nb) -> list[Record]:
    """The values an executed notebook recorded, in cell order.

    Parameters
    ----------
    nb : nbformat.NotebookNode or path
        An executed notebook (the document, or the path of a saved one).

    Returns
    -------
    list of Record
        ``cell_index`` counts cells as committed: cells papermill adds (injected parameters,
        error markers) are skipped.
    """
    if isinstance(nb, str | os.PathLike):
        nb = _read(Path(nb))
    records = []
    index = 0
    for cell in nb.cells:
        tags = _tags(cell)
        if _INJECTED_TAG in tags or _PAPERMILL_MARKER_TAG in tags:
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {}) if output.get("output_type") == "display_data" else {}
            payload = data.get(RECORD_MIME)
            if isinstance(payload, Mapping) and "name" in payload:
                records.append(Record(str(payload["name"]), payload.get("value"), index))
        index += 1
    return records


def check_notebook(nb, *, label: str) -> list[Failure]:
    """Rules a committed notebook must follow before it is run.

    It has a cell tagged ``parameters``, no cell left tagged ``injected-parameters`` by an
    earlier papermill run, and no outputs or execution counts (commit notebooks stripped).
    """
    failures = []
    if _first_tagged(nb, _PARAMETERS_TAG) < 0:
        failures.append(
            Failure(
                label,
                "notebook",
                "no cell is tagged 'parameters'; add a cell tagged parameters holding the "
                'defaults (e.g. cohort = "datasets/synthetic/teaching") so papermill can '
                "inject the test cohort",
            )
        )
    for i, cell in enumerate(nb.cells):
        if _INJECTED_TAG in _tags(cell):
            failures.append(
                Failure(
                    label,
                    "notebook",
                    "cell tagged 'injected-parameters' (left by a papermill run) is committed; "
                    "delete it",
                    cell_index=i,
                )
            )
        if cell.get("cell_type") != "code":
            continue
        if cell.get("outputs") or cell.get("execution_count") is not None:
            failures.append(
                Failure(
                    label,
                    "notebook",
                    "outputs are committed; notebooks must be committed stripped: run "
                    f"`jupyter nbconvert --clear-output --inplace {label}`",
                    cell_index=i,
                )
            )
            break
    return failures


# --------------------------------------------------------------------------------------------
# Running one notebook


def _source_index(executed_index: int, source_nb, injected: bool) -> int:
    """Map a cell index of the executed notebook back to the committed notebook."""
    if not injected or _first_tagged(source_nb, _INJECTED_TAG) >= 0:
        return executed_index  # nothing inserted (papermill replaced an injected cell in place)
    param = _first_tagged(source_nb, _PARAMETERS_TAG)
    inserted_at = param + 1  # papermill puts it at the top (index 0) without a parameters cell
    if executed_index == inserted_at:
        return max(param, 0)  # an error in the injected cell: blame the parameters cell
    return executed_index - 1 if executed_index > inserted_at else executed_index


def _engine_arguments(kernel_name: str) -> dict:
    """Quiet an ipykernel's start-up warnings (they would interleave with the progress bar)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        argv = KernelSpecManager().get_kernel_spec(kernel_name).argv
    except NoSuchKernel:
        return {}  # papermill reports the missing kernel with its own message
    if any("ipykernel" in a for a in argv):
        return {"extra_arguments": ["--IPKernelApp.log_level=ERROR"]}
    return {}


def run_notebook(
    path: str | os.PathLike,
    *,
    parameters: Mapping[str, Any],
    output_path: str | os.PathLike | None = None,
    kernel_name: str | None = None,
    cwd: str | os.PathLike | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    label: str | None = None,
) -> NotebookResult:
    """Execute a notebook with papermill and collect what it recorded.

    Parameters
    ----------
    path : path-like
        The notebook to run; it is not modified.
    parameters : mapping
        Values papermill injects after the cell tagged ``parameters`` (pass only names the
        notebook declares; see :func:`papermill.inspect_notebook`).
    output_path : path-like, optional
        Where to save the executed notebook (also on failure); not saved when omitted.
    kernel_name : str, optional
        Kernel to run; defaults to the notebook's kernelspec, else ``"python3"``.
    cwd : path-like, optional
        Working directory of the kernel (default: the current one).
    timeout : float
        Seconds one cell may run.
    label : str, optional
        How messages name the notebook (default: ``path``).

    Returns
    -------
    NotebookResult

    Raises
    ------
    RegressionFailure
        If a cell raised (naming the cell and the exception), a cell timed out or the kernel
        could not start or died; ``failures`` holds one :class:`Failure`.
    InputError
        If ``path`` is not a readable notebook or ``timeout`` is not positive.
    """
    import papermill

    path = Path(path)
    label = str(path) if label is None else label
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise InputError(f"timeout must be a positive number of seconds; got {timeout!r}")
    if not isinstance(parameters, Mapping):
        raise InputError(f"parameters must be a mapping of name to value; got {parameters!r}")
    source = _read(path)
    if kernel_name is None:
        kernel_name = source.metadata.get("kernelspec", {}).get("name") or "python3"
    parameters = dict(parameters)
    try:
        nb = papermill.execute_notebook(
            str(path),
            None if output_path is None else str(output_path),
            parameters=parameters,
            kernel_name=kernel_name,
            progress_bar=False,
            cwd=None if cwd is None else str(cwd),
            execution_timeout=timeout,
            **_engine_arguments(kernel_name),
        )
    except papermill.PapermillExecutionError as e:
        cell = _source_index(e.cell_index, source, bool(parameters))
        failure = Failure(label, "error", f"{e.ename}: {e.evalue}".rstrip(": "), cell_index=cell)
        raise RegressionFailure(str(failure), failures=[failure]) from e
    except Exception as e:  # kernel start failure, dead kernel, cell timeout (nbclient)
        message = f"{type(e).__name__}: {e}".strip()
        failure = Failure(label, "error", f"could not run: {message}")
        raise RegressionFailure(str(failure), failures=[failure]) from e
    return NotebookResult(path, parameters, nb, collect_records(nb))


# --------------------------------------------------------------------------------------------
# The regression run


def _walk(folder: Path) -> Iterable[Path]:
    for dirpath, dirnames, filenames in os.walk(folder):
        # .ipynb_checkpoints and other hidden folders hold copies, not notebooks to test.
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.endswith(".ipynb") and not name.startswith("."):
                yield Path(dirpath) / name


def discover_notebooks(
    root: str | os.PathLike, paths: Sequence[str | os.PathLike] | None = None
) -> list[Path]:
    """The notebooks to test, sorted: every ``*.ipynb`` under ``root/notebooks`` and
    ``root/courses`` or, when ``paths`` are given, those files and the notebooks under those
    folders. Hidden folders such as ``.ipynb_checkpoints`` are skipped.

    Raises
    ------
    InputError
        If a path does not exist, is a file that is not a notebook, or lies outside ``root``.
    """
    root = Path(root).resolve()
    found: set[Path] = set()
    if not paths:
        for folder in NOTEBOOK_FOLDERS:
            if (root / folder).is_dir():
                found.update(_walk(root / folder))
        return sorted(found)
    for p in paths:
        p = Path(p).resolve()
        if not p.exists():
            raise InputError(f"{p} does not exist; pass notebooks or folders holding them")
        if not p.is_relative_to(root):
            raise InputError(
                f"{p} is outside the repository root {root}; baselines are named from paths "
                f"relative to it, so pass notebooks inside it"
            )
        if p.is_dir():
            found.update(_walk(p))
        elif p.suffix == ".ipynb":
            found.add(p)
        else:
            raise InputError(f"{p} is not a notebook (.ipynb); pass notebooks or folders")
    return sorted(found)


def _mismatch_failures(label: str, mismatches, cells: Mapping[str, int]) -> list[Failure]:
    failures = []
    for m in mismatches:
        if m.kind == "missing":
            message = (
                f"{m.name!r} is in the baseline ({show_value(m.expected)}) but was not "
                f"recorded; record it again or run `workbench regress --update {label}`"
            )
        elif m.kind == "unexpected":
            message = (
                f"{m.name!r} = {show_value(m.got)} is not in the baseline; "
                f"run `workbench regress --update {label}` to add it"
            )
        else:
            where = f"{m.name}{m.where}"
            more = f" ({m.n_differences} differences)" if m.n_differences > 1 else ""
            message = (
                f"{where!r} expected {show_value(m.expected)}, got {show_value(m.got)}: "
                f"{m.reason}{more}"
            )
        failures.append(
            Failure(label, m.kind, message, cells.get(m.name), m.name, m.expected, m.got)
        )
    return failures


def _check_args(root, cohort, parameters, timeout) -> tuple[Path, Path, dict]:
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"root must be the repository folder; {root} is not a folder")
    cohort = Path(cohort)
    if not cohort.is_dir():
        raise InputError(
            f"cohort must be a generated cohort folder; {cohort} is not a folder; "
            f"generate one with `workbench generate --preset tiny`"
        )
    parameters = {} if parameters is None else parameters
    if not isinstance(parameters, Mapping) or not all(isinstance(k, str) for k in parameters):
        raise InputError(f"parameters must map names to values; got {parameters!r}")
    if "cohort" in parameters:
        raise InputError("pass the cohort as cohort=…, not inside parameters")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise InputError(f"timeout must be a positive number of seconds; got {timeout!r}")
    return root.resolve(), cohort.resolve(), dict(parameters)


def _regress_one(
    path: Path,
    *,
    root: Path,
    cohort: Path,
    extra: dict,
    update: bool,
    baseline_dir: Path,
    kernel_name: str | None,
    timeout: float,
    output_dir: Path | None,
    report: RegressReport,
) -> None:
    import papermill

    label = path.relative_to(root).as_posix()
    report.notebooks.append(label)
    try:
        static = check_notebook(_read(path), label=label)
    except InputError as e:
        static = [Failure(label, "notebook", str(e))]
    if static:
        report.failures.extend(static)
        return
    declared = set(papermill.inspect_notebook(str(path)))
    injected = {k: v for k, v in extra.items() if k in declared}
    stored = dict(injected)
    name = baseline_filename(label)
    out = None if output_dir is None else output_dir / (name[: -len(".json")] + ".ipynb")
    with tempfile.TemporaryDirectory(prefix="workbench-regress-") as scratch:
        if "cohort" in declared:
            # Each notebook gets a pristine copy: sessions write audit entries, release
            # histories and consent changes, and a notebook's recorded values must not depend
            # on which notebooks ran before it.
            private = Path(scratch) / cohort.name
            shutil.copytree(cohort, private, symlinks=True)
            injected["cohort"] = str(private)
            stored["cohort"] = COHORT_PLACEHOLDER
        # Likewise a learner-progress store of its own (none yet), never the user's.
        saved = os.environ.get("WORKBENCH_PROGRESS")
        os.environ["WORKBENCH_PROGRESS"] = str(Path(scratch) / "progress.sqlite")
        try:
            result = run_notebook(
                path,
                parameters=injected,
                output_path=out,
                kernel_name=kernel_name,
                cwd=path.parent,
                timeout=timeout,
                label=label,
            )
        except RegressionFailure as e:
            report.failures.extend(e.failures)
            return
        finally:
            if saved is None:
                os.environ.pop("WORKBENCH_PROGRESS", None)
            else:
                os.environ["WORKBENCH_PROGRESS"] = saved

    values: dict[str, Any] = {}
    cells: dict[str, int] = {}
    for r in result.records:
        if r.name in cells:
            report.failures.append(
                Failure(
                    label,
                    "notebook",
                    f"{r.name!r} is recorded twice (cells {cells[r.name]} and {r.cell_index}); "
                    f"give each value its own name",
                    r.cell_index,
                    r.name,
                )
            )
            return
        values[r.name], cells[r.name] = r.value, r.cell_index
    if not values:
        report.failures.append(
            Failure(
                label,
                "notebook",
                "records no values; call workbench.record(name, value) for the results the "
                "notebook exists to show",
            )
        )
        return

    baseline_path = baseline_dir / name
    try:
        baseline = load_baseline(baseline_path)
    except InputError as e:
        if not update:
            report.failures.append(Failure(label, "baseline", str(e)))
            return
        baseline = None
    if update:
        tolerance = None if baseline is None else baseline.get("tolerance")
        write_baseline(
            baseline_path,
            make_baseline(label, parameters=stored, records=values, tolerance=tolerance),
        )
        try:
            shown = baseline_path.relative_to(root).as_posix()
        except ValueError:
            shown = str(baseline_path)
        report.updated.append(shown)
        return
    if baseline is None:
        report.failures.append(
            Failure(
                label,
                "baseline",
                f"no baseline {baseline_path.name} in {baseline_dir}; create it with "
                f"`workbench regress --update {label}` and review it before committing",
            )
        )
        return
    if baseline.setdefault("parameters", {}) != stored:
        report.failures.append(
            Failure(
                label,
                "baseline",
                f"the baseline was made with parameters {show_value(baseline['parameters'])}, "
                f"this run used {show_value(stored)}; run `workbench regress --update {label}` "
                f"if that is intended",
            )
        )
    report.failures.extend(_mismatch_failures(label, compare(values, baseline), cells))


def regress(
    paths: Sequence[str | os.PathLike] | None = None,
    *,
    root: str | os.PathLike,
    cohort: str | os.PathLike,
    update: bool = False,
    parameters: Mapping[str, Any] | None = None,
    progress: bool = True,
    baseline_dir: str | os.PathLike | None = None,
    kernel_name: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    output_dir: str | os.PathLike | None = None,
) -> RegressReport:
    """Run notebooks and compare what they record with their baselines.

    Parameters
    ----------
    paths : sequence of path-like, optional
        Notebooks or folders to test (inside ``root``); default every notebook under
        ``root/notebooks`` and ``root/courses``.
    root : path-like
        The repository root: baselines are named from notebook paths relative to it.
    cohort : path-like
        The cohort folder (the tiny preset for tests). Notebooks whose parameters cell
        declares ``cohort`` each receive a fresh copy of it (an absolute path), so what one
        notebook writes (audit entries, consent changes) never changes another's results.
    update : bool
        Write each notebook's baseline from this run instead of comparing (tolerances of an
        existing baseline are kept). Notebooks that fail to run or break a rule are not written.
    parameters : mapping, optional
        Further parameters, injected into the notebooks that declare them.
    progress : bool
        Show a progress bar over notebooks.
    baseline_dir : path-like, optional
        Default ``root/tests/baselines``.
    kernel_name : str, optional
        Kernel for every notebook; default each notebook's own kernelspec, else ``python3``.
    timeout : float
        Seconds one cell may run.
    output_dir : path-like, optional
        Save each executed notebook there (for inspecting failures in CI).

    Returns
    -------
    RegressReport
        Mismatches, execution errors and rule violations are reported there, not raised.

    Raises
    ------
    InputError
        For bad arguments or paths (before anything runs).
    """
    from tqdm.auto import tqdm

    root, cohort, extra = _check_args(root, cohort, parameters, timeout)
    baseline_dir = root / "tests" / "baselines" if baseline_dir is None else Path(baseline_dir)
    output_dir = None if output_dir is None else Path(output_dir)
    if output_dir is not None:
        output_dir.mkdir(parents=True, exist_ok=True)
    notebooks = discover_notebooks(root, paths)
    report = RegressReport()
    bar = tqdm(notebooks, desc="regress", unit="notebook", disable=not progress)
    for path in bar:
        bar.set_postfix_str(path.name, refresh=False)
        _regress_one(
            path,
            root=root,
            cohort=cohort,
            extra=extra,
            update=bool(update),
            baseline_dir=baseline_dir,
            kernel_name=kernel_name,
            timeout=timeout,
            output_dir=output_dir,
            report=report,
        )
    bar.close()
    return report
