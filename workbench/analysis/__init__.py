"""Cohort analytics: plain functions over a :class:`~workbench.Cohort`'s arrays, and plots.

Everything takes numpy, scikit-allel or dask genotype arrays (variants × samples × ploidy)
and works unchanged from the tiny preset to the national one. Plot functions take
``ax=None``, draw on it (or a new figure) and return ``ax``; matplotlib is imported only
when a plot is drawn.

* :mod:`~workbench.analysis.kernels`: :func:`fused_stats`, one numba pass for per-variant and
  per-sample statistics;
* :mod:`~workbench.analysis.qc`: :func:`variant_qc`, :func:`sample_qc`;
* :mod:`~workbench.analysis.structure`: PCA, LD, Fst, SFS;
* :mod:`~workbench.analysis.relatedness`: KING kinship, family recovery, Mendel errors.
"""

from .kernels import fused_stats
from .plots import plot_consent_mix, plot_fst, plot_kinship, plot_ld_decay, plot_pca, plot_sfs
from .qc import sample_qc, variant_qc
from .relatedness import king_kinship, mendel_errors, recover_families
from .structure import hudson_fst, ld_decay, ld_prune, ld_r2, pairwise_fst, pca, sfs

__all__ = [
    "fused_stats",
    "hudson_fst",
    "king_kinship",
    "ld_decay",
    "ld_prune",
    "ld_r2",
    "mendel_errors",
    "pairwise_fst",
    "pca",
    "plot_consent_mix",
    "plot_fst",
    "plot_kinship",
    "plot_ld_decay",
    "plot_pca",
    "plot_sfs",
    "recover_families",
    "sample_qc",
    "sfs",
    "variant_qc",
]
