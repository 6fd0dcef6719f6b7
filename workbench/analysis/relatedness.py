"""Relatedness: KING-robust kinship, degree calls, family recovery, Mendel errors.

Kinship of every pair of people comes from a few matrix products of 0/1 genotype-class
indicators (heterozygous, homozygous reference, homozygous alternate, called), summed over
blocks of variants, so a dask-backed cohort is read chunk by chunk. The result is
n_samples × n_samples: fine for thousands of people, not for all 60,000 of the national
preset at once (select a subset of samples first).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InputError
from .structure import (
    _calls,
    _check_fraction,
    _common_biallelic,
    _dosage,
    _is_dask,
    _variant_summary,
)

__all__ = [
    "DEGREE_LABELS",
    "UNRELATED",
    "MendelErrors",
    "expected_relatives",
    "king_kinship",
    "mendel_errors",
    "recover_families",
    "relationship_degree",
    "relatives",
]

#: Degree code of pairs more distant than third degree.
UNRELATED = 4
#: Readable names of the degree codes returned by :func:`relationship_degree`.
DEGREE_LABELS = {
    0: "duplicate / MZ twin",
    1: "first degree",
    2: "second degree",
    3: "third degree",
    UNRELATED: "unrelated",
}
# Manichaikul et al. (2010), Table 1: kinship bounds 2^-(d + 3/2) between degrees d and d + 1.
_BOUNDS = (2**-1.5, 2**-2.5, 2**-3.5, 2**-4.5)  # 0.354, 0.177, 0.0884, 0.0442

# Variants per block of the kinship products.
_BLOCK = 8192


def _sample_ids(sample_ids, n: int) -> pd.Index:
    if sample_ids is None:
        return pd.RangeIndex(n, name="sample_id")
    ids = pd.Index([str(s) for s in sample_ids], name="sample_id")
    if len(ids) != n:
        raise InputError(f"expected {n} sample ids (one per genotype column), got {len(ids)}")
    if ids.has_duplicates:
        raise InputError("sample ids must be unique")
    return ids


def king_kinship(
    genotypes,
    *,
    sample_ids=None,
    min_maf: float = 0.01,
) -> pd.DataFrame:
    """KING-robust kinship coefficient of every pair of samples.

    ``phi_ij = (N_het,het − 2 N_opposite-hom) / (N_het(i) + N_het(j))``, counting only
    variants called in both. The estimate is robust to differences in allele frequency
    between families but assumes both people come from one population: pairs across
    populations come out negative.

    Parameters
    ----------
    genotypes
        Genotypes (variants × samples × ploidy) of autosomes, in memory or dask-backed; a
        chrX call of a male is missing, so leave chrX out.
    sample_ids
        Labels of the samples (rows and columns of the result).
    min_maf
        Use biallelic variants with at least this minor allele frequency in the cohort.

    Returns
    -------
    pandas.DataFrame
        Symmetric, float64; 0.5 on the diagonal; NaN for a pair with no heterozygous call
        between them.

    References
    ----------
    Manichaikul et al. (2010), Robust relationship inference in genome-wide association
    studies, Bioinformatics 26:2867–2873 (equation 11 and Table 1).
    """
    min_maf = _check_fraction("min_maf", min_maf, 0.0, 0.5, hi_open=True)
    calls = _calls(genotypes)
    ids = _sample_ids(sample_ids, calls.shape[1])
    keep = np.flatnonzero(_common_biallelic(_variant_summary(calls), min_maf))
    if len(keep) == 0:
        raise InputError(f"no biallelic variant has minor allele frequency >= {min_maf}")
    n = calls.shape[1]
    hethet = np.zeros((n, n))
    opposite = np.zeros((n, n))
    het_called = np.zeros((n, n))  # [i, j]: hets of i at variants called in j
    dosage = _dosage(calls[keep])
    for lo in range(0, len(keep), _BLOCK):
        block = dosage[lo : lo + _BLOCK]
        d = np.asarray(block.compute() if _is_dask(block) else block)
        # float32 indicators: the counts of one block are exact (< 2^24).
        het = (d == 1).astype(np.float32)
        ref = (d == 0).astype(np.float32)
        alt = (d == 2).astype(np.float32)
        called = (d >= 0).astype(np.float32)
        hethet += het.T @ het
        ref_alt = ref.T @ alt
        opposite += ref_alt + ref_alt.T
        het_called += het.T @ called
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = (hethet - 2 * opposite) / (het_called + het_called.T)
    return pd.DataFrame(phi, index=ids, columns=ids.rename(None))


def relationship_degree(kinship) -> np.ndarray:
    """Degree of relationship from KING kinship (Manichaikul et al. 2010, Table 1).

    Returns an integer array of the same shape: 0 duplicate / MZ twin (> 0.354), 1 first
    degree (parent–child, full siblings; > 0.177), 2 second (> 0.0884), 3 third (> 0.0442),
    :data:`UNRELATED` (4) otherwise, including NaN.
    """
    phi = np.asarray(kinship, dtype=np.float64)
    degree = np.full(phi.shape, UNRELATED, dtype=np.int64)
    for d, bound in reversed(list(enumerate(_BOUNDS))):
        degree[phi > bound] = d
    return degree


def relatives(kinship: pd.DataFrame, *, max_degree: int = 3) -> pd.DataFrame:
    """Pairs of distinct samples related to degree ``max_degree`` or closer.

    Returns a table ``sample_a, sample_b, kinship, degree`` (``sample_a`` before ``sample_b``
    in the kinship order), closest pairs first.
    """
    if max_degree not in DEGREE_LABELS:
        raise InputError(f"max_degree must be one of {sorted(DEGREE_LABELS)}, got {max_degree!r}")
    phi = kinship.to_numpy()
    i, j = np.triu_indices(len(phi), k=1)
    values = phi[i, j]
    degree = relationship_degree(values)
    sel = degree <= max_degree
    ids = np.asarray(kinship.index)
    table = pd.DataFrame(
        {
            "sample_a": ids[i[sel]],
            "sample_b": ids[j[sel]],
            "kinship": values[sel],
            "degree": degree[sel],
        }
    )
    return table.sort_values(
        ["degree", "kinship"], ascending=[True, False], kind="stable"
    ).reset_index(drop=True)


def expected_relatives(samples: pd.DataFrame) -> pd.DataFrame:
    """First-degree pairs the registry pedigree implies: parent–child and full siblings.

    ``samples`` needs ``person_id, family_id, father_id, mother_id`` (as
    :meth:`Cohort.samples` returns). Returns ``sample_a, sample_b, family_id, relationship``
    with ``sample_a < sample_b``.
    """
    missing = {"person_id", "family_id", "father_id", "mother_id"} - set(samples.columns)
    if missing:
        raise InputError(f"samples table lacks columns {sorted(missing)}; pass cohort.samples()")
    present = set(samples.person_id)
    rows = []
    for child in samples.itertuples(index=False):
        for parent in (child.father_id, child.mother_id):
            if isinstance(parent, str) and parent in present:
                a, b = sorted((child.person_id, parent))
                rows.append((a, b, child.family_id, "parent-child"))
    with_parents = samples.dropna(subset=["father_id", "mother_id"])
    for _, sibs in with_parents.groupby(["father_id", "mother_id"]):
        ids = sorted(sibs.person_id)
        for x, a in enumerate(ids):
            for b in ids[x + 1 :]:
                rows.append((a, b, sibs.family_id.iloc[0], "full siblings"))
    table = pd.DataFrame(rows, columns=["sample_a", "sample_b", "family_id", "relationship"])
    return (
        table.drop_duplicates(["sample_a", "sample_b"])
        .sort_values(["sample_a", "sample_b"])
        .reset_index(drop=True)
    )


def _null_scatter(phi: np.ndarray, expected_pairs: list[tuple[int, int]]) -> tuple[float, float]:
    """Centre and robust spread (median, 1.4826 × MAD) of the kinship of pairs the pedigree
    does not link: the noise an unrelated pair's estimate carries on this genome."""
    n = len(phi)
    mask = np.triu(np.ones((n, n), dtype=bool), k=1)
    for i, j in expected_pairs:
        mask[min(i, j), max(i, j)] = False
    values = phi[mask]
    values = values[np.isfinite(values)]
    if len(values) < 10:
        return 0.0, 0.0
    centre = float(np.median(values))
    return centre, float(1.4826 * np.median(np.abs(values - centre)))


