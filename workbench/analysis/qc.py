"""Variant and sample QC as tidy pandas tables, from a :class:`~workbench.Cohort` or arrays.

Both functions make one :func:`~workbench.analysis.kernels.fused_stats` pass per contig (numpy
or dask, whichever ``cohort.genotypes()`` returns) and derive everything else from the counts.
Problems in the input that still allow an honest answer do not stop the analysis: they are
listed in ``table.attrs["notes"]`` (and flagged per row where that applies):

* people in the registry but not in the genotypes (left out) and the reverse (kept, with no
  sex or population);
* a population with fewer than 2 people (its frequencies and HWE p-values are NaN);
* non-biallelic sites (``flag == "multiallelic"``; HWE and inbreeding skip nothing else but
  HWE is NaN there);
* no X contig (the sex check is skipped).

Thresholds are keyword arguments with the defaults stated in each docstring.
"""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd

from ..errors import InputError
from .kernels import SampleStats, VariantStats, fused_stats, titv_class

__all__ = [
    "hwe_exact",
    "robust_z",
    "sample_qc",
    "variant_qc",
]

#: PLINK's --check-sex thresholds on the X inbreeding coefficient.
F_FEMALE_MAX, F_MALE_MIN = 0.2, 0.8
_X_NAMES = ("chrX", "X", "23")
# Probabilities within this relative distance of the observed one count as "as extreme"
# (rounding differs between algebraically equal products; PLINK 2 uses a similar epsilon).
_HWE_EPS = 1e-7


# ----------------------------------------------------------------------------------------------
# Hardy-Weinberg exact test
# ----------------------------------------------------------------------------------------------
@numba.njit(nogil=True, cache=True)
def _hwe_one(n_het, n_hom1, n_hom2, probs):
    n_homr = min(n_hom1, n_hom2)
    n_homc = max(n_hom1, n_hom2)
    n = n_het + n_homr + n_homc
    if n == 0:
        return np.nan
    rare = 2 * n_homr + n_het
    probs[: rare + 1] = 0.0
    mid = rare * (2 * n - rare) // (2 * n)
    if (mid % 2) != (rare % 2):
        mid += 1
    probs[mid] = 1.0
    total = 1.0
    hets, homr, homc = mid, (rare - mid) // 2, n - mid - (rare - mid) // 2
    while hets > 1:
        probs[hets - 2] = probs[hets] * hets * (hets - 1) / (4.0 * (homr + 1) * (homc + 1))
        total += probs[hets - 2]
        hets -= 2
        homr += 1
        homc += 1
    hets, homr, homc = mid, (rare - mid) // 2, n - mid - (rare - mid) // 2
    while hets <= rare - 2:
        probs[hets + 2] = probs[hets] * 4.0 * homr * homc / ((hets + 2.0) * (hets + 1.0))
        total += probs[hets + 2]
        hets += 2
        homr -= 1
        homc -= 1
    cutoff = probs[n_het] * (1.0 + _HWE_EPS)
    p = 0.0
    for i in range(rare + 1):
        if probs[i] <= cutoff:
            p += probs[i]
    return min(1.0, p / total)


@numba.njit(nogil=True, cache=True)
def _hwe_many(het, hom1, hom2, out):
    top = 0
    for i in range(het.shape[0]):
        top = max(top, 2 * min(hom1[i], hom2[i]) + het[i])
    probs = np.zeros(top + 1, np.float64)
    for i in range(het.shape[0]):
        out[i] = _hwe_one(het[i], hom1[i], hom2[i], probs)


