"""fused_stats against scikit-allel (the slow reference) on the edge-case gallery and on random
arrays; numpy and dask paths agree.

The reference makes the one semantic difference explicit: scikit-allel counts a hemizygous
call ``[a, -2]`` as missing for the genotype classes, the workbench as a called ``a``. So the
genotype-class counts are compared with scikit-allel on a copy where each ``[a, -2]`` (a >= 0)
is rewritten ``[a, a]``; allele counts are compared on the original array.
"""

from __future__ import annotations

import allel
import dask.array as da
import numpy as np
import pytest
from analysis_gallery import GALLERY, random_genotypes
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from workbench.analysis.kernels import (
    OTHER,
    TRANSITION,
    TRANSVERSION,
    fused_stats,
    titv_class,
)
from workbench.errors import InputError


def diploidised(g: np.ndarray) -> np.ndarray:
    """Hemizygous ``[a, -2]`` → ``[a, a]``: scikit-allel then counts it as we do."""
    h = g.copy()
    hap = (g[..., 0] >= 0) & (g[..., 1] == -2)
    h[..., 1][hap] = h[..., 0][hap]
    return h


def reference(g, *, populations=None, variant_class=None):
    """Every statistic fused_stats returns, computed with scikit-allel and numpy."""
    n_var, _n_samp = g.shape[:2]
    width = int(g.max(initial=-1)) + 1
    ga, gd = allel.GenotypeArray(g), allel.GenotypeArray(diploidised(g))
    if n_var:
        ac = np.asarray(ga.count_alleles(max_allele=width - 1)) if width else np.zeros((n_var, 0))
    else:
        ac = np.zeros((0, width))
    hap = (g[..., 0] >= 0) & (g[..., 1] == -2)
    out = {
        "allele_counts": ac,
        "allele_number": ac.sum(axis=1),
        "n_called": gd.count_called(axis=1),
        "n_het": gd.count_het(axis=1),
        "n_hom_ref": gd.count_hom_ref(axis=1),
        "n_hom_alt": gd.count_hom_alt(axis=1),
        "n_missing": gd.count_missing(axis=1),
        "n_haploid": hap.sum(axis=1),
        "n_haploid_ref": (hap & (g[..., 0] == 0)).sum(axis=1),
        "s.n_called": gd.count_called(axis=0),
        "s.n_het": gd.count_het(axis=0),
        "s.n_hom_ref": gd.count_hom_ref(axis=0),
        "s.n_hom_alt": gd.count_hom_alt(axis=0),
        "s.n_missing": gd.count_missing(axis=0),
        "s.n_haploid": hap.sum(axis=0),
        "s.n_non_ref": ga.to_n_alt().sum(axis=0),
    }
    if variant_class is not None:
        n_alt = ga.to_n_alt()
        out["s.n_transitions"] = n_alt[variant_class == TRANSITION].sum(axis=0)
        out["s.n_transversions"] = n_alt[variant_class == TRANSVERSION].sum(axis=0)
    if populations is not None:
        labels = np.asarray(populations)
        names = sorted(set(labels.tolist()))
        pac = np.zeros((n_var, len(names), width), np.int64)
        for i, name in enumerate(names):
            sel = np.flatnonzero(labels == name)
            if n_var and width:
                pac[:, i] = ga.count_alleles_subpops({name: sel}, max_allele=width - 1)[name]
            sub = allel.GenotypeArray(diploidised(g[:, sel]))
            for key, fn in (("pop_n_het", sub.count_het), ("pop_n_hom_alt", sub.count_hom_alt)):
                out.setdefault(key, np.zeros((n_var, len(names)), np.int64))[:, i] = fn(axis=1)
        out["pop_allele_counts"] = pac
    return out


def check(g, **kwargs):
    vs, ss = fused_stats(g, **kwargs)
    ref = reference(g, **kwargs)
    for key, expected in ref.items():
        obj, name = (ss, key[2:]) if key.startswith("s.") else (vs, key)
        got = getattr(obj, name)
        np.testing.assert_array_equal(got, expected, err_msg=key)
    assert ss.n_variants == g.shape[0]
    return vs, ss


@pytest.mark.parametrize("name", sorted(GALLERY))
def test_gallery_equals_scikit_allel(name):
    g = GALLERY[name]()
    n_var, n_samp = g.shape[:2]
    classes = np.arange(n_var) % 3
    pops = np.array(["B", "A", "C"] * n_samp)[:n_samp]
    check(g)
    check(g, populations=pops, variant_class=classes)


