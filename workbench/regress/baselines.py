"""Baselines: the recorded values a notebook is expected to reproduce, and how to compare them.

One JSON file per notebook lives in ``tests/baselines/``, named from the notebook's path
relative to the repository root (``notebooks/01_synthetic_cohort.ipynb`` →
``notebooks__01_synthetic_cohort.json``)::

    {
      "notebook": "notebooks/01_synthetic_cohort.ipynb",
      "parameters": {"cohort": "<cohort>"},
      "records": {"n_people": 120, "qc.call_rate": 0.9987},
      "tolerance": {"rel": 1e-06, "abs": 1e-09, "by_name": {"qc": {"rel": 0.001}}}
    }

Floats compare with :func:`math.isclose` (``rel``/``abs``; ``by_name`` overrides apply to a
name and, for a dotted prefix such as ``"qc"``, to every name under it), recursing through
lists and dicts; strings, integers, booleans and ``None`` compare exactly. The cohort
parameter is stored as the placeholder ``"<cohort>"`` so baselines do not depend on where the
tiny cohort was generated.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import InputError
from ..io import write_json

__all__ = [
    "COHORT_PLACEHOLDER",
    "DEFAULT_TOLERANCE",
    "Mismatch",
    "baseline_filename",
    "compare",
    "load_baseline",
    "make_baseline",
    "show_value",
    "write_baseline",
]

#: Relative and absolute float tolerance of a new baseline.
DEFAULT_TOLERANCE = {"rel": 1e-6, "abs": 1e-9}
#: What a baseline stores in place of the (machine-specific) cohort path.
COHORT_PLACEHOLDER = "<cohort>"

_SHOW_WIDTH = 60


@dataclass(frozen=True)
class Mismatch:
    """One recorded value that differs from its baseline.

    ``kind`` is ``"changed"``, ``"missing"`` (in the baseline, not recorded) or ``"unexpected"``
    (recorded, not in the baseline). For ``"changed"``, ``where`` locates the first difference
    inside the value (``""`` for the value itself, else like ``"[2]['af']"``), ``expected`` and
    ``got`` are the values there, ``reason`` says why they differ and ``n_differences`` counts
    every differing leaf.
    """

    name: str
    kind: str
    expected: Any = None
    got: Any = None
    where: str = ""
    reason: str = ""
    n_differences: int = 1


def baseline_filename(notebook: str | os.PathLike) -> str:
    """The baseline file name of a notebook given by its POSIX path relative to the repo root.

    >>> baseline_filename("notebooks/01_synthetic_cohort.ipynb")
    'notebooks__01_synthetic_cohort.json'
    """
    rel = PurePosixPath(Path(notebook).as_posix())
    if rel.is_absolute() or ".." in rel.parts or rel.suffix != ".ipynb":
        raise InputError(
            f"expected a notebook path relative to the repository root ending in .ipynb; "
            f"got {str(notebook)!r}"
        )
    return "__".join(rel.with_suffix("").parts) + ".json"


def _check_tolerance(tol, *, source: str) -> dict:
    if not isinstance(tol, Mapping):
        raise InputError(f"{source}: 'tolerance' must be an object; got {tol!r}")
    for key in ("rel", "abs"):
        v = tol.get(key, DEFAULT_TOLERANCE[key])
        if isinstance(v, bool) or not isinstance(v, int | float) or not v >= 0:
            raise InputError(f"{source}: tolerance {key!r} must be a number ≥ 0; got {v!r}")
    by_name = tol.get("by_name", {})
    if not isinstance(by_name, Mapping):
        raise InputError(f"{source}: tolerance 'by_name' must map names to {{rel, abs}}")
    for name, t in by_name.items():
        _check_tolerance(t, source=f"{source} (tolerance for {name!r})")
    return dict(tol)


def make_baseline(
    notebook: str, *, parameters: Mapping, records: Mapping, tolerance: Mapping | None = None
) -> dict:
    """Build a baseline document (see the module docstring); ``tolerance`` defaults to
    :data:`DEFAULT_TOLERANCE`."""
    tol = dict(DEFAULT_TOLERANCE) if tolerance is None else dict(tolerance)
    _check_tolerance(tol, source=f"baseline of {notebook}")
    return {
        "notebook": str(notebook),
        "parameters": dict(parameters),
        "records": dict(records),
        "tolerance": tol,
    }


def load_baseline(path: str | os.PathLike) -> dict | None:
    """Read and check a baseline file; ``None`` when it does not exist.

    Raises
    ------
    InputError
        If the file is not valid JSON or lacks ``records``/``tolerance`` of the right kind.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    hint = "fix it by hand or regenerate it with `workbench regress --update`"
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"baseline {path} is not valid JSON ({e}); {hint}") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("records"), dict):
        raise InputError(f"baseline {path} must be an object with a 'records' object; {hint}")
    if not isinstance(doc.get("parameters", {}), dict):
        raise InputError(f"baseline {path}: 'parameters' must be an object; {hint}")
    _check_tolerance(doc.get("tolerance", {}), source=f"baseline {path}")
    return doc