def hwe_exact(n_het, n_hom_ref, n_hom_alt) -> np.ndarray:
    """Exact test of Hardy-Weinberg equilibrium for biallelic genotype counts (vectorised).

    The p-value sums the probabilities of all heterozygote counts no more likely than the
    observed one, given the allele counts; NaN where no genotype was called.

    References
    ----------
    Wigginton, Cutler & Abecasis (2005), A note on exact tests of Hardy-Weinberg equilibrium,
    Am J Hum Genet 76:887-893.
    """
    arrays = [np.atleast_1d(np.asarray(a)) for a in (n_het, n_hom_ref, n_hom_alt)]
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    het, h1, h2 = (np.broadcast_to(a, shape).ravel().astype(np.int64) for a in arrays)
    if ((het < 0) | (h1 < 0) | (h2 < 0)).any():
        raise InputError("genotype counts for hwe_exact must be non-negative")
    out = np.empty(het.shape, np.float64)
    _hwe_many(het, h1, h2, out)
    return out.reshape(shape)


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def robust_z(values, groups=None, *, min_group: int = 10) -> np.ndarray:
    """Robust z-scores ``(x - median) / (1.4826 · MAD)``, within ``groups`` when given.

    Where the MAD is 0 the mean absolute deviation (× 1.2533) stands in; where that is 0 too,
    every score of the group is 0. Groups smaller than ``min_group`` are scored against the
    whole set. NaN values stay NaN and are ignored in the medians.
    """
    x = np.asarray(values, dtype=float)
    out = np.full(x.shape, np.nan)
    labels = np.zeros(len(x), dtype=object) if groups is None else np.asarray(groups, object)
    all_idx = np.arange(len(x))

    def score(idx, ref):
        ref = ref[np.isfinite(ref)]
        if len(ref) == 0:
            return
        med = np.median(ref)
        scale = 1.4826 * np.median(np.abs(ref - med))
        if scale == 0:
            scale = 1.2533 * np.mean(np.abs(ref - med))
        if scale == 0:
            out[idx] = np.where(np.isfinite(x[idx]), 0.0, np.nan)
        else:
            out[idx] = (x[idx] - med) / scale

    for label in pd.unique(labels):
        idx = all_idx[labels == label]
        score(idx, x[idx] if len(idx) >= min_group else x)
    return out


def _x_contig(names) -> str | None:
    for n in names:
        if n in _X_NAMES:
            return n
    return None


class _Inputs:
    """What both QC functions need, from a Cohort or from arrays, plus notes on mismatches."""

    def __init__(self, data, *, variants, sample_ids, sex, populations):
        self.notes: list[str] = []
        if hasattr(data, "genotypes") and hasattr(data, "variants"):
            self._from_cohort(data, populations)
        else:
            self._from_arrays(data, variants, sample_ids, sex, populations)

    def _from_cohort(self, cohort, populations):
        # A Cohort, or a session's GenotypeView (the people a purpose and consent allow).
        self.sample_ids = list(cohort.sample_ids)
        registry = cohort.samples()[["person_id", "sex", "population"]].set_index("person_id")
        absent = sorted(set(registry.index) - set(self.sample_ids))
        unknown = [s for s in self.sample_ids if s not in registry.index]
        if absent:
            self.notes.append(
                f"{len(absent)} registry people have no genotypes and are left out "
                f"(e.g. {', '.join(absent[:3])})"
            )
        if unknown:
            self.notes.append(
                f"{len(unknown)} genotyped samples are not in the registry: no sex or "
                f"population for them (e.g. {', '.join(unknown[:3])})"
            )
        reg = registry.reindex(self.sample_ids)
        self.sex = reg["sex"].to_numpy(dtype=object)
        if populations is False:
            self.populations = None
        elif populations is None:
            self.populations = reg["population"].fillna("unknown").to_numpy(dtype=object)
        else:
            self.populations = np.asarray(populations, dtype=object)
        self.variants = cohort.variants()
        self._cohort = cohort
        self.contigs = list(pd.unique(self.variants["contig"]))

    def _from_arrays(self, gt, variants, sample_ids, sex, populations):
        self._gt = gt
        n_var, n_samp = int(gt.shape[0]), int(gt.shape[1])
        self.sample_ids = (
            [f"S{i}" for i in range(n_samp)] if sample_ids is None else list(sample_ids)
        )
        if len(self.sample_ids) != n_samp:
            raise InputError(
                f"sample_ids has {len(self.sample_ids)} entries for {n_samp} samples; give one "
                "id per genotype column"
            )
        if variants is None:
            variants = pd.DataFrame({"contig": ["unknown"] * n_var})
        variants = pd.DataFrame(variants).reset_index(drop=True)
        if len(variants) != n_var or "contig" not in variants:
            raise InputError(
                f"variants must be a table with a 'contig' column and one row per variant "
                f"({n_var}); got {len(variants)} rows and columns {list(variants.columns)}"
            )
        self.variants = variants
        self.sex = None if sex is None else np.asarray(sex, dtype=object)
        if self.sex is not None and len(self.sex) != n_samp:
            raise InputError(f"sex has {len(self.sex)} entries for {n_samp} samples")
        self.populations = None if populations is None else np.asarray(populations, object)
        self._cohort = None
        self.contigs = list(pd.unique(self.variants["contig"]))

    def genotypes(self, contig):
        if self._cohort is not None:
            return self._cohort.genotypes(contig=contig)
        idx = np.flatnonzero(self.variants["contig"].to_numpy() == contig)
        lo, hi = int(idx[0]), int(idx[-1]) + 1
        if hi - lo != len(idx):
            raise InputError(
                f"variants of contig {contig!r} are not contiguous; sort the array by contig"
            )
        return self._gt[lo:hi]

    def rows(self, contig):
        return np.flatnonzero(self.variants["contig"].to_numpy() == contig)

    def variant_class(self, rows):
        v = self.variants
        if "ref" in v and "alt" in v:
            return titv_class(v["ref"].to_numpy()[rows], v["alt"].to_numpy()[rows])
        return None


