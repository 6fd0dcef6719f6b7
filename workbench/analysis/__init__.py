"""Cohort analytics: plain functions over a :class:`~workbench.Cohort` or arrays, and plots.

Plot functions take ``ax=None``, draw on it (or a new figure) and return ``ax``; matplotlib is
imported only when a plot is drawn.
"""

from .plots import plot_consent_mix, plot_pca
from .structure import pca

__all__ = ["pca", "plot_consent_mix", "plot_pca"]
