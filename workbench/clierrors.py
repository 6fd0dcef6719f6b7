"""One-line errors for every command line of the workbench (ground floor; imports only click).

Every deliberate error is a :class:`~workbench.errors.WorkbenchError`. A command wrapped in
:func:`friendly` prints its message as one line (``error: …``) on stderr and exits with status
2 for bad input (:class:`~workbench.errors.InputError`) or 1 for anything else, never with a
traceback. A message that begins with the name of one of the command's options, as the
functions below the command line name their parameters (``min_qual must be …``), names the
option as the user typed it (``--min-qual must be …``). The top command line
(``workbench.cli``) and each domain's command line (``workbench.access.cli``,
``workbench.pipeline.cli`` …) take it from here, so no domain command line imports the top one.
"""

from __future__ import annotations

import functools
import sys

import click

from .errors import InputError, WorkbenchError

__all__ = ["exit_status", "friendly"]


def exit_status(error: WorkbenchError) -> int:
    """The exit status a command gives for ``error``: 2 for bad input, 1 otherwise."""
    return 2 if isinstance(error, InputError) else 1


def friendly(fn):
    """Turn a :class:`WorkbenchError` raised by ``fn`` into one line on stderr and an exit."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except WorkbenchError as e:
            click.echo(f"error: {_as_typed(str(e))}", err=True)
            sys.exit(exit_status(e))

    return wrapper


def _as_typed(message: str) -> str:
    """``message`` with a leading parameter name spelled as the command's option."""
    context = click.get_current_context(silent=True)
    if context is None:
        return message
    for param in context.command.params:
        named = isinstance(param, click.Option) and param.name and param.opts
        if named and message.startswith(f"{param.name} "):
            flag = max(param.opts, key=len)  # --min-qual rather than -q
            return flag + message[len(param.name) :]
    return message