def _concat_variant_stats(parts: list[VariantStats]) -> dict:
    keys = [
        "allele_counts",
        "allele_number",
        "n_called",
        "n_missing",
        "n_het",
        "n_hom_ref",
        "n_hom_alt",
        "n_haploid",
        "n_haploid_ref",
        "max_allele",
    ]
    out = {k: np.concatenate([getattr(p, k) for p in parts]) for k in keys if k != "allele_counts"}
    width = max(p.allele_counts.shape[1] for p in parts)
    out["allele_counts"] = np.concatenate(
        [np.pad(p.allele_counts, ((0, 0), (0, width - p.allele_counts.shape[1]))) for p in parts]
    )
    pops = parts[0].populations
    if pops is not None:
        out["populations"] = pops
        out["pop_n_samples"] = parts[0].pop_n_samples
        width_p = max(p.pop_allele_counts.shape[2] for p in parts)
        out["pop_allele_counts"] = np.concatenate(
            [
                np.pad(
                    p.pop_allele_counts,
                    ((0, 0), (0, 0), (0, width_p - p.pop_allele_counts.shape[2])),
                )
                for p in parts
            ]
        )
        for k in ("n_called", "n_het", "n_hom_ref", "n_hom_alt", "n_haploid", "n_haploid_ref"):
            out[f"pop_{k}"] = np.concatenate([getattr(p, f"pop_{k}") for p in parts])
    return out


def _check_threshold(name, value, lo, hi):
    if not isinstance(value, int | float) or not lo <= value <= hi:
        raise InputError(f"{name} must be a number in [{lo}, {hi}], got {value!r}")