def write_baseline(path: str | os.PathLike, baseline: Mapping) -> None:
    """Write a baseline atomically as sorted, indented JSON (byte-identical for equal input)."""
    write_json(path, dict(baseline), allow_nan=False)


def _tolerance_for(name: str, tolerance: Mapping) -> tuple[float, float]:
    rel = tolerance.get("rel", DEFAULT_TOLERANCE["rel"])
    abs_ = tolerance.get("abs", DEFAULT_TOLERANCE["abs"])
    by_name = tolerance.get("by_name", {})
    parts = name.split(".")
    # The longest dotted prefix with an override wins: "qc" covers "qc.call_rate".
    for i in range(len(parts), 0, -1):
        override = by_name.get(".".join(parts[:i]))
        if override is not None:
            return override.get("rel", rel), override.get("abs", abs_)
    return rel, abs_


def _is_number(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _is_nonfinite(x) -> bool:
    return isinstance(x, dict) and set(x) == {"$float"}


def _diff(expected, got, where: str, rel: float, abs_: float, out: list) -> None:
    if _is_nonfinite(expected) or _is_nonfinite(got):
        # NaN equals NaN here: a notebook that recorded NaN is expected to record NaN again.
        if expected != got:
            out.append((where, expected, got, f"{_kind(got)} instead of {_kind(expected)}"))
    elif _is_number(expected) and _is_number(got):
        if isinstance(expected, int) and isinstance(got, int):
            if expected != got:
                out.append((where, expected, got, "integers differ"))
        elif not math.isclose(expected, got, rel_tol=rel, abs_tol=abs_):
            out.append((where, expected, got, f"outside tolerance (rel {rel:g}, abs {abs_:g})"))
    elif isinstance(expected, list) and isinstance(got, list):
        if len(expected) != len(got):
            out.append((where, expected, got, f"length {len(got)}, expected {len(expected)}"))
            return
        for i, (e, g) in enumerate(zip(expected, got, strict=True)):
            _diff(e, g, f"{where}[{i}]", rel, abs_, out)
    elif isinstance(expected, dict) and isinstance(got, dict):
        missing = sorted(set(expected) - set(got))
        extra = sorted(set(got) - set(expected))
        if missing or extra:
            out.append((where, expected, got, f"keys differ (missing {missing}, extra {extra})"))
            return
        for k in sorted(expected):
            _diff(expected[k], got[k], f"{where}[{k!r}]", rel, abs_, out)
    elif type(expected) is not type(got) and not (_is_number(expected) and _is_number(got)):
        out.append(
            (where, expected, got, f"{_kind(got)} instead of {_kind(expected)}"),
        )
    elif expected != got:
        out.append((where, expected, got, "values differ"))


def _kind(x) -> str:
    if _is_nonfinite(x):
        return str(x["$float"])
    return {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "dict"}.get(
        type(x), "null" if x is None else type(x).__name__
    )


def compare(records: Mapping[str, Any], baseline: Mapping) -> list[Mismatch]:
    """Compare recorded values (name → JSON value) with a baseline document.

    Returns every mismatch, sorted by name: changed values (first difference located, all
    differences counted), names missing from ``records`` and names the baseline lacks.
    An empty list means the notebook reproduces its baseline.
    """
    expected_records = baseline.get("records", {})
    tolerance = baseline.get("tolerance", DEFAULT_TOLERANCE)
    mismatches = []
    for name in sorted(set(expected_records) | set(records)):
        if name not in records:
            mismatches.append(
                Mismatch(name, "missing", expected=expected_records[name], reason="not recorded")
            )
        elif name not in expected_records:
            mismatches.append(
                Mismatch(name, "unexpected", got=records[name], reason="not in the baseline")
            )
        else:
            rel, abs_ = _tolerance_for(name, tolerance)
            diffs: list = []
            _diff(expected_records[name], records[name], "", rel, abs_, diffs)
            if diffs:
                where, e, g, reason = diffs[0]
                mismatches.append(
                    Mismatch(name, "changed", e, g, where, reason, n_differences=len(diffs))
                )
    return mismatches


def show_value(value, width: int = _SHOW_WIDTH) -> str:
    """A short one-line rendering of a recorded value for messages."""
    if _is_nonfinite(value):
        text = str(value["$float"])
    else:
        text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"