@pytest.mark.parametrize("name", sorted(GALLERY))
def test_dask_path_equals_numpy_path(name):
    g = GALLERY[name]()
    pops = np.array(["x", "y"] * g.shape[1])[: g.shape[1]]
    chunks = (max(1, g.shape[0] // 3), max(1, g.shape[1] // 2), 2)
    a = fused_stats(g, populations=pops)
    b = fused_stats(da.from_array(g, chunks=chunks), populations=pops)
    for x, y in zip(a, b, strict=True):
        for field in vars(x):
            np.testing.assert_array_equal(getattr(x, field), getattr(y, field), err_msg=field)


def test_site_multiallelic_in_one_sample_chunk_only():
    # Allele 2 appears only in the second sample chunk: the first chunk's 0/1 counts must
    # still be added to the histogram of the second.
    g = np.zeros((2, 6, 2), np.int8)
    g[0, :3] = [[0, 1], [1, 1], [0, 0]]
    g[0, 3:] = [[2, 0], [0, 0], [2, 2]]
    vs, _ = fused_stats(da.from_array(g, chunks=(1, 3, 2)))
    np.testing.assert_array_equal(vs.allele_counts[0], [6, 3, 3])
    np.testing.assert_array_equal(vs.allele_counts[1], [12, 0, 0])


@settings(max_examples=60, deadline=None)
@given(
    arrays(
        np.int8,
        st.tuples(st.integers(0, 12), st.integers(1, 40), st.just(2)),
        elements=st.integers(-2, 4),
    ),
    st.integers(1, 3),
)
def test_random_arrays_equal_scikit_allel(g, n_pops):
    pops = np.array([f"p{i % n_pops}" for i in range(g.shape[1])])
    check(g, populations=pops, variant_class=np.arange(g.shape[0]) % 3)


@settings(max_examples=80, deadline=None)
@given(
    arrays(
        np.int8,
        st.tuples(st.integers(1, 10), st.integers(1, 45), st.just(2)),
        elements=st.sampled_from([-1, 0, 0, 0, 1, 1]),
    ),
    st.integers(1, 3),
    st.booleans(),
    st.integers(-2, 3),
)
def test_simple_rows_word_path_equals_scikit_allel(g, n_pops, interleaved, odd):
    # Rows of only -1/0/1 take the word-at-a-time path; ragged sample counts, population
    # ranges that split words, and one odd allele (-2 or 2, which sends its row down the
    # call-by-call path) anywhere in the row, the tail included.
    g = g.copy()
    if odd not in (-1, 0, 1):
        g[0, -1, 1] = odd
    labels = [f"p{i % n_pops}" for i in range(g.shape[1])]
    pops = np.array(labels if interleaved else sorted(labels))
    check(g)
    check(g, populations=pops, variant_class=np.arange(g.shape[0]) % 3)


def test_per_sample_word_fields_are_flushed_before_they_overflow():
    # 2 alt alleles per variant overflow a 16-bit field after 32,767 variants (and each of
    # the two threads gets 35,000 here).
    n = 70_000
    g = np.ones((n, 8, 2), np.int8)
    g[::7, 3] = [0, 1]
    vs, ss = fused_stats(g, block_rows=n)
    assert ss.n_non_ref[0] == 2 * n and ss.n_hom_alt[0] == n and ss.n_called[0] == n
    n_het = len(range(0, n, 7))
    assert ss.n_het[3] == n_het and ss.n_non_ref[3] == 2 * n - n_het
    assert vs.n_hom_alt.sum() == 8 * n - n_het


def test_large_random_array_across_blocks_and_threads():
    g = random_genotypes(n_variants=3000, n_samples=300, seed=11)
    check(g, variant_class=np.arange(3000) % 3)
    # Small blocks: per-sample counts summed across blocks give the same answer.
    a, b = fused_stats(g), fused_stats(g, block_rows=257)
    np.testing.assert_array_equal(a[1].n_het, b[1].n_het)
    np.testing.assert_array_equal(a[0].allele_counts, b[0].allele_counts)


def test_haploid_semantics_documented_in_module():
    vs, ss = fused_stats(np.array([[[0, -2], [1, -2], [0, 1], [-1, -2]]], np.int8))
    assert vs.n_called[0] == 3 and vs.n_het[0] == 1
    assert vs.n_hom_ref[0] == 1 and vs.n_hom_alt[0] == 1 and vs.n_haploid[0] == 2
    np.testing.assert_array_equal(vs.allele_counts[0], [2, 2])
    assert ss.n_missing.tolist() == [0, 0, 0, 1]
    hr, het, ha = vs.diploid_counts()
    assert (hr[0], het[0], ha[0]) == (0, 1, 0)


def test_ploidy_one_is_padded_as_hemizygous():
    g = np.array([[[0], [1], [-1]]], np.int8)
    vs, _ss = fused_stats(g)
    assert vs.n_haploid[0] == 2 and vs.n_missing[0] == 1
    np.testing.assert_array_equal(vs.allele_counts[0], [1, 1])


def test_accepts_scikit_allel_arrays_and_wider_ints():
    g = random_genotypes(n_variants=30, n_samples=7, seed=1)
    a = fused_stats(allel.GenotypeArray(g))[0]
    b = fused_stats(g.astype(np.int32))[0]
    c = fused_stats(allel.GenotypeDaskArray(da.from_array(g, chunks=(10, 7, 2))))[0]
    for other in (b, c):
        np.testing.assert_array_equal(a.allele_counts, other.allele_counts)


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((3, 4), np.int8), "variants × samples × ploidy"),
        (np.zeros((3, 4, 3), np.int8), "ploidy 3"),
        (np.zeros((3, 4, 2), float), "integers"),
        (np.full((3, 4, 2), 300, np.int16), "int8"),
    ],
)
def test_bad_arrays_are_refused(bad, match):
    with pytest.raises(InputError, match=match):
        fused_stats(bad)


def test_bad_labels_and_classes_are_refused():
    g = np.zeros((2, 3, 2), np.int8)
    with pytest.raises(InputError, match="one label per sample"):
        fused_stats(g, populations=["a", "b"])
    with pytest.raises(InputError, match="no population label"):
        fused_stats(g, populations=["a", None, "b"])
    with pytest.raises(InputError, match="variant_class"):
        fused_stats(g, variant_class=[0, 5])


def test_titv_class():
    ref = ["A", "C", "G", "T", "A", "AT", "A", "c"]
    alt = ["G", "T", "T", "A", "A", "A", "G,C", "t"]
    expected = [TRANSITION, TRANSITION, TRANSVERSION, TRANSVERSION, OTHER, OTHER, OTHER]
    assert titv_class(ref, alt).tolist() == [*expected, TRANSITION]