# ----------------------------------------------------------------------------------------------
# variant QC
# ----------------------------------------------------------------------------------------------
def variant_qc(
    data,
    *,
    populations=None,
    variants: pd.DataFrame | None = None,
    min_call_rate: float = 0.95,
    hwe_threshold: float = 1e-6,
) -> pd.DataFrame:
    """One row per variant: call rate, allele counts and frequencies, HWE p per population.

    Parameters
    ----------
    data
        A :class:`~workbench.Cohort`, a session's genotype view
        (:meth:`~workbench.access.session.Session.genotype_view`: only the people its purpose
        and their consent allow), or a genotype array (variants × samples × 2).
    populations
        For a cohort: ``None`` uses the registry's population of each person, ``False`` none,
        or one label per sample. For an array: one label per sample, or ``None``.
    variants
        For an array: a table with a ``contig`` column (and ``position``, ``ref``, ``alt`` if
        you have them), one row per variant. Ignored for a cohort.
    min_call_rate
        ``fail_call_rate`` marks variants called in fewer than this fraction of people.
    hwe_threshold
        ``fail_hwe`` marks biallelic variants whose HWE p-value (in any population with at
        least 2 people, or overall without populations) is below this.

    Returns
    -------
    pandas.DataFrame
        Columns ``contig, position, ref, alt`` (as available), ``n_called, n_missing,
        call_rate, missing_rate, an, ac_0 … ac_k, af_0 … af_k, af_alt, n_het, n_hom_ref,
        n_hom_alt, hwe_p`` and per population ``an_<pop>, af_alt_<pop>, call_rate_<pop>,
        hwe_p_<pop>``; ``flag`` (``"multiallelic"``, ``"all_missing"`` or ``""``),
        ``fail_call_rate``, ``fail_hwe``. ``attrs["notes"]`` lists input problems.

    Notes
    -----
    HWE uses diploid calls only: on chrX that is the women (men's hemizygous calls are left
    out). The overall ``hwe_p`` pools populations, so drift between them shows as a deficit of
    heterozygotes (the Wahlund effect); judge ``fail_hwe`` per population.
    """
    _check_threshold("min_call_rate", min_call_rate, 0.0, 1.0)
    _check_threshold("hwe_threshold", hwe_threshold, 0.0, 1.0)
    inp = _Inputs(data, variants=variants, sample_ids=None, sex=None, populations=populations)
    parts = []
    for contig in inp.contigs:
        vs, _ = fused_stats(inp.genotypes(contig), populations=inp.populations)
        parts.append(vs)
    n_samp = len(inp.sample_ids)
    cols = {
        c: inp.variants[c].to_numpy()
        for c in ("contig", "position", "ref", "alt")
        if c in inp.variants
    }
    if not parts:
        table = pd.DataFrame(cols)
        table.attrs["notes"] = [*inp.notes, "no variants"]
        return table
    st = _concat_variant_stats(parts)
    ac, an = st["allele_counts"], st["allele_number"]
    biallelic = st["max_allele"] <= 1
    with np.errstate(divide="ignore", invalid="ignore"):
        cols["n_called"] = st["n_called"]
        cols["n_missing"] = st["n_missing"]
        cols["call_rate"] = st["n_called"] / n_samp if n_samp else np.full(len(an), np.nan)
        cols["missing_rate"] = 1 - cols["call_rate"]
        cols["an"] = an
        for k in range(ac.shape[1]):
            cols[f"ac_{k}"] = ac[:, k]
        for k in range(ac.shape[1]):
            cols[f"af_{k}"] = np.where(an > 0, ac[:, k] / an, np.nan)
        ac_alt = an - (ac[:, 0] if ac.shape[1] else 0)
        cols["af_alt"] = np.where(an > 0, ac_alt / an, np.nan)
        cols["n_het"] = st["n_het"]
        cols["n_hom_ref"] = st["n_hom_ref"]
        cols["n_hom_alt"] = st["n_hom_alt"]
        hap, hapref = st["n_haploid"], st["n_haploid_ref"]
        hwe = hwe_exact(st["n_het"], st["n_hom_ref"] - hapref, st["n_hom_alt"] - (hap - hapref))
        cols["hwe_p"] = np.where(biallelic, hwe, np.nan)
        fail_hwe = biallelic & (cols["hwe_p"] < hwe_threshold)
        if "populations" in st:
            pop_fail = np.zeros(len(an), bool)
            for i, pop in enumerate(st["populations"]):
                size = int(st["pop_n_samples"][i])
                pan = st["pop_allele_counts"][:, i].sum(axis=1)
                palt = pan - (st["pop_allele_counts"][:, i, 0] if ac.shape[1] else 0)
                if size < 2:
                    inp.notes.append(
                        f"population {pop!r} has {size} person: its frequencies and HWE "
                        "p-values are NaN"
                    )
                    nan = np.full(len(an), np.nan)
                    cols[f"an_{pop}"] = pan
                    cols[f"af_alt_{pop}"] = nan
                    cols[f"call_rate_{pop}"] = st["pop_n_called"][:, i] / max(size, 1)
                    cols[f"hwe_p_{pop}"] = nan
                    continue
                phap, phapref = st["pop_n_haploid"][:, i], st["pop_n_haploid_ref"][:, i]
                p_hwe = hwe_exact(
                    st["pop_n_het"][:, i],
                    st["pop_n_hom_ref"][:, i] - phapref,
                    st["pop_n_hom_alt"][:, i] - (phap - phapref),
                )
                cols[f"an_{pop}"] = pan
                cols[f"af_alt_{pop}"] = np.where(pan > 0, palt / pan, np.nan)
                cols[f"call_rate_{pop}"] = st["pop_n_called"][:, i] / size
                cols[f"hwe_p_{pop}"] = np.where(biallelic, p_hwe, np.nan)
                pop_fail |= biallelic & (cols[f"hwe_p_{pop}"] < hwe_threshold)
            fail_hwe = pop_fail
    flag = np.full(len(an), "", dtype=object)
    flag[~biallelic] = "multiallelic"
    flag[st["n_called"] == 0] = "all_missing"
    n_multi = int((~biallelic).sum())
    if n_multi:
        inp.notes.append(
            f"{n_multi} non-biallelic sites (flag 'multiallelic'): counted, but HWE p is NaN"
        )
    cols["flag"] = flag
    cols["fail_call_rate"] = cols["call_rate"] < min_call_rate
    cols["fail_hwe"] = fail_hwe
    table = pd.DataFrame(cols)
    table.index.name = "variant_index"
    table.attrs["notes"] = inp.notes
    return table


