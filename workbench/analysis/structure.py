"""Population structure: LD, PCA, Fst, the site frequency spectrum.

Every function takes genotypes as a scikit-allel array (variants × samples × ploidy) — in
memory (:class:`allel.GenotypeArray`, or a plain integer array) or dask-backed
(:class:`allel.GenotypeDaskArray`, what :meth:`Cohort.genotypes` returns for the national
preset). A call with any allele ``< 0`` is missing; this includes a male's chrX call, whose second
allele is ``-2`` (no allele). Dask arrays are processed chunk by chunk on the scheduler chosen
with :func:`workbench.compute.use`, so memory stays bounded by the chunk size, not the cohort.

The heavy kernels are matrix products (BLAS), not loops over pairs: the correlation of every
pair of variants in a block, and the randomised range finder of the PCA, are each a handful of
products of dosage matrices.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = [
    "hudson_fst",
    "ld_bands",
    "ld_decay",
    "ld_prune",
    "ld_r2",
    "pairwise_fst",
    "pca",
    "sfs",
]

# Variants per block when a dask array is read block by block (LD pruning, LD decay).
_BLOCK = 4096
# Above this many matrix entries (samples × variants used), pca(method="auto") is randomised.
_EXACT_MAX_ENTRIES = 5_000_000


# -- array plumbing --------------------------------------------------------------------------
def _is_dask(x) -> bool:
    import dask.array as da

    return isinstance(x, da.Array)


def _calls(genotypes, *, ndim: int | tuple[int, ...] = 3):
    """The raw integer calls of ``genotypes`` (numpy or dask), with their dimension checked."""
    values = getattr(genotypes, "values", genotypes)
    if not _is_dask(values):
        values = np.asarray(values)
    ndims = (ndim,) if isinstance(ndim, int) else ndim
    if values.ndim not in ndims or values.dtype.kind not in "iu":
        raise InputError(
            f"expected integer genotypes with {' or '.join(map(str, ndims))} dimensions "
            f"(variants × samples × ploidy), got an array of shape {values.shape} and dtype "
            f"{values.dtype}; pass cohort.genotypes(...)"
        )
    return values


def _dosage_block(g: np.ndarray) -> np.ndarray:
    """Alternate-allele count per call (int8), ``-1`` where any allele is missing."""
    g = np.asarray(g)
    d = np.zeros(g.shape[:2], dtype=np.int8)
    missing = np.zeros(g.shape[:2], dtype=bool)
    for k in range(g.shape[2]):  # per allele copy: strided views, no 3-d temporaries
        d += g[:, :, k] > 0
        missing |= g[:, :, k] < 0
    d[missing] = -1
    return d


def _dosage(calls):
    """Dosage matrix (variants × samples, int8, ``-1`` missing) of 3-d calls or 2-d dosages."""
    if calls.ndim == 2:
        return calls.astype(np.int8)
    if _is_dask(calls):
        calls = calls.rechunk({2: -1})
        return calls.map_blocks(_dosage_block, drop_axis=2, dtype=np.int8)
    return _dosage_block(calls)


def _variant_summary(calls) -> np.ndarray:
    """``(n_variants, 6)`` counts per variant: ref, alt (allele 1) and other alleles; diploid
    calls of dosage 0, 1, 2 — from one fused pass over the calls (numpy or dask)."""
    from .kernels import fused_stats

    vs, _ = fused_stats(calls)
    ac = vs.allele_counts
    n = vs.n_variants
    ref = ac[:, 0] if ac.shape[1] > 0 else np.zeros(n, np.int64)
    alt = ac[:, 1] if ac.shape[1] > 1 else np.zeros(n, np.int64)
    other = ac[:, 2:].sum(axis=1)
    hom_ref, het, hom_alt = vs.diploid_counts()  # hemizygous calls have no dosage
    return np.stack([ref, alt, other, hom_ref, het, hom_alt], axis=1).astype(np.int64)


def _common_biallelic(summary: np.ndarray, min_maf: float) -> np.ndarray:
    ref, alt, other = summary[:, 0], summary[:, 1], summary[:, 2]
    an = ref + alt
    with np.errstate(divide="ignore", invalid="ignore"):
        maf = np.minimum(ref, alt) / an
    return (other == 0) & (an > 0) & (maf >= min_maf)


def _rows(x, lo: int, hi: int) -> np.ndarray:
    block = x[lo:hi]
    return np.asarray(block.compute() if _is_dask(block) else block)


def _check_fraction(name: str, value, lo: float, hi: float, *, hi_open: bool = False) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError) as e:
        raise InputError(f"{name} must be a number, got {value!r}") from e
    if not (lo <= value < hi if hi_open else lo <= value <= hi):
        bracket = ")" if hi_open else "]"
        raise InputError(f"{name} must be in [{lo}, {hi}{bracket}, got {value}")
    return value


def _check_int(name: str, value, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < lo:
        raise InputError(f"{name} must be an integer >= {lo}, got {value!r}")
    return int(value)


# -- linkage disequilibrium ------------------------------------------------------------------
def _corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rogers–Huff r between every row of ``a`` and every row of ``b`` (dosages, -1 missing).

    Each pair uses the samples called at both variants. Sums are integers held exactly in
    float64, so the only rounding is in the final division. Undefined r (a variant constant
    over the shared samples) is NaN.
    """
    ca, cb = a >= 0, b >= 0
    xa = np.where(ca, a, 0).astype(np.float64)
    xb = np.where(cb, b, 0).astype(np.float64)
    sxy = xa @ xb.T
    if ca.all() and cb.all():
        n = float(a.shape[1])
        sa, sb = xa.sum(axis=1)[:, None], xb.sum(axis=1)[None, :]
        va = n * (xa * xa).sum(axis=1)[:, None] - sa * sa
        vb = n * (xb * xb).sum(axis=1)[None, :] - sb * sb
        num = n * sxy - sa * sb
    else:
        fa, fb = ca.astype(np.float64), cb.astype(np.float64)
        n = fa @ fb.T
        sa, sb = xa @ fb.T, fa @ xb.T
        va = n * ((xa * xa) @ fb.T) - sa * sa
        vb = n * (fa @ (xb * xb).T) - sb * sb
        num = n * sxy - sa * sb
    den = va * vb
    with np.errstate(divide="ignore", invalid="ignore"):
        r = num / np.sqrt(den)
    return np.where(den > 0, r, np.nan)


