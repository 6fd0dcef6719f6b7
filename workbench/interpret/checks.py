"""Family checks before filtering: the genotype read, sex against X genotypes, parentage.

Split from :mod:`workbench.interpret.filter`, which runs these checks on every family.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..errors import InputError, require_columns

__all__ = ["genotypes_in_genes", "parentage_check", "sex_check"]


def _parse_genotypes(genotypes) -> tuple[pd.DataFrame, list[str], np.ndarray]:
    """Check a session's genotype dict (or a list of them) and concatenate."""
    parts = [genotypes] if isinstance(genotypes, Mapping) else list(genotypes)
    if not parts:
        raise InputError("expected genotypes as a dict from session.genotypes(), got nothing")
    variants, calls, samples = [], [], None
    for g in parts:
        if not isinstance(g, Mapping) or not {"variants", "samples", "calls"} <= set(g):
            raise InputError(
                "expected genotypes as the dict session.genotypes() returns (variants, "
                f"samples, calls), got {type(g).__name__}"
            )
        v = g["variants"]
        require_columns(v, "genotypes['variants']", ("contig", "position", "ref", "alt"))
        c = np.asarray(g["calls"])
        s = [str(x) for x in g["samples"]]
        if c.ndim != 3 or c.shape[0] != len(v) or c.shape[1] != len(s) or c.shape[2] != 2:
            raise InputError(
                f"expected calls of shape (variants={len(v)}, samples={len(s)}, 2), got {c.shape}"
            )
        if samples is None:
            samples = s
        elif s != samples:
            raise InputError("every genotype block must have the same samples in the same order")
        variants.append(v[["contig", "position", "ref", "alt"]].reset_index(drop=True))
        calls.append(c.astype(np.int8, copy=False))
    return (
        pd.concat(variants, ignore_index=True),
        samples,
        np.concatenate(calls, axis=0) if calls else np.zeros((0, len(samples), 2), np.int8),
    )


def genotypes_in_genes(genotypes, genes) -> dict:
    """Keep only the variants inside the spans of ``genes`` (``Gene`` objects).

    Used to cut a whole-region read down to the panel genes before filtering.
    """
    variants, samples, calls = _parse_genotypes(genotypes)
    keep = np.zeros(len(variants), dtype=bool)
    codes, names = pd.factorize(variants["contig"].astype(str))
    code_of = {str(name): k for k, name in enumerate(names)}
    pos = variants["position"].to_numpy(dtype=np.int64)
    spans: dict[str, list[tuple[int, int]]] = {}
    for g in genes:
        spans.setdefault(str(g.contig), []).append((int(g.start), int(g.end)))
    for name, intervals in spans.items():
        on = np.flatnonzero(codes == code_of.get(name, -2))
        if on.size:
            keep[on] = _inside(pos[on], intervals)
    return {
        "variants": variants[keep].reset_index(drop=True),
        "samples": samples,
        "calls": calls[keep],
    }


def _inside(pos: np.ndarray, intervals: list[tuple[int, int]]) -> np.ndarray:
    """Whether each position lies in any of the closed ``intervals`` (which may overlap).

    Merges the intervals once and finds each position's candidate with a binary search,
    so the cost is O((intervals + positions) log) rather than intervals x positions.
    """
    merged: list[list[int]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    starts = np.array([m[0] for m in merged], dtype=np.int64)
    ends = np.array([m[1] for m in merged], dtype=np.int64)
    i = np.searchsorted(starts, pos, side="right") - 1
    ok = i >= 0
    ok[ok] = pos[ok] <= ends[i[ok]]
    return ok


# One call at a time, in plain Python: a case's filter reads ~10^4 calls of three people, and
# numpy's per-call overhead on two-element arrays was most of the filter's time.
def _count(call: np.ndarray, allele: int) -> int | None:
    """Copies of ``allele`` in one call; ``None`` when the call is missing."""
    a, b = call.tolist()
    if a == -1 or b == -1:
        return None
    return (a == allele) + (b == allele)


def _gt(call: np.ndarray) -> str:
    a, b = call.tolist()
    if b == -2:
        return "." if a < 0 else str(a)
    return f"{'.' if a < 0 else a}|{'.' if b < 0 else b}"


def _is_x(contig: str) -> bool:
    return str(contig).removeprefix("chr").upper() == "X"


def sex_check(calls_x: np.ndarray, sex: str) -> dict:
    """Compare a person's recorded sex with their X-chromosome genotypes.

    Parameters
    ----------
    calls_x
        Their calls at X-chromosome sites, shape (sites, 2); ``-2`` in the second column
        means no second X allele.
    sex
        ``"male"`` or ``"female"`` as recorded.

    Returns
    -------
    dict
        ``recorded``, ``x_genotypes`` (``"one X"``, ``"two X"``, ``"mixed"`` or ``None``
        without X sites), ``consistent`` (bool, or ``None`` when it cannot be told) and
        ``message`` (``None`` when consistent).
    """
    calls_x = np.asarray(calls_x)
    if sex not in ("male", "female"):
        return {
            "recorded": sex,
            "x_genotypes": None,
            "consistent": None,
            "message": f"sex is recorded as {sex!r}; expected male or female",
        }
    if calls_x.size == 0:
        return {"recorded": sex, "x_genotypes": None, "consistent": None, "message": None}
    one = calls_x[:, 1] == -2
    observed = "one X" if one.all() else "two X" if not one.any() else "mixed"
    expected = "one X" if sex == "male" else "two X"
    ok = observed == expected
    msg = None
    if not ok:
        msg = (
            f"recorded as {sex} but the X-chromosome genotypes show {observed} "
            f"({int(one.sum())} of {len(one)} sites with a single allele); check the "
            "sample identity and the recorded sex before trusting X-linked results"
        )
    return {"recorded": sex, "x_genotypes": observed, "consistent": ok, "message": msg}


def parentage_check(child: np.ndarray, parent: np.ndarray, *, max_error_rate=0.02, min_sites=20):
    """Opposing homozygotes between a child and a putative parent over autosomal sites.

    A parent passes one allele to the child, so where both are homozygous they cannot be
    homozygous for different alleles (0/0 against 1/1). The rate of such sites among the
    sites where both are homozygous and at least one carries the alternate allele is near 0
    for a true parent and far above it for someone unrelated.

    Parameters
    ----------
    child, parent
        Alternate-allele counts (0, 1, 2; negative for missing) at the same autosomal sites.

    Returns
    -------
    dict
        ``errors``, ``informative``, ``rate`` (``None`` without informative sites) and
        ``ok``: ``True`` (confirmed), ``False`` (failed), ``None`` (too few sites to tell).
    """
    child = np.asarray(child)
    parent = np.asarray(parent)
    valid = (child >= 0) & (parent >= 0)
    hom = valid & (child != 1) & (parent != 1) & ((child == 2) | (parent == 2))
    errors = int((hom & (child != parent)).sum())
    informative = int(hom.sum())
    rate = errors / informative if informative else None
    ok = None if informative < min_sites else rate <= max_error_rate
    return {"errors": errors, "informative": informative, "rate": rate, "ok": ok}


def _alt_counts(calls: np.ndarray) -> np.ndarray:
    """Non-reference allele counts per site and person (missing → -1), for parentage."""
    missing = (calls == -1).any(axis=2)
    counts = (calls > 0).sum(axis=2)
    return np.where(missing, -1, counts)


def _affected(row) -> bool:
    v = row.affected
    return bool(v) and not (isinstance(v, float) and math.isnan(v))