# ----------------------------------------------------------------------------------------------
# sample QC
# ----------------------------------------------------------------------------------------------
@numba.njit(nogil=True, cache=True)
def _called_weight_sum(g, weights, out):
    for v in range(g.shape[0]):
        w = weights[v]
        for j in range(g.shape[1]):
            a, b = g[v, j, 0], g[v, j, 1]
            if a >= 0 and (b >= 0 or b == -2):
                out[j] += w


def _expected_hom(gt, vs: VariantStats, ss: SampleStats) -> np.ndarray:
    """Per sample: Σ over its called sites of the expected homozygosity Σ_a p_a²."""
    an = vs.allele_number.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = vs.allele_counts / an[:, None]
    e = np.where(an > 0, (p**2).sum(axis=1), 1.0) if p.shape[1] else np.ones(len(an))
    if not ss.n_missing.any():  # every sample called everywhere: no second pass needed
        return np.full(len(ss.n_called), e.sum())
    out = np.zeros(len(ss.n_called))
    from .kernels import _is_dask, _unwrap

    g = _unwrap(gt)
    if _is_dask(g):
        starts = np.cumsum((0,) + g.chunks[0])
        for i in range(len(starts) - 1):
            block = np.asarray(g[starts[i] : starts[i + 1]])
            _called_weight_sum(block, e[starts[i] : starts[i + 1]], out)
    else:
        _called_weight_sum(np.ascontiguousarray(g), e, out)
    return out


def _inbreeding(gt, vs, ss):
    """PLINK-style F = (O_hom - E_hom) / (N - E_hom) over called sites (monomorphic sites
    add 1 to O, E and N alike, so they cancel)."""
    e_hom = _expected_hom(gt, vs, ss)
    o_hom = ss.n_called - ss.n_het
    with np.errstate(divide="ignore", invalid="ignore"):
        f = (o_hom - e_hom) / (ss.n_called - e_hom)
    return np.where(ss.n_called - e_hom > 1e-9, f, np.nan)


def _normal_sex(values):
    out = np.full(len(values), "unknown", dtype=object)
    for i, v in enumerate(values):
        s = str(v).strip().lower()
        if s in ("male", "m", "1"):
            out[i] = "male"
        elif s in ("female", "f", "2"):
            out[i] = "female"
    return out


