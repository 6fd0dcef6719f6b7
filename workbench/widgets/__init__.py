"""Widgets (ipywidgets), one module per domain; they wire controls to plain functions.

* :mod:`workbench.widgets.access`: :class:`ConsentPanel` (a patient's consent) and
  :class:`AccessExplainer` (why a session sees what it sees).
"""

from .access import AccessExplainer, ConsentPanel

__all__ = ["AccessExplainer", "ConsentPanel"]
