"""Widgets (ipywidgets), one module per domain; they wire controls to plain functions.

* :mod:`workbench.widgets.access`: :class:`ConsentPanel` (a patient's consent) and
  :class:`AccessExplainer` (why a session sees what it sees).
* :mod:`workbench.widgets.acmg`: :class:`AcmgPanel`, ACMG/AMP criteria with the live class.
* :mod:`workbench.widgets.candidates`: :class:`CandidateBrowser`, a trio's ranked candidates
  with a detail view and the report button.
"""

from .access import AccessExplainer, ConsentPanel
from .acmg import AcmgPanel
from .candidates import CandidateBrowser

__all__ = ["AccessExplainer", "AcmgPanel", "CandidateBrowser", "ConsentPanel"]
