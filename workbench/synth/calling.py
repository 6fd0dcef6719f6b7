"""What a variant caller does to true genotypes: missing calls and genotype errors.

The simulated genotypes are the truth. A real pipeline misses some calls, miscalls a few
genotypes and turns a handful of homozygous-reference calls into heterozygous ones, which in a
trio look exactly like de novo variants. :class:`CallingNoise` holds the rates and
:func:`noisy_call` applies them to one record's genotypes.

The noise of a record depends only on the noise seed and the record's index in the cohort, so
the VCF Zarr store and the VCF (written by separate passes, the store chunk by chunk) carry the
same calls, whatever the chunking.

Defaults, and the published figures they are chosen to match:

* ``missing_rate = 0.005``: exome and genome call rates of 99–99.5 % after standard QC
  (gnomAD v2 sample QC keeps call rate >= 99 %; Karczewski et al. 2020).
* ``error_rate = 1.5e-3`` per non-reference call: genotype concordance of 99.5–99.9 % for
  non-reference calls on GIAB benchmark samples (Zook et al. 2019, Nat Biotechnol 37:561), which
  puts Mendelian errors near the 0.1–1 % of a trio's variant sites seen with current callers
  (TrioTrain, Genome Res 2024: about 0.5 % of SNVs with DeepVariant).
* ``false_hets_per_person = 1``: a homozygous-reference call turned heterozygous about once per
  person; with the parents' dropped alleles a trio shows two to four apparent de novo calls
  that are false, next to about one true coding de novo variant (candidate de novo calls per
  exome trio after filtering: a few, with roughly one true; Veltman & Brunner 2012, Nat Rev
  Genet 13:565; de Ligt et al. 2012, N Engl J Med 367:1921).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import InputError

__all__ = ["NO_NOISE", "CallingNoise", "noisy_call"]

#: bio2zarr's fill for the absent second allele of a male's X.
_NO_ALLELE = -2
_MISSING = -1


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


def noisy_call(
    gt: np.ndarray, *, noise: CallingNoise, seed: int, record: int, num_records: int
) -> np.ndarray:
    """Apply ``noise`` to one record's genotypes ``(samples, 2)``, in place; return them.

    ``record`` is the record's index among ``num_records`` in the cohort file; with ``seed``
    it alone decides which calls change. A call ``(a, -2)`` is haploid (a male's X).
    """
    if noise == NO_NOISE:
        return gt
    rng = np.random.default_rng([seed, record])
    n = gt.shape[0]
    if noise.error_rate:
        # people with a non-reference allele (a flat scan: this runs once per record)
        carriers = np.unique(np.flatnonzero(gt.reshape(-1) > 0) >> 1)
        for i in carriers[rng.random(carriers.size) < noise.error_rate]:
            _miscall(gt[i], gt[i, 1] == _NO_ALLELE, rng)
    if noise.false_hets_per_person:
        # k draws among all calls, of which the homozygous-reference ones turn heterozygous:
        # the same as drawing among the homozygous-reference calls at the same per-call rate
        rate = noise.false_hets_per_person / max(num_records, 1)
        for i in np.unique(rng.integers(0, n, rng.poisson(rate * n))):
            haploid = gt[i, 1] == _NO_ALLELE
            if gt[i, 0] == 0 and (gt[i, 1] == 0 or haploid):
                gt[i, 0 if haploid else int(rng.integers(2))] = 1
    if noise.missing_rate:
        hit = np.unique(rng.integers(0, n, rng.binomial(n, noise.missing_rate)))
        gt[hit, 1] = np.where(gt[hit, 1] == _NO_ALLELE, _NO_ALLELE, _MISSING)
        gt[hit, 0] = _MISSING
    return gt


def _miscall(call: np.ndarray, haploid: bool, rng: np.random.Generator) -> None:
    """Change one allele of a non-reference call: a lost or a spurious allele."""
    if haploid:
        call[0] = 0
        return
    alt = int(call.max())
    if call[0] != call[1]:  # heterozygote: drop one allele or double the other
        slot = int(rng.integers(2))
        call[slot] = alt if call[slot] == 0 else 0
    else:  # homozygous alternate: lose one copy
        call[int(rng.integers(2))] = 0
