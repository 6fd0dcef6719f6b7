"""``record(name, value)``: publish a value a notebook wants the regression harness to compare.

A recorded value travels inside the executed notebook itself, as a display output with the
MIME type :data:`RECORD_MIME` in the cell that recorded it, so the harness knows both the value
and the cell. Values are normalised to plain JSON (numpy and pandas scalars become Python
numbers; arrays become lists; non-finite floats become ``{"$float": "NaN"}`` markers, because
JSON has no NaN) — the same form the baselines in ``tests/baselines/`` store.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Mapping

from ..errors import InputError

__all__ = ["RECORD_MIME", "normalise_value", "record"]

#: MIME type of the display output that carries one recorded value.
RECORD_MIME = "application/vnd.workbench.record+json"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_NONFINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
_TEXT_WIDTH = 100


def _check_name(name) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InputError(
            f"record name must be an identifier, dots allowed (like 'qc.call_rate'); "
            f"got {name!r}; rename it"
        )
    return name


def _float(x: float):
    if math.isfinite(x):
        return x
    return {"$float": _NONFINITE[repr(x)]}


def normalise_value(value, *, where: str = "value"):
    """Return ``value`` as plain JSON data (str, int, float, bool, None, list, dict).

    numpy scalars and arrays, pandas scalars (``pd.NA``/``NaT`` become ``None``, timestamps
    ISO strings) and tuples are converted; NaN and ±inf become ``{"$float": "NaN"}``,
    ``{"$float": "Infinity"}``, ``{"$float": "-Infinity"}``.

    Raises
    ------
    InputError
        For anything else (sets, objects, dicts with non-string keys), naming where in the
        value the offending part sits.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return _float(float(value))
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise InputError(
                    f"recorded dicts need string keys; {where} has key {k!r} "
                    f"({type(k).__name__}); convert keys with str()"
                )
            out[k] = normalise_value(v, where=f"{where}[{k!r}]")
        return out
    if isinstance(value, list | tuple):
        return [normalise_value(v, where=f"{where}[{i}]") for i, v in enumerate(value)]
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        if isinstance(value, numpy.ndarray):
            return normalise_value(value.tolist(), where=where)
        if isinstance(value, numpy.generic) and not isinstance(
            value, numpy.datetime64 | numpy.timedelta64 | numpy.void
        ):
            return normalise_value(value.item(), where=where)
    pandas = sys.modules.get("pandas")
    if pandas is not None:
        if value is pandas.NA or value is pandas.NaT:
            return None
        if isinstance(value, pandas.Timestamp):
            return value.isoformat()
        if isinstance(value, pandas.Timedelta):
            return value.isoformat()
        if isinstance(value, pandas.Series | pandas.Index):
            return normalise_value(value.tolist(), where=where)
    raise InputError(
        f"record values must be JSON-like (numbers, strings, booleans, None, lists, dicts, "
        f"numpy/pandas scalars or arrays); {where} is a {type(value).__module__}."
        f"{type(value).__qualname__}; record a number or a list derived from it"
    )


def _text(name: str, value) -> str:
    text = f"{name} = {value!r}"
    if len(text) > _TEXT_WIDTH:
        text = text[: _TEXT_WIDTH - 1] + "…"
    return f"recorded {text}"


def in_voila() -> bool:
    """True inside a kernel that Voila started (Voila sets ``VOILA_*`` variables in it)."""
    return any(k in os.environ for k in ("VOILA_APP_PORT", "VOILA_BASE_URL", "VOILA_PREHEAT"))


def _in_ipython() -> bool:
    ipython = sys.modules.get("IPython")
    return ipython is not None and ipython.get_ipython() is not None


def record(name: str, value):
    """Record a value for the notebook regression harness and return ``value`` unchanged.

    Inside a Jupyter kernel the value is published as a display output (MIME type
    :data:`RECORD_MIME`, with a one-line ``text/plain`` echo), so the executed notebook carries
    it in the cell that recorded it. Outside IPython nothing is shown; the value is still
    checked and returned.

    Parameters
    ----------
    name : str
        An identifier, dots allowed (``"qc.call_rate"``); unique within the notebook.
    value
        JSON-like data; see :func:`normalise_value` for what is converted.

    Returns
    -------
    The ``value`` passed in (not the normalised copy), so ``x = record("x", f())`` works.

    Raises
    ------
    InputError
        If ``name`` is not identifier-like or ``value`` cannot be represented as JSON.
    """
    _check_name(name)
    data = normalise_value(value, where=name)
    if in_voila():
        # A learner in a Voila app should not see the harness's echo; papermill runs still
        # publish the record.
        return value
    if _in_ipython():
        from IPython.display import display

        display(
            {RECORD_MIME: {"name": name, "value": data}, "text/plain": _text(name, data)},
            raw=True,
        )
    return value