def sample_qc(
    data,
    *,
    variants: pd.DataFrame | None = None,
    sample_ids=None,
    sex=None,
    populations=None,
    min_call_rate: float = 0.95,
    outlier_z: float = 4.0,
) -> pd.DataFrame:
    """One row per genotyped sample: call rate, heterozygosity, F, Ti/Tv, sex check, outliers.

    Parameters
    ----------
    data
        A :class:`~workbench.Cohort` or a session's genotype view (sex and population from
        the registry), or a genotype array.
    variants
        For an array: one row per variant with ``contig`` (``chrX``/``X`` marks the X) and, for
        Ti/Tv, ``ref`` and ``alt``.
    sample_ids, sex, populations
        For an array: one entry per sample (sex ``"male"``/``"female"``); ignored for a cohort
        (``populations=False`` turns per-population outlier scoring off for either).
    min_call_rate
        Samples called at fewer than this fraction of autosomal sites are outliers.
    outlier_z
        Samples whose robust z-score (median/MAD within their population, see
        :func:`robust_z`) of heterozygosity, inbreeding F, Ti/Tv or het/hom-alt ratio exceeds
        this in absolute value are outliers.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``sample_id``: ``sex, population, n_variants, n_called, call_rate, n_het,
        n_hom_alt, heterozygosity, het_hom_alt_ratio, inbreeding_f, n_transitions,
        n_transversions, ti_tv`` (autosomes); ``x_n_called, x_haploid_fraction, x_f,
        sex_by_ploidy, sex_by_f, sex_check`` (X); ``z_<metric>``, ``outlier`` and
        ``outlier_reasons``. ``attrs["notes"]`` lists input problems.

    Notes
    -----
    The sex check follows PLINK's ``--check-sex``: the X inbreeding coefficient F is ≥ 0.8 in
    men (one X: every call homozygous, or hemizygous when coded haploid) and ≤ 0.2 in women;
    in between is ``"ambiguous"``. It works whether men's X calls are coded haploid (as in the
    synthetic cohorts) or as homozygous diploid calls. ``sex_by_ploidy`` reads the coding
    directly (a majority of hemizygous X calls → male) and is empty when nobody has any.
    ``sex_check`` compares ``sex_by_f`` with the registry: ``"ok"``, ``"mismatch"``,
    ``"ambiguous"`` or ``"unknown"`` (no registry sex).

    References
    ----------
    Purcell et al. (2007), PLINK: a tool set for whole-genome association and population-based
    linkage analyses, Am J Hum Genet 81:559-575 (``--het``, ``--check-sex``).
    """
    _check_threshold("min_call_rate", min_call_rate, 0.0, 1.0)
    _check_threshold("outlier_z", outlier_z, 0.0, 1e6)
    inp = _Inputs(data, variants=variants, sample_ids=sample_ids, sex=sex, populations=populations)
    n_samp = len(inp.sample_ids)
    x_name = _x_contig(inp.contigs)
    autosomes = [c for c in inp.contigs if c != x_name and c not in ("chrY", "Y", "chrM", "MT")]
    zeros = np.zeros(n_samp, np.int64)
    tot = {k: zeros.copy() for k in ("n_called", "n_het", "n_hom_alt", "ti", "tv", "n_var")}
    o_minus_e = np.zeros(n_samp)
    n_minus_e = np.zeros(n_samp)
    for contig in autosomes:
        rows = inp.rows(contig)
        gt = inp.genotypes(contig)
        vs, ss = fused_stats(gt, variant_class=inp.variant_class(rows))
        tot["n_called"] += ss.n_called
        tot["n_het"] += ss.n_het
        tot["n_hom_alt"] += ss.n_hom_alt
        tot["ti"] += ss.n_transitions
        tot["tv"] += ss.n_transversions
        tot["n_var"] += ss.n_variants
        e_hom = _expected_hom(gt, vs, ss)
        o_minus_e += (ss.n_called - ss.n_het) - e_hom
        n_minus_e += ss.n_called - e_hom
    with np.errstate(divide="ignore", invalid="ignore"):
        cols = {
            "sex": inp.sex if inp.sex is not None else np.full(n_samp, None, object),
            "population": inp.populations
            if inp.populations is not None
            else np.full(n_samp, None, object),
            "n_variants": tot["n_var"],
            "n_called": tot["n_called"],
            "call_rate": np.where(tot["n_var"] > 0, tot["n_called"] / tot["n_var"], np.nan),
            "n_het": tot["n_het"],
            "n_hom_alt": tot["n_hom_alt"],
            "heterozygosity": np.where(tot["n_called"] > 0, tot["n_het"] / tot["n_called"], np.nan),
            "het_hom_alt_ratio": np.where(
                tot["n_hom_alt"] > 0, tot["n_het"] / tot["n_hom_alt"], np.nan
            ),
            "inbreeding_f": np.where(n_minus_e > 1e-9, o_minus_e / n_minus_e, np.nan),
            "n_transitions": tot["ti"],
            "n_transversions": tot["tv"],
            "ti_tv": np.where(tot["tv"] > 0, tot["ti"] / tot["tv"], np.nan),
        }
    if not autosomes:
        inp.notes.append("no autosomal variants: call rate, heterozygosity and F are NaN")
    if inp.variant_class(np.arange(0)) is None:
        inp.notes.append("no ref/alt alleles given: Ti/Tv is NaN")
        cols["ti_tv"] = np.full(n_samp, np.nan)
    # -- sex check on X --
    registry_sex = _normal_sex(cols["sex"])
    if x_name is None:
        inp.notes.append("no X contig (chrX or X): the sex check is skipped")
        cols.update(
            x_n_called=zeros,
            x_haploid_fraction=np.full(n_samp, np.nan),
            x_f=np.full(n_samp, np.nan),
            sex_by_ploidy=np.full(n_samp, "", object),
            sex_by_f=np.full(n_samp, "", object),
            sex_check=np.full(n_samp, "skipped", object),
        )
    else:
        gx = inp.genotypes(x_name)
        vx, sx = fused_stats(gx)
        x_f = _inbreeding(gx, vx, sx)
        with np.errstate(divide="ignore", invalid="ignore"):
            hap_frac = np.where(sx.n_called > 0, sx.n_haploid / sx.n_called, np.nan)
        by_ploidy = np.full(n_samp, "", object)
        if sx.n_haploid.any():
            by_ploidy = np.where(hap_frac > 0.5, "male", "female").astype(object)
        by_f = np.full(n_samp, "ambiguous", object)
        by_f[x_f >= F_MALE_MIN] = "male"
        by_f[x_f <= F_FEMALE_MAX] = "female"
        check = np.where(by_f == registry_sex, "ok", "mismatch").astype(object)
        check[by_f == "ambiguous"] = "ambiguous"
        check[registry_sex == "unknown"] = "unknown"
        cols.update(
            x_n_called=sx.n_called,
            x_haploid_fraction=hap_frac,
            x_f=x_f,
            sex_by_ploidy=by_ploidy,
            sex_by_f=by_f,
            sex_check=check,
        )
    # -- outliers --
    groups = inp.populations
    reasons = [[] for _ in range(n_samp)]
    low_call = cols["call_rate"] < min_call_rate
    for i in np.flatnonzero(low_call):
        reasons[i].append(f"call_rate<{min_call_rate}")
    for metric in ("heterozygosity", "inbreeding_f", "ti_tv", "het_hom_alt_ratio"):
        z = robust_z(cols[metric], groups)
        cols[f"z_{metric}"] = z
        for i in np.flatnonzero(np.abs(np.nan_to_num(z)) > outlier_z):
            reasons[i].append(f"{metric} z={z[i]:+.1f}")
    if groups is not None:
        sizes = pd.Series(groups).value_counts()
        small = sorted(str(k) for k, v in sizes.items() if v < 10)
        if small:
            inp.notes.append(
                f"populations with fewer than 10 people are scored against the whole cohort: "
                f"{', '.join(small)}"
            )
    cols["outlier"] = np.array([bool(r) for r in reasons])
    cols["outlier_reasons"] = np.array(["; ".join(r) for r in reasons], dtype=object)
    table = pd.DataFrame(cols, index=pd.Index(inp.sample_ids, name="sample_id"))
    table.attrs["notes"] = inp.notes
    return table
