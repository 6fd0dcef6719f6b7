"""Fused genotype statistics: one numba pass over int8 calls gives every per-variant and
per-sample count QC needs.

Genotypes are ``variants × samples × 2`` int8 arrays in the VCF Zarr coding: allele indexes
``0 … max``, ``-1`` for a missing allele and ``-2`` in the *second* slot for "no allele" (a
male's single X). :func:`fused_stats` reads each call once and returns, together,

* per variant: allele counts for alleles ``0 … max`` (overall and per population), the called
  allele number, called / het / hom-ref / hom-alt / missing / haploid sample counts;
* per sample: called, het, hom-ref, hom-alt, missing and haploid call counts, and non-reference
  allele counts split by a per-variant class (other / transition / transversion), which gives
  Ti/Tv without a second pass over the genotypes.

Call semantics (what a user expects; scikit-allel differs for hemizygous calls)
-----------------------------------------------------------------------------------
========================  ========  =====  ========  ========  ==================
call                      called    het    hom-ref   hom-alt   alleles counted
========================  ========  =====  ========  ========  ==================
``[0, 0]``                yes       no     yes       no        0, 0
``[0, 1]``, ``[1, 2]``    yes       yes    no        no        both
``[2, 2]``                yes       no     no        yes       2, 2
``[0, -2]`` (haploid)     yes       no     yes       no        0
``[1, -2]`` (haploid)     yes       no     no        yes       1
``[0, -1]``, ``[-1, -1]`` no        no     no        no        the non-missing ones
========================  ========  =====  ========  ========  ==================

Allele counts (and the allele number, their sum) count *every* non-negative allele, also in a
partly missing call, exactly as ``allel.GenotypeArray.count_alleles`` and ``bcftools`` do.
scikit-allel treats a hemizygous call ``[1, -2]`` as *missing* for ``is_called``,
``count_het``, ``count_hom_alt`` …; here it is a called hemizygous genotype (a male's X call is
data, not a gap). The two agree exactly once each hemizygous ``[a, -2]`` is rewritten as the
homozygous ``[a, a]`` for the genotype-class counts (allele counts taken from the original):
that is the reference the tests compare against.

How it is fast
--------------
Almost every row of real data holds only the alleles -1, 0 and 1 (biallelic, no hemizygous
call). Such a row is read as uint64 words of four calls and counted with SWAR bit arithmetic:
each call is a 16-bit field, per-sample counters are words of four such fields (flushed to
int64 at least every 16,383 variants, before a field can overflow); the row sums are sums of
fields. LLVM turns that loop into wide vector code, and a single-population array of whole
words is taken a block of rows at a time, with the check for odd alleles (-2, 2 …) in the same
pass; a row that fails it is subtracted again and counted call by call, like rows that must be
gathered into population order. ``benchmarks/bench_stats.py`` measures it.

Numpy arrays are processed in variant blocks, threads splitting each block (``prange``); dask
arrays chunk by chunk (dask's threads run chunks in parallel; the kernel releases the GIL), so
memory stays bounded by one chunk and the per-sample counts are summed across chunks.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numba
import numpy as np
from numba import prange

from ..errors import ConfigurationError, InputError

__all__ = [
    "OTHER",
    "TRANSITION",
    "TRANSVERSION",
    "SampleStats",
    "VariantStats",
    "fused_stats",
    "titv_class",
]

#: Variant classes for :func:`titv_class` and the ``variant_class`` argument of fused_stats.
OTHER, TRANSITION, TRANSVERSION = 0, 1, 2

# Per-variant record fields written by the kernel (int32, one record per variant and population).
_CALLED, _HET, _HOMREF, _HOMALT, _HAP, _HAPREF, _AN, _AC0, _MAX = range(9)
_NREC = 9
# Per-sample counters (int64).
_S_CALLED, _S_HET, _S_HOMALT, _S_HAP, _S_NR0, _S_NR1, _S_NR2 = range(7)
_NSAMP = 7
_LANES = 32  # width of the lane accumulators that turn row reductions into vector adds
_SUB = 8192  # samples per int16 lane sub-block (2 alleles × 8192 < 32767)
_FLUSH = 127  # variants per uint8 per-sample sub-block (2 × 127 < 255)
_BLOCK_ROWS = 16384  # variants per block of the numpy path


# ----------------------------------------------------------------------------------------------
# numba kernels
# ----------------------------------------------------------------------------------------------
@numba.njit(nogil=True, cache=True, inline="always")
def _flags(w):
    # ``w`` is one call, both int8 alleles read as one little-endian int16: low byte first.
    i16 = np.int16
    a = i16(i16(w << 8) >> 8)
    b = i16(w >> 8)
    aok = i16(a >= 0)
    bok = i16(b >= 0)
    bh = i16(b == -2)
    a0 = i16(a == 0)
    apos = i16(a > 0)
    hap = aok & bh
    called = aok & (bok | bh)
    het = aok & bok & i16(a != b)
    homref = a0 & (i16(b == 0) | bh)
    homalt = apos & (i16(a == b) | bh)
    return (
        called,
        het,
        homref,
        homalt,
        hap,
        hap & a0,
        aok + bok,
        a0 + i16(b == 0),
        i16(max(a, b)),
        apos + i16(b > 0),
    )


@numba.njit(nogil=True, cache=True)
def _sub_row(row, cc, ch, ca, cp, nr, lanes, out):
    # Row reductions go into ``_LANES`` int16 lane counters (plain element-wise adds, which
    # LLVM vectorises; a scalar int64 reduction of int16 flags does not) and are summed once
    # per row. The loop body is written out twice (full lane blocks, then the tail) because
    # moving it into a helper taking arrays stops the vectoriser.
    n = row.shape[0]
    lanes[:, :] = 0
    lanes[8, :] = -1
    nfull = n - n % _LANES
    for base in range(0, nfull, _LANES):
        for t in range(_LANES):
            j = base + t
            called, het, homref, homalt, hap, hapref, an, ac0, mx, nonref = _flags(row[j])
            lanes[0, t] += called
            lanes[1, t] += het
            lanes[2, t] += homref
            lanes[3, t] += homalt
            lanes[4, t] += hap
            lanes[5, t] += hapref
            lanes[6, t] += an
            lanes[7, t] += ac0
            lanes[8, t] = max(lanes[8, t], mx)
            cc[j] += np.uint8(called)
            ch[j] += np.uint8(het)
            ca[j] += np.uint8(homalt)
            cp[j] += np.uint8(hap)
            nr[j] += np.uint8(nonref)
    for j in range(nfull, n):
        t = j - nfull
        called, het, homref, homalt, hap, hapref, an, ac0, mx, nonref = _flags(row[j])
        lanes[0, t] += called
        lanes[1, t] += het
        lanes[2, t] += homref
        lanes[3, t] += homalt
        lanes[4, t] += hap
        lanes[5, t] += hapref
        lanes[6, t] += an
        lanes[7, t] += ac0
        lanes[8, t] = max(lanes[8, t], mx)
        cc[j] += np.uint8(called)
        ch[j] += np.uint8(het)
        ca[j] += np.uint8(homalt)
        cp[j] += np.uint8(hap)
        nr[j] += np.uint8(nonref)
    for k in range(8):
        s = 0
        for t in range(_LANES):
            s += lanes[k, t]
        out[k] += s
    m = out[8]
    for t in range(_LANES):
        m = max(m, lanes[8, t])
    out[8] = m


# The fast path: rows whose every allele is -1, 0 or 1 (biallelic, no hemizygous call: almost
# every row of real data) are read as uint64 words of four calls and counted with SWAR bit
# arithmetic, 16-bit fields per call, which LLVM turns into wide vector code. A byte ``x`` is
# one of 0xFF, 0x00, 0x01 exactly when its bits 1..7 are equal, so a row qualifies when no byte
# of ``x ^ (x << 1)`` has any of bits 2..7 set, and none is 0xFE (-2: bit 1 set, bit 0 not).
_U = np.uint64
_BYTE1 = _U(0x0101010101010101)
_CALL1 = _U(0x0001000100010001)
_CALL3 = _U(0x0003000300030003)
_BITS2TO7 = _U(0xFCFCFCFCFCFCFCFC)
_FIELD = _U(0xFFFF)
_SWAR_WORDS = 32767  # words (4 calls each) per fast sub-row: row sums of 2 × 32767 fit 16 bits
_WORD_FLUSH = 16383  # variants per 16-bit per-sample field (2 × 16383 < 65535)


@numba.njit(nogil=True, cache=True, inline="always")
def _fields(s):
    # Sum of the four 16-bit fields of ``s``.
    return (s & _FIELD) + ((s >> _U(16)) & _FIELD) + ((s >> _U(32)) & _FIELD) + (s >> _U(48))


@numba.njit(nogil=True, cache=True)
def _is_simple(words):
    unequal = _U(0)
    minus2 = _U(0)
    for i in range(words.shape[0]):
        x = words[i]
        unequal |= x ^ (x << _U(1))
        minus2 |= (x >> _U(1)) & ~x
    return ((unequal & _BITS2TO7) | (minus2 & _BYTE1)) == _U(0)


@numba.njit(nogil=True, cache=True, inline="always")
def _swar_flags(x):
    # Per-call 16-bit fields of one word of four calls, alleles -1, 0 or 1: called, het,
    # hom-alt, alt alleles, missing alleles.
    x1 = x >> _U(1)
    alt = x & ~x1 & _BYTE1  # allele == 1
    miss = x1 & _BYTE1  # allele == -1
    called = ~(miss | (miss >> _U(8))) & _CALL1
    n_alt = (alt + (alt >> _U(8))) & _CALL3
    hom_alt = alt & (alt >> _U(8)) & _CALL1
    het = (alt ^ (alt >> _U(8))) & called & _CALL1
    n_miss = (miss + (miss >> _U(8))) & _CALL3
    return called, het, hom_alt, n_alt, n_miss


@numba.njit(nogil=True, cache=True)
def _swar_row(words, wc, wh, wa, wn, sums):
    """Count the calls of ``words`` (alleles -1, 0, 1) into the per-sample word fields; add
    their (called, het, hom-alt, alt alleles, missing alleles) to ``sums``."""
    s_c = _U(0)
    s_h = _U(0)
    s_a = _U(0)
    s_n = _U(0)
    s_m = _U(0)
    for i in range(words.shape[0]):
        called, het, hom_alt, n_alt, n_miss = _swar_flags(words[i])
        wc[i] += called
        wh[i] += het
        wa[i] += hom_alt
        wn[i] += n_alt
        s_c += called
        s_h += het
        s_a += hom_alt
        s_n += n_alt
        s_m += n_miss
    sums[0] += _fields(s_c)
    sums[1] += _fields(s_h)
    sums[2] += _fields(s_a)
    sums[3] += _fields(s_n)
    sums[4] += _fields(s_m)


@numba.njit(nogil=True, cache=True, inline="always")
def _record_simple(out, called, het, hom_alt, n_alt, n_miss, n_calls):
    an = 2 * n_calls - n_miss
    out[_CALLED] += called
    out[_HET] += het
    out[_HOMREF] += called - het - hom_alt
    out[_HOMALT] += hom_alt
    out[_AN] += an
    out[_AC0] += an - n_alt
    out[_MAX] = max(out[_MAX], 1 if n_alt > 0 else (0 if an > 0 else -1))


@numba.njit(nogil=True, cache=True)
def _swar_rows(x64, v0, v1, vclass, wc, wh, wa, wn0, wn1, wn2, rec, simple):
    """Rows ``v0:v1`` of ``x64`` (whole rows of words, one population): each row's calls are
    counted and checked in one pass; a row that turns out not simple is counted again and
    subtracted (exact: the fields wrap modulo 2**64) and left for the call-by-call path.

    The inner loop repeats :func:`_swar_row`'s, plus the check, on purpose: calling that
    helper once per row with array slices, after a separate check pass, ran at 8 GB/s on one
    thread on the benchmark matrix; this fused block loop at 12.
    """
    n_words = x64.shape[1]
    for v in range(v0, v1):
        cls = vclass[v]
        wn = wn0 if cls == OTHER else (wn1 if cls == TRANSITION else wn2)
        s_c = _U(0)
        s_h = _U(0)
        s_a = _U(0)
        s_n = _U(0)
        s_m = _U(0)
        unequal = _U(0)
        minus2 = _U(0)
        for i in range(n_words):
            x = x64[v, i]
            called, het, hom_alt, n_alt, n_miss = _swar_flags(x)
            wc[i] += called
            wh[i] += het
            wa[i] += hom_alt
            wn[i] += n_alt
            s_c += called
            s_h += het
            s_a += hom_alt
            s_n += n_alt
            s_m += n_miss
            unequal |= x ^ (x << _U(1))
            minus2 |= (x >> _U(1)) & ~x
        ok = ((unequal & _BITS2TO7) | (minus2 & _BYTE1)) == _U(0)
        simple[v - v0] = ok
        if ok:
            o = rec[v, 0]
            o[_MAX] = -1
            _record_simple(
                o, _fields(s_c), _fields(s_h), _fields(s_a), _fields(s_n), _fields(s_m), 4 * n_words
            )
        else:
            for i in range(n_words):
                called, het, hom_alt, n_alt, n_miss = _swar_flags(x64[v, i])
                wc[i] -= called
                wh[i] -= het
                wa[i] -= hom_alt
                wn[i] -= n_alt


@numba.njit(nogil=True, cache=True, inline="always")
def _sub_range(row, lo, hi, c, nr, lanes, out):
    # Samples ``lo:hi`` call by call, into the uint8 per-sample counters ``c``.
    for a in range(lo, hi, _SUB):
        b = min(a + _SUB, hi)
        _sub_row(row[a:b], c[0, a:b], c[1, a:b], c[2, a:b], c[3, a:b], c[nr, a:b], lanes, out)


@numba.njit(nogil=True, cache=True)
def _fast_range(words, row, lo, hi, wc, wh, wa, wn, c, nr, lanes, sums, out):
    """Samples ``lo:hi`` of a simple row: whole words by SWAR, the ragged ends (samples that
    share a word with another population, or the last ``n % 4``) call by call into ``c``.
    Returns whether ``c`` was touched."""
    w0 = (lo + 3) // 4
    w1 = hi // 4
    if w1 <= w0:
        _sub_range(row, lo, hi, c, nr, lanes, out)
        return hi > lo
    _sub_range(row, lo, 4 * w0, c, nr, lanes, out)
    _sub_range(row, 4 * w1, hi, c, nr, lanes, out)
    for a in range(w0, w1, _SWAR_WORDS):
        b = min(a + _SWAR_WORDS, w1)
        sums[:] = 0
        # Separate arrays, not rows of one 2-d array: that alone costs the vectoriser ~30 %.
        _swar_row(words[a:b], wc[a:b], wh[a:b], wa[a:b], wn[a:b], sums)
        called, het, hom_alt, n_alt, n_miss = sums[0], sums[1], sums[2], sums[3], sums[4]
        _record_simple(out, called, het, hom_alt, n_alt, n_miss, 4 * (b - a))
    return lo < 4 * w0 or 4 * w1 < hi


@numba.njit(nogil=True, cache=True)
def _flush_words(words, dst):
    # Per-sample 16-bit fields → ``dst`` (one row of the per-sample counters); then zero them.
    n_samples = dst.shape[0]
    for i in range(words.shape[0]):
        w = words[i]
        for f in range(4):
            j = 4 * i + f
            if j < n_samples:
                dst[j] += np.int64((w >> _U(16 * f)) & _FIELD)
        words[i] = 0


@numba.njit(nogil=True, cache=True)
def _flush_all(wc, wh, wa, wn0, wn1, wn2, sacc):
    _flush_words(wc, sacc[_S_CALLED])
    _flush_words(wh, sacc[_S_HET])
    _flush_words(wa, sacc[_S_HOMALT])
    _flush_words(wn0, sacc[_S_NR0])
    _flush_words(wn1, sacc[_S_NR1])
    _flush_words(wn2, sacc[_S_NR2])


@numba.njit(nogil=True, cache=True)
def _tail_is_simple(row, start):
    for j in range(start, row.shape[0]):
        w = row[j]
        a = np.int16(np.int16(w << 8) >> 8)
        b = np.int16(w >> 8)
        if a < -1 or a > 1 or b < -1 or b > 1:
            return False
    return True


@numba.njit(nogil=True, cache=True)
def _scan(x, x64, r0, r1, order, bounds, vclass, rec, sacc):
    """Rows ``r0:r1`` of ``x`` (variants × samples int16): fill ``rec`` rows (zeros on entry),
    add to ``sacc``.

    ``x64`` is ``x`` viewed as whole words when a row is a whole number of them and there is
    one population (an empty array otherwise); its rows are then taken a block at a time.
    With a non-empty ``order`` each row is first gathered into population order (populations
    are then the contiguous ranges ``bounds``) and ``sacc`` is in that order too.
    """
    n_samples = x.shape[1]
    n_pops = bounds.shape[0] - 1
    n_words = (n_samples + 3) // 4
    c = np.zeros((_NSAMP, n_samples), np.uint8)
    # Per-sample 16-bit word fields of the fast path: called, het, hom-alt, and non-reference
    # alleles by variant class.
    wc = np.zeros(n_words, np.uint64)
    wh = np.zeros(n_words, np.uint64)
    wa = np.zeros(n_words, np.uint64)
    wn0 = np.zeros(n_words, np.uint64)
    wn1 = np.zeros(n_words, np.uint64)
    wn2 = np.zeros(n_words, np.uint64)
    lanes = np.zeros((9, _LANES), np.int16)
    sums = np.zeros(5, np.uint64)
    # Rows go through a buffer of whole words when they must be gathered or are not 8-byte
    # aligned; the padding calls beyond ``n_samples`` are never counted.
    buffered = order.shape[0] > 0 or n_samples % 4 != 0
    buf64 = np.zeros(n_words, np.uint64)
    buf = buf64.view(np.int16)
    n_full = n_samples // 4
    whole_rows = x64.shape[0] > 0
    simple_rows = np.zeros(_FLUSH, np.bool_)
    since_flush = 0
    for b0 in range(r0, r1, _FLUSH):
        b1 = min(b0 + _FLUSH, r1)
        dirty = False  # whether ``c`` holds counts (simple rows seldom touch it)
        if whole_rows:
            _swar_rows(x64, b0, b1, vclass, wc, wh, wa, wn0, wn1, wn2, rec, simple_rows)
        for v in range(b0, b1):
            nr = 4 + vclass[v]
            if whole_rows:
                if not simple_rows[v - b0]:
                    rec[v, 0, _MAX] = -1
                    _sub_range(x[v], 0, n_samples, c, nr, lanes, rec[v, 0])
                    dirty = True
                continue
            wn = wn0 if vclass[v] == OTHER else (wn1 if vclass[v] == TRANSITION else wn2)
            if buffered:
                src = x[v]
                if order.shape[0] > 0:
                    for j in range(n_samples):
                        buf[j] = src[order[j]]
                else:
                    buf[:n_samples] = src
                row = buf[:n_samples]
                words = buf64
            else:
                row = x[v]
                words = row.view(np.uint64)
            simple = _is_simple(words[:n_full]) and _tail_is_simple(row, 4 * n_full)
            for p in range(n_pops):
                o = rec[v, p]
                o[_MAX] = -1
                lo, hi = bounds[p], bounds[p + 1]
                if simple:
                    dirty |= _fast_range(words, row, lo, hi, wc, wh, wa, wn, c, nr, lanes, sums, o)
                else:
                    _sub_range(row, lo, hi, c, nr, lanes, o)
                    dirty = True
        since_flush += b1 - b0
        if since_flush > _WORD_FLUSH - _FLUSH:
            _flush_all(wc, wh, wa, wn0, wn1, wn2, sacc)
            since_flush = 0
        if dirty:
            for k in range(_NSAMP):
                for j in range(n_samples):
                    sacc[k, j] += c[k, j]
            c[:, :] = 0
    _flush_all(wc, wh, wa, wn0, wn1, wn2, sacc)


@numba.njit(nogil=True, cache=True, parallel=True)
def _scan_parallel(x, x64, order, bounds, vclass, rec, sacc_parts):
    n = x.shape[0]
    parts = sacc_parts.shape[0]
    step = (n + parts - 1) // parts
    for t in prange(parts):
        lo, hi = min(t * step, n), min((t + 1) * step, n)
        _scan(x, x64, lo, hi, order, bounds, vclass, rec, sacc_parts[t])


@numba.njit(nogil=True, cache=True)
def _histogram(g, rows, order, bounds, out):
    """Allele counts of ``rows`` of ``g`` (variants × samples × 2 int8) into ``out[i, p, a]``
    (population ``p`` is samples ``order[bounds[p]:bounds[p + 1]]``)."""
    n_pops = bounds.shape[0] - 1
    width = out.shape[2]
    gather = order.shape[0] > 0
    for i in range(rows.shape[0]):
        v = rows[i]
        for p in range(n_pops):
            for jj in range(bounds[p], bounds[p + 1]):
                j = order[jj] if gather else jj
                for k in range(2):
                    a = g[v, j, k]
                    if 0 <= a < width:
                        out[i, p, a] += 1


# ----------------------------------------------------------------------------------------------
# results
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VariantStats:
    """Per-variant counts (arrays of length ``n_variants``; int64 unless noted).

    ``allele_counts[v, a]`` counts allele ``a`` (``0 … max`` over the data; width 0 when every
    call is missing). ``n_hom_ref``/``n_hom_alt`` include hemizygous calls; ``n_haploid`` and
    ``n_haploid_ref`` count them, so diploid-only counts (for HWE on chrX) are a subtraction
    away (:meth:`diploid_counts`). With populations, ``pop_*`` arrays add a population axis
    (``variants × populations [× alleles]``) in the order of ``populations``.
    """

    allele_counts: np.ndarray
    allele_number: np.ndarray
    n_called: np.ndarray
    n_het: np.ndarray
    n_hom_ref: np.ndarray
    n_hom_alt: np.ndarray
    n_missing: np.ndarray
    n_haploid: np.ndarray
    n_haploid_ref: np.ndarray
    max_allele: np.ndarray
    populations: tuple[str, ...] | None = None
    pop_allele_counts: np.ndarray | None = None
    pop_n_samples: np.ndarray | None = None
    pop_n_called: np.ndarray | None = None
    pop_n_het: np.ndarray | None = None
    pop_n_hom_ref: np.ndarray | None = None
    pop_n_hom_alt: np.ndarray | None = None
    pop_n_haploid: np.ndarray | None = None
    pop_n_haploid_ref: np.ndarray | None = None

    @property
    def n_variants(self) -> int:
        return len(self.n_called)

    def diploid_counts(self, *, population: str | None = None):
        """``(n_hom_ref, n_het, n_hom_alt)`` among diploid calls only (hemizygous removed)."""
        if population is None:
            hr, het, ha = self.n_hom_ref, self.n_het, self.n_hom_alt
            hap, hapref = self.n_haploid, self.n_haploid_ref
        else:
            if self.populations is None or population not in self.populations:
                raise InputError(
                    f"population {population!r} is not among {self.populations}; pass one of "
                    "them (or populations= to fused_stats)"
                )
            i = self.populations.index(population)
            hr, het, ha = self.pop_n_hom_ref[:, i], self.pop_n_het[:, i], self.pop_n_hom_alt[:, i]
            hap, hapref = self.pop_n_haploid[:, i], self.pop_n_haploid_ref[:, i]
        return hr - hapref, het, ha - (hap - hapref)


@dataclass(frozen=True)
class SampleStats:
    """Per-sample counts (int64 arrays of length ``n_samples``) over ``n_variants`` variants.

    ``n_non_ref`` counts non-reference alleles (a het call 1, a hom-alt call 2, a hemizygous alt
    call 1); ``n_transitions``/``n_transversions`` are the non-reference alleles at variants
    classed :data:`TRANSITION`/:data:`TRANSVERSION` (zero when no classes were given).
    """

    n_variants: int
    n_called: np.ndarray
    n_het: np.ndarray
    n_hom_ref: np.ndarray
    n_hom_alt: np.ndarray
    n_missing: np.ndarray
    n_haploid: np.ndarray
    n_non_ref: np.ndarray
    n_transitions: np.ndarray
    n_transversions: np.ndarray


# ----------------------------------------------------------------------------------------------
# input checks
# ----------------------------------------------------------------------------------------------
def _is_dask(x) -> bool:
    return type(x).__module__.startswith("dask.") and hasattr(x, "chunks")


def _unwrap(gt):
    """A numpy or dask array of int8 calls with ploidy 2 (ploidy 1 padded with ``-2``)."""
    if hasattr(gt, "values") and type(gt).__module__.startswith("allel."):
        gt = gt.values
    if not _is_dask(gt):
        gt = np.asarray(gt)
    if gt.ndim != 3:
        raise InputError(
            f"genotypes must be a variants × samples × ploidy array, got {gt.ndim} dimension(s) "
            f"(shape {tuple(gt.shape)}); pass cohort.genotypes() or a 3-d int8 array"
        )
    if gt.shape[2] not in (1, 2):
        raise InputError(
            f"fused_stats handles ploidy 1 or 2, got ploidy {gt.shape[2]}; polyploid calls are "
            "not supported"
        )
    if not np.issubdtype(gt.dtype, np.integer):
        raise InputError(f"genotype calls must be integers, got dtype {gt.dtype}")
    if gt.dtype != np.int8:
        if not _is_dask(gt) and gt.size and (gt.min() < -128 or gt.max() > 127):
            raise InputError(
                "genotype allele indexes must fit in int8 (-2 … 127); found values outside; "
                "split sites with more than 127 alleles"
            )
        gt = gt.astype(np.int8)
    if gt.shape[2] == 1:  # all-haploid data: the second allele is "no allele"
        if _is_dask(gt):
            import dask.array as xp
        else:
            xp = np
        gt = xp.concatenate([gt, xp.full(gt.shape, -2, dtype=np.int8)], axis=2)
    return gt


def _parse_populations(populations, n_samples):
    if populations is None:
        return None, np.zeros(n_samples, np.int64)
    labels = np.asarray(populations, dtype=object)
    if labels.shape != (n_samples,):
        raise InputError(
            f"populations must give one label per sample ({n_samples}), got shape "
            f"{labels.shape}; pass e.g. cohort.samples().population"
        )
    bad = [i for i, v in enumerate(labels) if v is None or (isinstance(v, float) and v != v)]
    if bad:
        raise InputError(
            f"{len(bad)} sample(s) have no population label (first at index {bad[0]}); label "
            "every sample, e.g. 'unknown'"
        )
    names, codes = np.unique(labels.astype(str), return_inverse=True)
    return tuple(str(n) for n in names), codes.astype(np.int64)


def _parse_class(variant_class, n_variants):
    if variant_class is None:
        return np.zeros(n_variants, np.int8)
    vc = np.asarray(variant_class)
    if vc.shape != (n_variants,) or not np.isin(vc, (OTHER, TRANSITION, TRANSVERSION)).all():
        raise InputError(
            f"variant_class must hold one of 0 (other), 1 (transition), 2 (transversion) per "
            f"variant ({n_variants}); got shape {vc.shape}; build it with titv_class(ref, alt)"
        )
    return vc.astype(np.int8)


def titv_class(ref, alt) -> np.ndarray:
    """Classify variants as :data:`TRANSITION`, :data:`TRANSVERSION` or :data:`OTHER`.

    ``ref`` and ``alt`` are sequences of allele strings (``alt`` comma-separated as in
    ``Cohort.variants()``). Only biallelic single-base substitutions between A, C, G and T are
    classed; indels, multi-allelic sites and anything else are :data:`OTHER`.
    """
    ref = np.asarray(ref, dtype=str)
    alt = np.asarray(alt, dtype=str)
    if ref.shape != alt.shape:
        raise InputError(f"ref and alt differ in length: {ref.shape} vs {alt.shape}")
    purine = {"A": 1, "G": 1, "C": 2, "T": 2}
    out = np.zeros(ref.shape, np.int8)
    for i, (r, a) in enumerate(zip(ref.tolist(), alt.tolist(), strict=True)):
        r, a = r.upper(), a.upper()
        if r in purine and a in purine and r != a:
            out[i] = TRANSITION if purine[r] == purine[a] else TRANSVERSION
    return out


# ----------------------------------------------------------------------------------------------
# block processing
# ----------------------------------------------------------------------------------------------
def _block(g, codes, n_pops, vclass, *, parallel):
    """Stats of one block: ``(rec, sacc, multi_rows, multi_ac)`` in original sample order."""
    if sys.byteorder != "little":  # the kernel reads both alleles as one little-endian int16
        raise ConfigurationError("the fused kernels need a little-endian machine")
    n_var, n_samp = g.shape[:2]
    if n_pops > 1:  # the kernel gathers each row into population order
        order = np.argsort(codes, kind="stable").astype(np.int64)
        bounds = np.searchsorted(codes[order], np.arange(n_pops + 1)).astype(np.int64)
    else:
        order = np.zeros(0, np.int64)
        bounds = np.array([0, n_samp], np.int64)
    g = np.ascontiguousarray(g, dtype=np.int8)
    x = g.view(np.int16).reshape(n_var, n_samp)
    if n_pops == 1 and n_samp % 4 == 0 and n_samp // 4 <= _SWAR_WORDS:
        x64 = x.view(np.uint64)
    else:
        x64 = np.zeros((0, 1), np.uint64)
    rec = np.zeros((n_var, n_pops, _NREC), np.int32)
    if parallel and n_var >= 2 * _FLUSH:
        parts = min(numba.get_num_threads(), n_var // _FLUSH)
        sacc = np.zeros((parts, _NSAMP, n_samp), np.int64)
        _scan_parallel(x, x64, order, bounds, vclass, rec, sacc)
        sacc = sacc.sum(axis=0)
    else:
        sacc = np.zeros((_NSAMP, n_samp), np.int64)
        _scan(x, x64, 0, n_var, order, bounds, vclass, rec, sacc)
    if len(order):
        unsorted = np.empty_like(sacc)
        unsorted[:, order] = sacc
        sacc = unsorted
    vmax = rec[:, :, _MAX].max(axis=1, initial=-1)
    multi = np.flatnonzero(vmax >= 2)
    multi_ac = np.zeros((len(multi), n_pops, int(vmax.max(initial=1)) + 1), np.int64)
    if len(multi):
        _histogram(g, multi.astype(np.int64), order, bounds, multi_ac)
    return rec, sacc, multi, multi_ac


def _assemble(rec, sacc, multi, multi_ac, populations, pop_sizes, n_variants):
    vmax = rec[:, :, _MAX].max(axis=1, initial=-1).astype(np.int64)
    width = int(vmax.max(initial=-1)) + 1
    n_pops = rec.shape[1]
    r = rec.astype(np.int64)
    pac = np.zeros((len(rec), n_pops, width), np.int64)
    if width >= 1:
        pac[:, :, 0] = r[:, :, _AC0]
    if width >= 2:
        pac[:, :, 1] = r[:, :, _AN] - r[:, :, _AC0]
    if len(multi):
        pac[multi] = 0
        pac[multi, :, : multi_ac.shape[2]] = multi_ac
    tot = r.sum(axis=1)
    n_samples = int(pop_sizes.sum())
    vs = dict(
        allele_counts=pac.sum(axis=1),
        allele_number=tot[:, _AN],
        n_called=tot[:, _CALLED],
        n_het=tot[:, _HET],
        n_hom_ref=tot[:, _HOMREF],
        n_hom_alt=tot[:, _HOMALT],
        n_missing=n_samples - tot[:, _CALLED],
        n_haploid=tot[:, _HAP],
        n_haploid_ref=tot[:, _HAPREF],
        max_allele=vmax,
    )
    if populations is not None:
        vs.update(
            populations=populations,
            pop_allele_counts=pac,
            pop_n_samples=pop_sizes.astype(np.int64),
            pop_n_called=r[:, :, _CALLED],
            pop_n_het=r[:, :, _HET],
            pop_n_hom_ref=r[:, :, _HOMREF],
            pop_n_hom_alt=r[:, :, _HOMALT],
            pop_n_haploid=r[:, :, _HAP],
            pop_n_haploid_ref=r[:, :, _HAPREF],
        )
    called = sacc[_S_CALLED]
    ss = SampleStats(
        n_variants=n_variants,
        n_called=called,
        n_het=sacc[_S_HET],
        n_hom_ref=called - sacc[_S_HET] - sacc[_S_HOMALT],
        n_hom_alt=sacc[_S_HOMALT],
        n_missing=n_variants - called,
        n_haploid=sacc[_S_HAP],
        n_non_ref=sacc[_S_NR0] + sacc[_S_NR1] + sacc[_S_NR2],
        n_transitions=sacc[_S_NR1],
        n_transversions=sacc[_S_NR2],
    )
    return VariantStats(**vs), ss


def _merge_multi(parts, n_pops):
    """Stack per-block ``(offset, multi, multi_ac)`` into one index and one count array."""
    rows = [off + m for off, m, _ in parts if len(m)]
    if not rows:
        return np.zeros(0, np.int64), np.zeros((0, n_pops, 1), np.int64)
    width = max(ac.shape[2] for _, m, ac in parts if len(m))
    acs = []
    for _, m, ac in parts:
        if len(m):
            pad = np.zeros((len(m), n_pops, width), np.int64)
            pad[:, :, : ac.shape[2]] = ac
            acs.append(pad)
    return np.concatenate(rows), np.concatenate(acs)


def fused_stats(
    gt,
    *,
    populations=None,
    variant_class=None,
    block_rows: int = _BLOCK_ROWS,
) -> tuple[VariantStats, SampleStats]:
    """Per-variant and per-sample genotype counts in one pass.

    Parameters
    ----------
    gt
        Genotype calls, variants × samples × ploidy (2, or 1 for all-haploid data): a numpy
        array, a dask array, or a scikit-allel ``GenotypeArray``/``GenotypeDaskArray``
        (``cohort.genotypes()``). Missing alleles are ``-1``; ``-2`` in the second slot marks a
        hemizygous call. Dask arrays are processed chunk by chunk (memory: one chunk).
    populations
        Optional label per sample (e.g. ``cohort.samples().population``); adds per-population
        allele and genotype counts (``VariantStats.pop_*``), populations in sorted order.
    variant_class
        Optional per-variant :data:`OTHER`/:data:`TRANSITION`/:data:`TRANSVERSION` class (see
        :func:`titv_class`) for the per-sample Ti/Tv counts, gathered in the same pass.
    block_rows
        Variants per block of a numpy array (each block is split between threads).

    Returns
    -------
    VariantStats, SampleStats
        See the module docstring for how missing, partly missing and hemizygous calls count.
    """
    gt = _unwrap(gt)
    n_var, n_samp = int(gt.shape[0]), int(gt.shape[1])
    if not isinstance(block_rows, int | np.integer) or block_rows < 1:
        raise InputError(f"block_rows must be a positive integer, got {block_rows!r}")
    names, codes = _parse_populations(populations, n_samp)
    n_pops = len(names) if names is not None else 1
    pop_sizes = np.bincount(codes, minlength=n_pops)
    vclass = _parse_class(variant_class, n_var)
    rec = np.zeros((n_var, n_pops, _NREC), np.int32)
    rec[:, :, _MAX] = -1
    sacc = np.zeros((_NSAMP, n_samp), np.int64)
    multi_parts = []
    if _is_dask(gt):
        import dask

        gt = gt.rechunk({2: 2})
        vstarts = np.cumsum((0,) + gt.chunks[0])
        sstarts = np.cumsum((0,) + gt.chunks[1])
        blocks = gt.to_delayed()
        tasks = []
        for i in range(blocks.shape[0]):
            for j in range(blocks.shape[1]):
                v0, v1, s0, s1 = vstarts[i], vstarts[i + 1], sstarts[j], sstarts[j + 1]
                tasks.append(
                    dask.delayed(_block)(
                        blocks[i, j, 0],
                        codes[s0:s1],
                        n_pops,
                        vclass[v0:v1],
                        parallel=False,
                    )
                )
        results = dask.compute(*tasks)
        k = 0
        merged: dict[int, np.ndarray] = {}
        for i in range(blocks.shape[0]):
            v0, v1 = vstarts[i], vstarts[i + 1]
            for j in range(blocks.shape[1]):
                s0, s1 = sstarts[j], sstarts[j + 1]
                r, s, m, mac = results[k]
                k += 1
                both = rec[v0:v1]
                mx = np.maximum(both[:, :, _MAX], r[:, :, _MAX])
                both += r
                both[:, :, _MAX] = mx
                sacc[:, s0:s1] += s
                for row, ac in zip(m, mac, strict=True):
                    key = int(v0 + row)
                    prev = merged.get(key, np.zeros((n_pops, 0), np.int64))
                    out = np.zeros((n_pops, max(prev.shape[1], ac.shape[1])), np.int64)
                    out[:, : prev.shape[1]] += prev
                    out[:, : ac.shape[1]] += ac
                    merged[key] = out
        multi, multi_ac = _complete_multi(merged, rec, n_pops)
    else:
        for v0 in range(0, n_var, block_rows):
            v1 = min(v0 + block_rows, n_var)
            r, s, m, mac = _block(gt[v0:v1], codes, n_pops, vclass[v0:v1], parallel=True)
            rec[v0:v1] = r
            sacc += s
            multi_parts.append((v0, m, mac))
        multi, multi_ac = _merge_multi(multi_parts, n_pops)
    return _assemble(rec, sacc, multi, multi_ac, names, pop_sizes, n_var)


def _complete_multi(merged, rec, n_pops):
    """Allele counts of sites multi-allelic in some sample chunk, summed over all chunks.

    Chunks where a site had only alleles 0 and 1 were not histogrammed; their share is the
    site's total ``AC0``/``AN`` minus what the histogrammed chunks saw.
    """
    if not merged:
        return np.zeros(0, np.int64), np.zeros((0, n_pops, 1), np.int64)
    keys = np.array(sorted(merged), np.int64)
    width = max(a.shape[1] for a in merged.values())
    acs = np.zeros((len(keys), n_pops, width), np.int64)
    for i, key in enumerate(keys):
        ac = merged[int(key)]
        acs[i, :, : ac.shape[1]] = ac
        an_rest = rec[key, :, _AN].astype(np.int64) - ac.sum(axis=1)
        ac0_rest = rec[key, :, _AC0].astype(np.int64) - ac[:, 0]
        acs[i, :, 0] += ac0_rest
        acs[i, :, 1] += an_rest - ac0_rest
    return keys, acs
