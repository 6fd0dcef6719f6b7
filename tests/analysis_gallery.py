"""A named gallery of edge-case genotype arrays for the analysis kernels and QC.

Every case is a function returning a fresh ``variants × samples × 2`` int8 array in the VCF
Zarr coding (``-1`` missing allele, ``-2`` "no allele" in the second slot of a hemizygous
call). :data:`GALLERY` maps names to the functions; tests parametrise over it, so a new case
is checked by every test that uses the gallery. Random cases are seeded (same array each call).
"""

from __future__ import annotations

import numpy as np

__all__ = ["GALLERY", "random_genotypes"]


def _a(rows) -> np.ndarray:
    return np.array(rows, dtype=np.int8)


def missing_calls():
    """Fully and partly missing calls next to ordinary ones."""
    return _a(
        [
            [[0, 0], [0, 1], [-1, -1], [1, 1]],
            [[0, -1], [-1, 1], [1, 1], [0, 0]],
            [[-1, -1], [0, 0], [0, 1], [1, 0]],
        ]
    )


def multi_allelic():
    """Sites with alleles 0-3: hets between two alt alleles, hom-alt of allele 2 or 3."""
    return _a(
        [
            [[0, 2], [1, 2], [2, 2], [0, 0], [3, 1]],
            [[0, 1], [1, 1], [0, 0], [1, 0], [0, 1]],
            [[3, 3], [2, -1], [0, 3], [-1, -1], [2, 1]],
        ]
    )


def haploid_x_males():
    """chrX-like calls: samples 0 and 2 are males (``[a, -2]``), 1 and 3 females."""
    return _a(
        [
            [[0, -2], [0, 1], [1, -2], [1, 1]],
            [[1, -2], [0, 0], [0, -2], [0, 1]],
            [[-1, -2], [1, 0], [1, -2], [-1, -1]],
            [[2, -2], [0, 2], [0, -2], [2, 2]],
        ]
    )


def all_missing_variants():
    """Two variants nobody was called at, between two ordinary ones."""
    g = np.full((4, 3, 2), -1, dtype=np.int8)
    g[0] = [[0, 1], [1, 1], [0, 0]]
    g[3] = [[0, 0], [0, 1], [0, -1]]
    return g


def everything_missing():
    """Every call missing (no allele anywhere): allele counts have width 0."""
    return np.full((3, 4, 2), -1, dtype=np.int8)


def single_sample():
    """One person, a handful of sites."""
    return _a([[[0, 1]], [[1, 1]], [[0, 0]], [[-1, -1]], [[1, -2]]])


def zero_variants():
    """No sites at all (an empty region)."""
    return np.zeros((0, 5, 2), dtype=np.int8)


def monomorphic():
    """Every called allele is the reference."""
    g = np.zeros((3, 6, 2), dtype=np.int8)
    g[1, 2] = -1
    return g


def all_hom_alt():
    """Every call homozygous for the alternate allele (no reference allele observed)."""
    return np.ones((2, 4, 2), dtype=np.int8)


def wide_row():
    """More samples than one lane block and an odd remainder (exercises the vector tails)."""
    rng = np.random.default_rng(7)
    g = (rng.random((5, 8200 + 37, 2)) < 0.3).astype(np.int8)
    g[1, ::13] = -1
    g[2, ::7, 1] = -2
    g[3, ::11, 0] = 2
    return g


def many_variants():
    """More variants than one per-sample flush block (127), with missing and haploid calls."""
    return random_genotypes(n_variants=400, n_samples=45, seed=3)


def random_genotypes(*, n_variants: int, n_samples: int, seed: int, max_allele: int = 3):
    """Random calls with realistic-looking frequencies, missing calls and hemizygous calls."""
    rng = np.random.default_rng(seed)
    p = rng.beta(0.3, 1.5, size=(n_variants, 1, 1))
    g = (rng.random((n_variants, n_samples, 2)) < p).astype(np.int8)
    multi = rng.random(n_variants) < 0.1
    g[multi] *= rng.integers(1, max_allele + 1, size=(int(multi.sum()), n_samples, 2)).astype(
        np.int8
    )
    g[rng.random(g.shape) < 0.03] = -1
    hap = rng.random((n_variants, n_samples)) < 0.1
    g[..., 1][hap] = -2
    return g


GALLERY = {
    f.__name__: f
    for f in (
        missing_calls,
        multi_allelic,
        haploid_x_males,
        all_missing_variants,
        everything_missing,
        single_sample,
        zero_variants,
        monomorphic,
        all_hom_alt,
        wide_row,
        many_variants,
    )
}
