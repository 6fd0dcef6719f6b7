"""Population structure."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = ["pca"]


def pca(
    genotypes,
    *,
    sample_ids=None,
    n_components: int = 4,
    min_maf: float = 0.05,
    max_variants: int = 20_000,
    seed: int = 0,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Principal components of common biallelic variants (Patterson scaling).

    Parameters
    ----------
    genotypes
        A scikit-allel genotype array (variants × samples × ploidy); missing calls (and a
        male's absent second X allele) count as missing.
    sample_ids
        Labels for the rows of the result.
    n_components
        Components to keep.
    min_maf
        Keep variants whose minor allele frequency is at least this.
    max_variants
        Use at most this many variants, chosen evenly at random (seeded) from those kept.
    seed
        Seed for the choice of variants.

    Returns
    -------
    coords : pandas.DataFrame
        One row per sample, columns ``PC1 …``.
    explained : numpy.ndarray
        Fraction of variance explained by each component.

    References
    ----------
    Patterson, Price & Reich (2006), Population structure and eigenanalysis, PLoS Genet 2:e190.
    """
    import allel

    if not 1 <= n_components <= 20:
        raise InputError(f"n_components must be between 1 and 20, got {n_components}")
    if not 0 <= min_maf < 0.5:
        raise InputError(f"min_maf must be in [0, 0.5), got {min_maf}")
    gt = allel.GenotypeArray(np.asarray(genotypes))
    ac = gt.count_alleles()
    biallelic = ac.max_allele() <= 1
    ac = ac[:, :2]
    an = ac.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        maf = np.minimum(ac[:, 0], ac[:, 1]) / an
    keep = np.flatnonzero(biallelic & (an > 0) & (maf >= min_maf))
    if len(keep) < n_components + 1:
        raise InputError(
            f"only {len(keep)} variants have minor allele frequency >= {min_maf}; lower min_maf "
            "or use more variants"
        )
    if len(keep) > max_variants:
        keep = np.sort(np.random.default_rng(seed).choice(keep, max_variants, replace=False))
    n_alt = gt[keep].to_n_alt(fill=-1).astype(float)
    # Impute missing calls with the variant's mean dosage, the usual choice for PCA.
    missing = n_alt < 0
    if missing.any():
        means = np.where(~missing, n_alt, 0).sum(axis=1) / np.maximum((~missing).sum(axis=1), 1)
        n_alt[missing] = np.broadcast_to(means[:, None], n_alt.shape)[missing]
    coords, model = allel.pca(n_alt, n_components=n_components, scaler="patterson")
    columns = [f"PC{i + 1}" for i in range(n_components)]
    index = pd.Index(sample_ids, name="sample_id") if sample_ids is not None else None
    return pd.DataFrame(coords, columns=columns, index=index), model.explained_variance_ratio_