def ld_r2(genotypes, *, condensed: bool = False) -> np.ndarray:
    """r² between every pair of variants (Rogers & Huff 2008), as a square matrix.

    Parameters
    ----------
    genotypes
        Genotypes (variants × samples × ploidy) or alternate-allele counts (variants ×
        samples, ``-1`` missing). Keep it to a window: the result has n_variants² entries.
    condensed
        Return the upper triangle as a vector in :func:`scipy.spatial.distance.squareform`
        order (what ``allel.rogers_huff_r(gn) ** 2`` returns) instead of the square matrix.

    Returns
    -------
    numpy.ndarray
        float64; NaN for a pair where either variant is constant over the samples called at
        both. Each pair uses only the samples called at both variants.

    References
    ----------
    Rogers & Huff (2009), Linkage disequilibrium between loci with unknown phase,
    Genetics 182:839–844.
    """
    gn = _dosage(_calls(genotypes, ndim=(2, 3)))
    if _is_dask(gn):
        gn = gn.compute()
    r = _corr(gn, gn)
    r2 = r * r
    if condensed:
        return r2[np.triu_indices(len(r2), k=1)]
    return r2


def ld_prune(
    genotypes,
    *,
    size: int = 100,
    step: int = 20,
    threshold: float = 0.1,
    min_maf: float = 0.05,
) -> np.ndarray:
    """Variants in approximate linkage equilibrium: a boolean mask over the input variants.

    Only common biallelic variants (minor allele frequency ≥ ``min_maf``) are candidates. In
    windows of ``size`` of them, advancing by ``step``, a variant is dropped when its r² with
    an earlier variant still kept exceeds ``threshold`` — the rule of PLINK's
    ``--indep-pairwise`` and of :func:`allel.locate_unlinked` (the same variants are kept,
    given the same candidates). Each window's r² comes from matrix products.

    Parameters
    ----------
    genotypes
        Genotypes (variants × samples × ploidy) of one contig, in position order, in memory or
        dask-backed (read block by block).
    size, step
        Window length and advance, in candidate variants.
    threshold
        Largest r² allowed between two kept variants of one window.
    min_maf
        Minor allele frequency a candidate needs.

    Returns
    -------
    numpy.ndarray of bool, one per input variant.
    """
    size = _check_int("size", size, 2)
    step = _check_int("step", step, 1)
    if step > size:
        raise InputError(f"step ({step}) must not exceed the window size ({size})")
    threshold = _check_fraction("threshold", threshold, 0.0, 1.0)
    min_maf = _check_fraction("min_maf", min_maf, 0.0, 0.5, hi_open=True)
    calls = _calls(genotypes)
    candidates = np.flatnonzero(_common_biallelic(_variant_summary(calls), min_maf))
    gn = _dosage(calls)[candidates]
    loc = _locate_unlinked(gn, size=size, step=step, threshold=threshold)
    mask = np.zeros(calls.shape[0], dtype=bool)
    mask[candidates[loc]] = True
    return mask


