"""What a variant caller does to true genotypes: missing calls and genotype errors.

The simulated genotypes are the truth. A real pipeline misses some calls, miscalls a few
genotypes and turns a handful of homozygous-reference calls into heterozygous ones, which in a
trio look exactly like de novo variants. :class:`CallingNoise` holds the rates and
:func:`noisy_calls` applies them to a block of records' genotypes at once.

The noise of a block of :data:`NOISE_BLOCK` records depends only on the noise seed and the
block's index in the cohort, so the VCF Zarr store and the VCF (written by separate passes, the
store chunk by chunk) carry the same calls, whatever the chunking.

Defaults, and the published figures they are chosen to match:

* ``missing_rate = 0.005``: exome and genome call rates of 99–99.5 % after standard QC
  (gnomAD v2 sample QC keeps call rate >= 99 %; Karczewski et al. 2020).
* ``error_rate = 1.5e-3`` per non-reference call: genotype concordance of 99.5–99.9 % for
  non-reference calls on GIAB benchmark samples (Zook et al. 2019, Nat Biotechnol 37:561), which
  puts Mendelian errors near the 0.1–1 % of a trio's variant sites seen with current callers
  (TrioTrain, Genome Res 2024: about 0.5 % of SNVs with DeepVariant).
* ``false_hets_per_person = 1``: a homozygous-reference call turned heterozygous about once per
  person. Candidate de novo calls per exome trio after filtering are a few, with roughly one
  true (Veltman & Brunner 2012, Nat Rev Genet 13:565; de Ligt et al. 2012, N Engl J Med
  367:1921). Before filtering a trio shows many more: on the exome-scale model about 19 calls
  where the child carries an allele both parents are called without, nearly all of them a
  parent's dropped allele; the standard filter that the allele is absent from population
  databases leaves about 2 (1.7 true, 0.5 false; seed 77), which is what the realism scorecard
  judges.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import InputError

__all__ = ["NOISE_BLOCK", "NO_NOISE", "CallingNoise", "noisy_calls"]

#: bio2zarr's fill for the absent second allele of a male's X.
_NO_ALLELE = -2
_MISSING = -1
#: Records per block of :func:`noisy_calls`: bio2zarr's default variant chunk, so that a VCF
#: Zarr partition never starts inside a block.
NOISE_BLOCK = 1_000


@dataclasses.dataclass(frozen=True)
class CallingNoise:
    """Rates of the calling-noise model (see the module's documentation for the defaults).

    Attributes
    ----------
    missing_rate
        Share of genotype calls written as missing (``./.``).
    error_rate
        Share of non-reference calls with one allele miscalled (a heterozygote called
        homozygous for either allele, a homozygote called heterozygous).
    false_hets_per_person
        Expected homozygous-reference calls per person turned into heterozygous (or, on a
        male's X, hemizygous alternate) calls, over the whole cohort file.
    """

    missing_rate: float = 0.005
    error_rate: float = 1.5e-3
    false_hets_per_person: float = 1.0

    def __post_init__(self):
        for name in ("missing_rate", "error_rate"):
            value = getattr(self, name)
            if not 0 <= value < 0.5:
                raise InputError(f"calling noise {name} must be in [0, 0.5), got {value}")
        if not 0 <= self.false_hets_per_person <= 1_000:
            raise InputError(
                "calling noise false_hets_per_person must be between 0 and 1000, got "
                f"{self.false_hets_per_person}"
            )

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


#: Perfect calls: the genotype files hold the simulated truth.
NO_NOISE = CallingNoise(missing_rate=0.0, error_rate=0.0, false_hets_per_person=0.0)


def noisy_calls(
    gt: np.ndarray, *, noise: CallingNoise, seed: int, block: int, num_records: int
) -> np.ndarray:
    """Apply ``noise`` to a block of records' genotypes ``(records, samples, 2)``, in place.

    ``block`` is the block's index: the records ``block * NOISE_BLOCK`` onwards of the
    ``num_records`` in the cohort file. With ``seed`` it alone decides which calls change, so
    every reader of the cohort (the VCF Zarr store chunk by chunk, the VCF in one pass) that
    asks for the records in the same blocks gets the same calls. A call ``(a, -2)`` is haploid
    (a male's X). Returns ``gt``.
    """
    if noise == NO_NOISE or gt.size == 0:
        return gt
    rng = np.random.default_rng([seed, block])
    calls = gt.reshape(-1, 2)  # one row per (record, person)
    if noise.error_rate:
        carriers = np.flatnonzero((calls[:, 0] > 0) | (calls[:, 1] > 0))
        hit = carriers[rng.random(carriers.size) < noise.error_rate]
        _miscall(calls, hit, rng)
    if noise.false_hets_per_person:
        # k draws among all calls, of which the homozygous-reference ones turn heterozygous:
        # the same as drawing among the homozygous-reference calls at the same per-call rate
        rate = noise.false_hets_per_person / max(num_records, 1)
        hit = np.unique(rng.integers(0, len(calls), rng.poisson(rate * len(calls))))
        haploid = calls[hit, 1] == _NO_ALLELE
        hom_ref = (calls[hit, 0] == 0) & ((calls[hit, 1] == 0) | haploid)
        slot = np.where(haploid, 0, rng.integers(0, 2, hit.size))
        calls[hit[hom_ref], slot[hom_ref]] = 1
    if noise.missing_rate:
        hit = np.unique(rng.integers(0, len(calls), rng.binomial(len(calls), noise.missing_rate)))
        calls[hit, 1] = np.where(calls[hit, 1] == _NO_ALLELE, _NO_ALLELE, _MISSING)
        calls[hit, 0] = _MISSING
    return gt


def _miscall(calls: np.ndarray, hit: np.ndarray, rng: np.random.Generator) -> None:
    """Change one allele of each non-reference call ``calls[hit]``: a lost or spurious allele.

    A haploid call loses its allele; a heterozygote drops one allele or doubles the other; a
    homozygous alternate loses one copy.
    """
    sub = calls[hit]
    haploid = sub[:, 1] == _NO_ALLELE
    slot = rng.integers(0, 2, hit.size)
    rows = np.arange(hit.size)
    alt = sub.max(axis=1)
    het = ~haploid & (sub[:, 0] != sub[:, 1])
    picked = sub[rows, slot]
    # a heterozygote's picked allele flips between reference and alternate; a homozygote's
    # picked allele (a haploid call's only one) becomes the reference
    new = np.where(het & (picked == 0), alt, 0).astype(sub.dtype)
    slot = np.where(haploid, 0, slot)
    sub[rows, slot] = new
    calls[hit] = sub