def recover_families(
    kinship: pd.DataFrame, samples: pd.DataFrame, *, max_degree: int = 2, alpha: float = 0.05
) -> pd.DataFrame:
    """Compare genetic relatives with the registry pedigree.

    Parameters
    ----------
    kinship
        :func:`king_kinship` result labelled with person ids.
    samples
        The registry samples (``cohort.samples()``).
    max_degree
        Report pairs not in the pedigree that are related this closely or closer.
    alpha
        Family-wise error rate for flagging a pair the pedigree does not link: its kinship
        must stand out from the scatter of unlinked pairs (robust z against their median and
        MAD) past the Bonferroni bound for the number of pairs tested.

    Returns
    -------
    pandas.DataFrame
        One row per expected first-degree pair and per unexpected relative pair:
        ``sample_a, sample_b, family_a, family_b, relationship`` (the pedigree's, ``""`` when
        none), ``kinship, degree, z`` (robust z against unlinked pairs) and ``status``:
        ``"confirmed"`` (expected and called first degree), ``"missed"`` (expected, called
        otherwise) or ``"unexpected"`` (not in the pedigree, called ``max_degree`` or closer
        and significant at ``alpha`` — a sample swap, a cryptic relative or a pedigree error
        to look into). ``attrs`` holds ``null_centre``, ``null_sd``, ``z_threshold``,
        ``min_detectable_kinship``, ``n_not_significant`` (unlinked pairs past the degree
        bound that the scatter explains) and ``notes``.

    Notes
    -----
    On a short genome (the synthetic presets are a few megabases) unrelated people's kinship
    scatters widely, because few independent segments are averaged; thousands of unlinked
    pairs then pass the second-degree bound by chance. The significance test keeps those out,
    and ``attrs["notes"]`` says which kinship can no longer be told from noise.
    """
    from scipy.stats import norm

    if not kinship.index.equals(pd.Index(kinship.columns)):
        raise InputError("kinship must have the same samples on both axes (king_kinship's result)")
    _check_fraction("alpha", alpha, 0.0, 1.0, hi_open=True)
    if alpha <= 0:
        raise InputError(f"alpha must be above 0, got {alpha}")
    expected = expected_relatives(samples)
    in_data = set(kinship.index)
    expected = expected[expected.sample_a.isin(in_data) & expected.sample_b.isin(in_data)]
    pos = {s: k for k, s in enumerate(kinship.index)}
    phi = kinship.to_numpy()
    pairs = [(pos[a], pos[b]) for a, b in zip(expected.sample_a, expected.sample_b, strict=True)]
    exp_phi = np.array([phi[i, j] for i, j in pairs], dtype=np.float64)
    centre, sd = _null_scatter(phi, pairs)
    n_tests = max(len(phi) * (len(phi) - 1) // 2 - len(pairs), 1)
    z_threshold = float(norm.isf(alpha / n_tests))

    def robust_z(values):
        values = np.asarray(values, dtype=np.float64)
        if sd == 0:
            return np.where(values > centre, np.inf, 0.0)
        return (values - centre) / sd

    exp_rows = expected.assign(
        kinship=exp_phi,
        degree=relationship_degree(exp_phi),
        z=robust_z(exp_phi),
    )
    exp_rows["status"] = np.where(exp_rows.degree == 1, "confirmed", "missed")
    found = relatives(kinship, max_degree=max_degree)
    key = set(zip(expected.sample_a, expected.sample_b, strict=True))
    ordered = [tuple(sorted(p)) for p in zip(found.sample_a, found.sample_b, strict=True)]
    extra = found[[p not in key for p in ordered]].copy()
    extra["z"] = robust_z(extra.kinship)
    significant = extra.z >= z_threshold
    n_not_significant = int((~significant).sum())
    extra = extra[significant]
    if len(extra):
        extra[["sample_a", "sample_b"]] = [
            tuple(sorted(p)) for p in zip(extra.sample_a, extra.sample_b, strict=True)
        ]
    extra["relationship"] = ""
    extra["status"] = "unexpected"
    family = samples.set_index("person_id").family_id
    table = pd.concat([exp_rows.drop(columns="family_id"), extra], ignore_index=True)
    table["family_a"] = table.sample_a.map(family)
    table["family_b"] = table.sample_b.map(family)
    columns = [
        "sample_a",
        "sample_b",
        "family_a",
        "family_b",
        "relationship",
        "kinship",
        "degree",
        "z",
        "status",
    ]
    table = table[columns].sort_values(["status", "sample_a", "sample_b"]).reset_index(drop=True)
    min_detectable = centre + z_threshold * sd
    notes = []
    if n_not_significant:
        notes.append(
            f"{n_not_significant} unlinked pair(s) pass the degree-{max_degree} bound but not the "
            f"significance test: unrelated pairs' kinship scatters with SD {sd:.3f} here"
        )
    bound = _BOUNDS[max_degree] if max_degree < len(_BOUNDS) else -np.inf
    if min_detectable > bound:
        notes.append(
            f"only kinship above {min_detectable:.3f} stands out from that scatter; relatives "
            f"nearer the degree-{max_degree} bound ({bound:.3f}) cannot be told from noise on "
            "this genome (a longer genome narrows the scatter)"
        )
    table.attrs.update(
        null_centre=centre,
        null_sd=sd,
        z_threshold=z_threshold,
        min_detectable_kinship=min_detectable,
        n_not_significant=n_not_significant,
        notes=notes,
    )
    return table


@dataclass(frozen=True)
class MendelErrors:
    """Mendelian inconsistencies in parent–child trios.

    ``per_trio``: one row per trio (``child, father, mother, errors, checked``: variants
    where all three are called). ``per_variant``: errors at each input variant (int array).
    """

    per_trio: pd.DataFrame
    per_variant: np.ndarray


def _trio_errors(c: np.ndarray, f: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Errors and assessed calls, each (variants × trios), of diploid-coded trio calls.

    An allele ``-2`` is absent (a male's second chrX allele); ``-1`` is missing. A haploid
    child (male on chrX) must carry one of the mother's alleles; a diploid child one allele
    from each parent, where a haploid father passes his single allele.
    """

    def carries(parent, allele):
        return ((parent == allele[..., None]) & (parent >= 0)).any(axis=-1)

    checked = ~((c == -1).any(axis=-1) | (f == -1).any(axis=-1) | (m == -1).any(axis=-1))
    haploid_child = c[..., 1] == -2
    c0, c1 = c[..., 0], c[..., 1]
    diploid_ok = (carries(f, c0) & carries(m, c1)) | (carries(f, c1) & carries(m, c0))
    haploid_ok = carries(m, c0)
    ok = np.where(haploid_child, haploid_ok, diploid_ok)
    return checked & ~ok, checked


def mendel_errors(genotypes, samples: pd.DataFrame) -> MendelErrors:
    """Count Mendelian errors in every trio whose father and mother are in the cohort.

    Parameters
    ----------
    genotypes
        Diploid genotypes (variants × samples × 2), in memory or dask-backed; columns in the
        order of ``samples`` (``cohort.samples()`` is in genotype order). On chrX a male's
        second allele is ``-2``: a son must carry one of his mother's alleles, a daughter her
        father's single allele and one of her mother's.
    samples
        ``person_id, father_id, mother_id`` per genotype column.

    Returns
    -------
    MendelErrors
    """
    calls = _calls(genotypes)
    if calls.shape[2] != 2:
        raise InputError(f"Mendel errors need diploid-coded calls, got ploidy {calls.shape[2]}")
    if len(samples) != calls.shape[1]:
        raise InputError(
            f"expected one samples row per genotype column ({calls.shape[1]}), got {len(samples)}"
        )
    pos = {s: k for k, s in enumerate(samples.person_id)}
    trios = [
        (r.person_id, r.father_id, r.mother_id)
        for r in samples.itertuples(index=False)
        if r.father_id in pos and r.mother_id in pos
    ]
    per_variant = np.zeros(calls.shape[0], dtype=np.int64)
    errors = np.zeros(len(trios), dtype=np.int64)
    checked = np.zeros(len(trios), dtype=np.int64)
    if trios:
        cols = np.array([[pos[x] for x in t] for t in trios])
        members = np.unique(cols)
        local = np.searchsorted(members, cols)
        sub = calls[:, members]
        step = 16384
        for lo in range(0, calls.shape[0], step):
            block = sub[lo : lo + step]
            g = np.asarray(block.compute() if _is_dask(block) else block)
            err, ok = _trio_errors(g[:, local[:, 0]], g[:, local[:, 1]], g[:, local[:, 2]])
            per_variant[lo : lo + len(g)] = err.sum(axis=1)
            errors += err.sum(axis=0)
            checked += ok.sum(axis=0)
    per_trio = pd.DataFrame(
        {
            "child": [t[0] for t in trios],
            "father": [t[1] for t in trios],
            "mother": [t[2] for t in trios],
            "errors": errors,
            "checked": checked,
        }
    )
    return MendelErrors(per_trio=per_trio, per_variant=per_variant)