def _locate_unlinked(gn, *, size: int, step: int, threshold: float) -> np.ndarray:
    n = gn.shape[0]
    loc = np.ones(n, dtype=bool)
    overlap = size - step
    # r² of a whole block of windows from one set of large matrix products: many small
    # products cost more in BLAS start-up than in arithmetic.
    span = int(np.clip(40_000_000 // max(gn.shape[1], 1), 4 * size, 1024 + size))
    block_lo, block_hi, r2 = 0, 0, np.empty((0, 0))
    for start in range(0, max(n, 1), step):
        stop = min(start + size, n)
        if stop > block_hi:
            block_lo, block_hi = start, min(n, start + span)
            rows = _rows(gn, block_lo, block_hi)
            r2 = _corr(rows, rows) ** 2
        # A pair is decided the first time both of its variants share a window: later windows
        # only test their new variants (those past the overlap with the previous window).
        new_from = start if start == 0 else start + overlap
        idx = np.flatnonzero(loc[start:stop]) + start
        if len(idx) >= 2 and new_from < stop:
            w = r2[np.ix_(idx - block_lo, idx - block_lo)]
            for a, i in enumerate(idx):
                if not loc[i]:
                    continue
                later = (idx > i) & (idx >= new_from)
                drop = later & (w[a] > threshold)  # NaN compares False: undefined r² keeps
                loc[idx[drop]] = False
        if stop == n:
            break
    return loc


def ld_decay(
    genotypes,
    positions,
    *,
    max_distance: int = 100_000,
    n_bins: int = 20,
    min_maf: float = 0.05,
) -> pd.DataFrame:
    """Mean r² between pairs of common variants, by distance between them.

    Parameters
    ----------
    genotypes
        Genotypes (variants × samples × ploidy) of one contig.
    positions
        Position of each variant (sorted; one contig).
    max_distance
        Largest distance (bp) between the variants of a pair.
    n_bins
        Equal-width distance bins over ``(0, max_distance]``.
    min_maf
        Minor allele frequency both variants of a pair need.

    Returns
    -------
    pandas.DataFrame
        ``distance_start, distance_stop`` (bp; a bin holds ``start < d <= stop``),
        ``mean_r2`` (NaN for an empty bin) and ``pairs``.
    """
    max_distance = _check_int("max_distance", max_distance, 1)
    n_bins = _check_int("n_bins", n_bins, 1)
    min_maf = _check_fraction("min_maf", min_maf, 0.0, 0.5, hi_open=True)
    calls = _calls(genotypes)
    positions = np.asarray(positions, dtype=np.int64)
    if positions.shape != (calls.shape[0],):
        raise InputError(
            f"expected one position per variant ({calls.shape[0]}), got {positions.shape[0]}"
        )
    if np.any(np.diff(positions) < 0):
        raise InputError(
            "positions are not sorted: pass the genotypes and positions of one contig, e.g. "
            "cohort.genotypes(contig='chr1') with cohort.variants(contig='chr1').position"
        )
    keep = np.flatnonzero(_common_biallelic(_variant_summary(calls), min_maf))
    pos = positions[keep]
    gn = _dosage(calls)[keep]
    edges = np.linspace(0, max_distance, n_bins + 1)
    sums = np.zeros(n_bins)
    counts = np.zeros(n_bins, dtype=np.int64)
    block = 512
    for lo in range(0, len(pos), block):
        hi = min(lo + block, len(pos))
        reach = int(np.searchsorted(pos, pos[hi - 1] + max_distance, side="right"))
        a = _rows(gn, lo, hi)
        b = _rows(gn, lo, reach)
        r2 = _corr(a, b) ** 2
        dist = pos[lo:reach][None, :] - pos[lo:hi][:, None]
        j = np.arange(lo, reach)[None, :]
        i = np.arange(lo, hi)[:, None]
        ok = (j > i) & (dist > 0) & (dist <= max_distance) & ~np.isnan(r2)
        bins = np.clip(np.searchsorted(edges, dist[ok], side="left") - 1, 0, n_bins - 1)
        sums += np.bincount(bins, weights=r2[ok], minlength=n_bins)
        counts += np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return pd.DataFrame(
        {
            "distance_start": edges[:-1].astype(np.int64),
            "distance_stop": edges[1:].astype(np.int64),
            "mean_r2": mean,
            "pairs": counts,
        }
    )


# -- principal components --------------------------------------------------------------------
def ld_bands(genotypes, contigs, positions, bands: dict, *, min_maf: float = 0.05) -> dict:
    """Mean r² of common variant pairs (MAF >= ``min_maf``) whose distance falls in each band.

    ``genotypes`` (variants × samples × ploidy) are those of unrelated people, ``contigs`` and
    ``positions`` those of each variant, sorted within each contig; ``bands`` maps a name to a
    ``(low, high)`` distance in bp. Every pair up to the largest band's end is measured, per
    contig, by :func:`ld_decay` (Rogers–Huff r² in 1 kb bins),
    and the bins of each band are pooled. Returns ``{name: (mean r², pairs)}``.
    """
    top = max(high for _, high in bands.values())
    sums = dict.fromkeys(bands, 0.0)
    pairs = dict.fromkeys(bands, 0)
    contigs = np.asarray(contigs)
    for contig in pd.unique(contigs):
        rows = np.flatnonzero(contigs == contig)
        if len(rows) < 2:
            continue
        table = ld_decay(
            genotypes[rows], positions[rows], max_distance=top, n_bins=top // 1_000, min_maf=min_maf
        )
        table = table[table.pairs > 0]
        for name, (low, high) in bands.items():
            band = table[(table.distance_start >= low) & (table.distance_stop <= high)]
            sums[name] += float((band.mean_r2 * band.pairs).sum())
            pairs[name] += int(band.pairs.sum())
    return {
        name: (sums[name] / pairs[name] if pairs[name] else float("nan"), pairs[name])
        for name in bands
    }


def pca(
    genotypes,
    *,
    sample_ids=None,
    n_components: int = 4,
    min_maf: float = 0.05,
    max_variants: int = 20_000,
    seed: int = 0,
    method: str = "auto",
    n_iter: int = 4,
    n_oversamples: int = 10,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Principal components of common biallelic variants (Patterson scaling).

    Parameters
    ----------
    genotypes
        A scikit-allel genotype array (variants × samples × ploidy), in memory or dask-backed;
        missing calls (and a male's absent second X allele) count as missing and are imputed
        with the variant's mean dosage. Prune linked variants first with :func:`ld_prune`
        for a cleaner picture.
    sample_ids
        Labels for the rows of the result.
    n_components
        Components to keep.
    min_maf
        Keep variants whose minor allele frequency is at least this.
    max_variants
        Use at most this many variants, chosen evenly at random (seeded) from those kept.
    seed
        Seed for the choice of variants and for the randomised solver.
    method
        ``"exact"`` (full SVD through :func:`allel.pca`; in memory), ``"randomized"``
        (Halko et al. randomised range finder with ``n_iter`` power iterations; works chunk
        by chunk on dask arrays) or ``"auto"``: randomised for dask input or a matrix of more
        than 5 million entries (samples × variants used), else exact.
    n_iter, n_oversamples
        Power iterations and extra dimensions of the randomised solver.

    Returns
    -------
    coords : pandas.DataFrame
        One row per sample, columns ``PC1 …``.
    explained : numpy.ndarray
        Fraction of the total variance explained by each component.

    Notes
    -----
    On dask input the data are read twice from storage: once to count alleles, once to keep
    the int8 dosages of the chosen variants in (worker) memory — ``max_variants × n_samples``
    bytes, 1.2 GB for 20,000 variants × 60,000 people. The ``2 n_iter + 2`` passes of the
    solver then run over those blocks; each holds one block in float32 at a time.

    References
    ----------
    Patterson, Price & Reich (2006), Population structure and eigenanalysis, PLoS Genet 2:e190.
    Halko, Martinsson & Tropp (2011), Finding structure with randomness, SIAM Rev 53:217–288.
    """
    import allel

    if isinstance(n_components, bool) or not 1 <= int(n_components) <= 20:
        raise InputError(f"n_components must be between 1 and 20, got {n_components}")
    if not 0 <= min_maf < 0.5:
        raise InputError(f"min_maf must be in [0, 0.5), got {min_maf}")
    max_variants = _check_int("max_variants", max_variants, 2)
    n_iter = _check_int("n_iter", n_iter, 0)
    n_oversamples = _check_int("n_oversamples", n_oversamples, 0)
    if method not in ("auto", "exact", "randomized"):
        raise InputError(f"method must be 'auto', 'exact' or 'randomized', got {method!r}")
    calls = _calls(genotypes)
    lazy = _is_dask(calls)
    if sample_ids is not None and len(sample_ids) != calls.shape[1]:
        raise InputError(f"expected {calls.shape[1]} sample ids, got {len(sample_ids)}")
    rng = np.random.default_rng(seed)
    summary = _variant_summary(calls)
    keep = np.flatnonzero(_common_biallelic(summary, min_maf))
    if len(keep) < n_components + 1:
        raise InputError(
            f"only {len(keep)} variants have minor allele frequency >= {min_maf}; lower min_maf "
            "or use more variants"
        )
    if len(keep) > max_variants:
        keep = np.sort(rng.choice(keep, max_variants, replace=False))
    if method == "auto":
        big = calls.shape[1] * len(keep) > _EXACT_MAX_ENTRIES
        method = "randomized" if lazy or big else "exact"
    columns = [f"PC{i + 1}" for i in range(n_components)]
    index = pd.Index(sample_ids, name="sample_id") if sample_ids is not None else None

    if method == "exact":
        if lazy:
            calls = calls[keep].compute()
            keep = np.arange(len(keep))
        n_alt = allel.GenotypeArray(calls[keep]).to_n_alt(fill=-1).astype(float)
        # Impute missing calls with the variant's mean dosage, the usual choice for PCA.
        missing = n_alt < 0
        if missing.any():
            means = np.where(~missing, n_alt, 0).sum(axis=1) / np.maximum((~missing).sum(axis=1), 1)
            n_alt[missing] = np.broadcast_to(means[:, None], n_alt.shape)[missing]
        coords, model = allel.pca(n_alt, n_components=n_components, scaler="patterson")
        return pd.DataFrame(coords, columns=columns, index=index), model.explained_variance_ratio_

    # Randomised: standardise on the fly from int8 dosages (never a dense float copy).
    k0, k1, k2 = (summary[keep, i].astype(np.float64) for i in (3, 4, 5))
    called = k0 + k1 + k2
    mean = (k1 + 2 * k2) / called
    p = mean / 2
    scale = np.sqrt(p * (1 - p))
    # Total variance of the standardised matrix: the imputed (missing) entries add nothing.
    total = float(np.sum((k1 + 4 * k2 - called * mean**2) / scale**2)) / calls.shape[1]
    dosage = _dosage(calls[keep])
    if lazy:
        dosage = dosage.persist()
    coords, explained = _randomized_pca(
        dosage,
        mean=mean,
        inv_scale=1 / scale,
        total_variance=total,
        n_components=n_components,
        n_iter=n_iter,
        n_oversamples=n_oversamples,
        rng=rng,
    )
    return pd.DataFrame(coords, columns=columns, index=index), explained


def _standardise_block(d, mean, inv_scale):
    x = (d.astype(np.float32) - mean.astype(np.float32)) * inv_scale.astype(np.float32)
    x[d < 0] = 0.0
    return x


def _randomized_pca(
    dosage,
    *,
    mean: np.ndarray,
    inv_scale: np.ndarray,
    total_variance: float,
    n_components: int,
    n_iter: int,
    n_oversamples: int,
    rng: np.random.Generator,
):
    """Halko et al. (2011) algorithm 4.4 on X = standardised dosage (variants × samples).

    Only ``X @ B`` and ``X.T @ A`` with thin A, B are needed; on dask they are blockwise
    products summed over chunks, so no step holds more than one block of X in float.
    """
    m, n = dosage.shape
    rank = min(n_components + n_oversamples, m, n)

    if _is_dask(dosage):
        import dask.array as da

        rows = dosage.chunks[0]
        mu = da.from_array(mean[:, None], chunks=(rows, 1))
        inv = da.from_array(inv_scale[:, None], chunks=(rows, 1))
        x = da.map_blocks(_standardise_block, dosage, mu, inv, dtype=np.float32)

        def xt_dot(a):  # X.T @ a, a: m × r
            return np.asarray(
                (x.T @ da.from_array(a.astype(np.float32), chunks=(rows, -1))).compute()
            )

        def x_dot(b):  # X @ b, b: n × r
            cols = x.chunks[1]
            return np.asarray(
                (x @ da.from_array(b.astype(np.float32), chunks=(cols, -1))).compute()
            )
    else:
        x = _standardise_block(dosage, mean[:, None], inv_scale[:, None])

        def xt_dot(a):
            return x.T @ a.astype(np.float32)

        def x_dot(b):
            return x @ b.astype(np.float32)

    omega = rng.standard_normal((m, rank))
    q, _ = np.linalg.qr(xt_dot(omega).astype(np.float64))
    for _ in range(n_iter):
        z, _ = np.linalg.qr(x_dot(q).astype(np.float64))
        q, _ = np.linalg.qr(xt_dot(z).astype(np.float64))
    b = x_dot(q).astype(np.float64).T  # rank × m  (= Q.T @ X.T)
    ub, s, _ = np.linalg.svd(b, full_matrices=False)
    u = q @ ub
    # Deterministic signs: the largest entry of each component is positive (as svd_flip).
    signs = np.sign(u[np.abs(u).argmax(axis=0), np.arange(u.shape[1])])
    signs[signs == 0] = 1
    u *= signs
    coords = u[:, :n_components] * s[:n_components]
    explained = (s[:n_components] ** 2 / n) / total_variance
    return coords, explained


# -- differentiation and frequency spectra -----------------------------------------------------
def hudson_fst(ac1, ac2) -> float:
    """Hudson's Fst between two populations from allele counts, as a ratio of averages.

    Parameters
    ----------
    ac1, ac2
        Allele counts (variants × alleles) of each population, e.g.
        ``GenotypeArray.count_alleles(subpop=…)``.

    Returns
    -------
    float
        ``sum(numerator) / sum(denominator)`` over the variants where both populations have
        at least two allele copies — ``allel.hudson_fst`` summed the same way.

    References
    ----------
    Hudson, Slatkin & Maddison (1992), Genetics 132:583–589; Bhatia et al. (2013), Estimating
    and interpreting FST: the impact of rare variants, Genome Res 23:1514–1521 (why a ratio
    of averages rather than an average of ratios).
    """
    num, den = _hudson_parts(np.asarray(ac1), np.asarray(ac2))
    ok = np.isfinite(num) & np.isfinite(den)
    if not ok.any() or den[ok].sum() == 0:
        return float("nan")
    return float(num[ok].sum() / den[ok].sum())


def _hudson_parts(ac1: np.ndarray, ac2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if ac1.shape != ac2.shape or ac1.ndim != 2:
        raise InputError(
            f"expected two allele-count arrays of the same shape (variants × alleles), got "
            f"{ac1.shape} and {ac2.shape}"
        )
    ac1, ac2 = ac1.astype(np.float64), ac2.astype(np.float64)
    an1, an2 = ac1.sum(axis=1), ac2.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        pairs1, pairs2 = an1 * (an1 - 1) / 2, an2 * (an2 - 1) / 2
        within1 = (pairs1 - (ac1 * (ac1 - 1) / 2).sum(axis=1)) / pairs1
        within2 = (pairs2 - (ac2 * (ac2 - 1) / 2).sum(axis=1)) / pairs2
        between_pairs = an1 * an2
        between = (between_pairs - (ac1 * ac2).sum(axis=1)) / between_pairs
    within = (within1 + within2) / 2
    return between - within, between


def _labels(populations, n_samples: int) -> pd.Series:
    labels = pd.Series(list(populations) if populations is not None else ["all"] * n_samples)
    if len(labels) != n_samples:
        raise InputError(
            f"expected one population label per sample ({n_samples}), got {len(labels)}"
        )
    if labels.isna().any():
        raise InputError("population labels contain missing values; label every sample")
    return labels.astype(str)


def _count_by_population(calls, labels: pd.Series, max_allele: int) -> dict[str, np.ndarray]:
    """Allele counts (variants × alleles ``0 … max_allele``) per population, in one pass over
    the calls (:func:`~workbench.analysis.kernels.fused_stats`, block by block)."""
    from .kernels import fused_stats

    vs, _ = fused_stats(calls, populations=labels.to_numpy())
    counts = vs.pop_allele_counts
    k = max_allele + 1
    if counts.shape[2] < k:
        counts = np.pad(counts, ((0, 0), (0, 0), (0, k - counts.shape[2])))
    return {str(name): counts[:, j, :k] for j, name in enumerate(vs.populations)}


def _max_allele(calls) -> int:
    top = calls.max()
    return max(int(top.compute() if _is_dask(top) else top), 1)


def pairwise_fst(genotypes, *, populations) -> pd.DataFrame:
    """Hudson's Fst (ratio of averages) between every pair of populations.

    Parameters
    ----------
    genotypes
        Genotypes (variants × samples × ploidy), in memory or dask-backed.
    populations
        One label per sample (e.g. ``cohort.samples().population``).

    Returns
    -------
    pandas.DataFrame
        Symmetric, populations on both axes (sorted), zero on the diagonal.
    """
    calls = _calls(genotypes)
    labels = _labels(populations, calls.shape[1])
    if labels.nunique() < 2:
        raise InputError(f"need at least two populations, got {sorted(labels.unique())}")
    counts = _count_by_population(calls, labels, _max_allele(calls))
    names = list(counts)
    table = pd.DataFrame(0.0, index=pd.Index(names, name="population"), columns=names)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            table.loc[a, b] = table.loc[b, a] = hudson_fst(counts[a], counts[b])
    return table


def sfs(genotypes, *, populations=None, folded: bool = False) -> pd.DataFrame:
    """Site frequency spectrum of biallelic variants, per population.

    The alternate allele is taken as the derived one (in the synthetic cohorts the reference
    allele is the ancestral state). Each population's spectrum uses the sites called in all
    its members (allele number at its maximum), so every site has the same sample size.

    Parameters
    ----------
    genotypes
        Genotypes (variants × samples × ploidy), in memory or dask-backed.
    populations
        One label per sample; ``None`` treats the cohort as one population ``"all"``.
    folded
        Count minor alleles (0 … n/2) instead of derived alleles (0 … n).

    Returns
    -------
    pandas.DataFrame
        ``population, n_chromosomes, allele_count, sites`` — one row per population and count
        (zero counts included). ``allele_count = 0`` counts sites monomorphic in that
        population.
    """
    calls = _calls(genotypes)
    labels = _labels(populations, calls.shape[1])
    counts = _count_by_population(calls, labels, _max_allele(calls))
    biallelic = np.ones(calls.shape[0], dtype=bool)
    for ac in counts.values():
        biallelic &= ac[:, 2:].sum(axis=1) == 0
    frames = []
    for name, ac in counts.items():
        an = ac[:, :2].sum(axis=1)
        n = int(an[biallelic].max()) if biallelic.any() else 0
        sites = biallelic & (an == n)
        derived = ac[sites, 1]
        if folded:
            derived = np.minimum(derived, n - derived)
            size = n // 2 + 1
        else:
            size = n + 1
        frames.append(
            pd.DataFrame(
                {
                    "population": name,
                    "n_chromosomes": n,
                    "allele_count": np.arange(size),
                    "sites": np.bincount(derived, minlength=size)[:size],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
