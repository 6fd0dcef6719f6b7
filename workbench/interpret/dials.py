"""Dials that make a case harder, one at a time: for benchmarks and for teaching.

A referral is rarely as good as the disease's annotations, a family is not always sequenced
as a trio, and calls are not all right. Each function here takes what a session returns (a
proband's HPO terms, the family table, a genotype read) and gives a worse version of it,
deterministically from a ``numpy.random.Generator``:

* :func:`drop_terms` — **HPO dropout**: a share of the recorded terms is not written down;
* :func:`vaguer_terms` — **obfuscation**: a share of the terms is replaced by a parent
  (:func:`workbench.hpo.less_specific`, as the synthetic referrals' own imprecision);
* :func:`add_noise_terms` — **noise**: common findings unrelated to the recorded ones
  (:data:`workbench.synth.clinical.NOISE_TERM_POOL`);
* :func:`family_subset` — **family structure**: who of the family is analysed (trio, duo,
  singleton);
* :func:`miscall` — **calling noise**: more of the generator's calling noise (genotype
  errors and false heterozygous calls) on top of what the files carry.

The phenotype dials follow the simulated patients of Köhler et al. (2009, the Phenomizer)
and the LIRICAL and Exomiser benchmarks; the cohort's referrals are already drawn this way
(:class:`workbench.synth.clinical.PhenotypeNoise`), so the dials move *from* a realistic
referral, not from a perfect one. ``benchmarks/bench_ranking.py`` draws the curves.

Reference: Köhler S et al. (2009) Am J Hum Genet 85:457–464.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .. import hpo
from ..errors import InputError

__all__ = [
    "FAMILY_STRUCTURES",
    "add_noise_terms",
    "drop_terms",
    "family_subset",
    "miscall",
    "vaguer_terms",
]

#: What :func:`family_subset` can keep, from most to least informative.
FAMILY_STRUCTURES = ("family", "trio", "duo", "singleton")


def _share(value: float, name: str) -> float:
    if not 0 <= value <= 1:
        raise InputError(f"{name} must be a share between 0 and 1, got {value!r}")
    return float(value)


def _how_many(n: int, share: float) -> int:
    return round(n * share)


def drop_terms(terms: Sequence[str], share: float, rng) -> list[str]:
    """``terms`` without ``round(share × len)`` of them, chosen at random (order kept).

    At least one term stays: a referral with no phenotype at all is the variant-only
    baseline, not a point on this dial.
    """
    terms = list(terms)
    drop = min(_how_many(len(terms), _share(share, "dropout")), max(len(terms) - 1, 0))
    gone = set(rng.choice(len(terms), size=drop, replace=False).tolist()) if drop else set()
    return [t for k, t in enumerate(terms) if k not in gone]


def vaguer_terms(terms: Sequence[str], share: float, rng) -> list[str]:
    """``terms`` with ``round(share × len)`` of them replaced by a random parent.

    Never climbs to an organ system (:func:`workbench.hpo.less_specific`); a term that
    becomes the same as, or an ancestor of, one already kept is merged into it, as a
    clinician would not write both.
    """
    terms = list(terms)
    n = _how_many(len(terms), _share(share, "obfuscation"))
    chosen = set(rng.choice(len(terms), size=n, replace=False).tolist()) if n else set()
    out: list[str] = []
    for k, t in enumerate(terms):
        shown = hpo.less_specific(t, rng) if k in chosen else t
        if not any(hpo.related(shown, o) for o in out):
            out.append(shown)
    return out


def add_noise_terms(terms: Sequence[str], count: int, rng, *, pool=None) -> list[str]:
    """``terms`` and up to ``count`` findings unrelated to any of them, from ``pool``.

    ``pool`` defaults to :data:`workbench.synth.clinical.NOISE_TERM_POOL` (common,
    unspecific findings: myopia, constipation, asthma …).
    """
    if int(count) != count or count < 0:
        raise InputError(f"noise terms must be a count of 0 or more, got {count!r}")
    if pool is None:
        from ..synth.clinical import NOISE_TERM_POOL

        pool = NOISE_TERM_POOL
    return [*terms, *hpo.pick_unrelated(list(pool), list(terms), int(count), rng)]


def family_subset(family: pd.DataFrame, proband: str, structure: str) -> list[str]:
    """Who of ``family`` an analysis of the given ``structure`` keeps, proband first.

    ``family`` has ``person_id, father_id, mother_id`` (as ``session.samples()`` returns
    it). ``"family"`` keeps everyone; ``"trio"`` the proband and the parents in the table;
    ``"duo"`` the proband and the mother (the father when the mother is absent);
    ``"singleton"`` the proband alone. A structure the family cannot give (a duo without
    parents) keeps what there is.
    """
    if structure not in FAMILY_STRUCTURES:
        raise InputError(f"unknown family structure {structure!r}; use one of {FAMILY_STRUCTURES}")
    ids = [str(p) for p in family.person_id]
    if proband not in ids:
        raise InputError(f"{proband!r} is not in the family table; pass the proband's id")
    if structure == "family":
        return [proband, *[p for p in ids if p != proband]]
    me = family[family.person_id.astype(str) == proband].iloc[0]
    parents = {
        role: str(me[f"{role}_id"])
        for role in ("mother", "father")
        if isinstance(me[f"{role}_id"], str) and str(me[f"{role}_id"]) in ids
    }
    if structure == "trio":
        return [proband, *[parents[r] for r in ("father", "mother") if r in parents]]
    if structure == "duo":
        one = parents.get("mother") or parents.get("father")
        return [proband, one] if one else [proband]
    return [proband]


def miscall(calls: np.ndarray, rate: float, rng, *, sites: int) -> np.ndarray:
    """A copy of ``calls`` with more calling noise, of the kind the cohort's files carry.

    The generator's model (:mod:`workbench.synth.calling`) at genotype-error rate ``rate``
    per non-reference call — a heterozygote called homozygous for either allele, a homozygote
    heterozygous, a hemizygous call lost — and homozygous-reference calls turned heterozygous
    at the same multiple of its default (1 per person at 1.5e-3: ``rate`` 0.015 gives 10 per
    person, most of them apparent de novo calls in a trio). ``calls`` is variants × samples × 2
    int8 as a session returns it (``-1`` missing, ``-2`` no second allele); ``sites`` is the
    number of sites of the whole genome the read is part of, over which those false
    heterozygotes are spread. Missing calls stay missing; none are added.

    The generator's files already carry its default noise: the dial adds to it. (An earlier
    version flipped ``rate`` of *every* call, reference calls included: at 1e-3 that is a
    thousand false heterozygotes per exome-scale genome, far beyond any caller.)
    """
    from ..synth.calling import CallingNoise, noisy_calls

    rate = _share(rate, "calling-noise rate")
    calls = np.asarray(calls)
    if calls.ndim != 3 or calls.shape[2] != 2:
        raise InputError(f"expected calls of shape (variants, samples, 2), got {calls.shape}")
    if isinstance(sites, bool) or not isinstance(sites, int | np.integer) or sites < len(calls):
        raise InputError(f"sites must be the genome's site count (>= {len(calls)}), got {sites!r}")
    default = CallingNoise()
    noise = CallingNoise(
        missing_rate=0.0,
        error_rate=rate,
        false_hets_per_person=rate / default.error_rate * default.false_hets_per_person,
    )
    out = calls.astype(np.int8, copy=True)
    seed = int(rng.integers(2**63))
    return noisy_calls(out, noise=noise, seed=seed, block=0, num_records=int(sites))
