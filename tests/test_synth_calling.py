"""The calling-noise model: missing calls, genotype errors and false heterozygous calls."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.errors import InputError
from workbench.synth.calling import NO_NOISE, NOISE_BLOCK, CallingNoise, noisy_calls

N_PEOPLE = 500
N_RECORDS = 4_000


def _truth(record: int) -> np.ndarray:
    """Genotypes of one record: 10 % carriers, the last 100 people hemizygous men."""
    rng = np.random.default_rng(record)
    gt = (rng.random((N_PEOPLE, 2)) < 0.05).astype(np.int8)
    gt[-100:, 1] = -2
    return gt


@pytest.fixture(scope="module")
def noisy():
    noise = CallingNoise(missing_rate=0.01, error_rate=0.02, false_hets_per_person=3.0)
    truth = np.stack([_truth(r) for r in range(N_RECORDS)])
    calls = truth.copy()
    for b in range(0, N_RECORDS, NOISE_BLOCK):
        block = calls[b : b + NOISE_BLOCK]
        noisy_calls(block, noise=noise, seed=5, block=b // NOISE_BLOCK, num_records=N_RECORDS)
    return noise, truth, calls


def test_missing_calls_at_the_rate_and_men_stay_hemizygous(noisy):
    noise, truth, calls = noisy
    missing = calls[..., 0] == -1
    assert missing.mean() == pytest.approx(noise.missing_rate, rel=0.1)
    assert (calls[missing & (truth[..., 1] != -2), 1] == -1).all()
    assert (calls[:, -100:, 1] == -2).all()  # a man's missing X call stays haploid


def test_genotype_errors_hit_carriers_at_the_rate(noisy):
    noise, truth, calls = noisy
    called = calls[..., 0] != -1
    carrier = (truth > 0).any(axis=2) & called
    changed = (calls != truth).any(axis=2) & called
    # an error changes a carrier's call; a false heterozygous call changes a non-carrier's
    assert changed[carrier].mean() == pytest.approx(noise.error_rate, rel=0.15)


def test_false_heterozygous_calls_per_person(noisy):
    noise, truth, calls = noisy
    hom_ref = (truth <= 0).all(axis=2)
    gained = hom_ref & (calls > 0).any(axis=2)
    per_person = gained.sum(axis=0)
    assert per_person.mean() == pytest.approx(noise.false_hets_per_person, rel=0.15)
    assert (calls[gained][:, 0] + np.maximum(calls[gained][:, 1], 0) == 1).all()  # one allele


def test_a_block_s_noise_depends_only_on_seed_and_block():
    noise = CallingNoise(missing_rate=0.05, error_rate=0.05, false_hets_per_person=50.0)
    truth = np.stack([_truth(r) for r in range(20)])

    def noisy(seed, block):
        return noisy_calls(truth.copy(), noise=noise, seed=seed, block=block, num_records=100)

    assert (noisy(1, 3) == noisy(1, 3)).all()
    assert (noisy(1, 3) != noisy(2, 3)).any() and (noisy(1, 3) != noisy(1, 4)).any()


def test_genotype_errors_change_one_allele_of_each_call_they_hit():
    noise = CallingNoise(missing_rate=0.0, error_rate=0.3, false_hets_per_person=0.0)
    truth = np.array([[[0, 1]], [[1, 1]], [[1, -2]], [[1, 2]]] * 500, dtype=np.int8)
    truth = truth.reshape(1, -1, 2)
    calls = noisy_calls(truth.copy(), noise=noise, seed=3, block=0, num_records=1)[0]
    kind = np.arange(calls.shape[0]) % 4
    hit = (calls != truth[0]).any(axis=1)
    assert 0.2 < hit.mean() < 0.4
    # a heterozygote becomes homozygous for either allele
    assert {tuple(sorted(c)) for c in calls[hit & (kind == 0)]} == {(0, 0), (1, 1)}
    # a homozygote loses one copy; a man's X call its allele, and stays haploid
    assert {tuple(sorted(c)) for c in calls[hit & (kind == 1)]} == {(0, 1)}
    assert {tuple(c) for c in calls[hit & (kind == 2)]} == {(0, -2)}
    # a two-alternate heterozygote loses one of its alleles to the reference
    assert {tuple(sorted(c)) for c in calls[hit & (kind == 3)]} == {(0, 1), (0, 2)}


def test_no_noise_leaves_the_truth():
    gt = _truth(3)[None]
    assert (noisy_calls(gt.copy(), noise=NO_NOISE, seed=1, block=0, num_records=1) == gt).all()


@pytest.mark.parametrize(
    "kwargs",
    [{"missing_rate": -0.1}, {"error_rate": 0.7}, {"false_hets_per_person": -1}],
)
def test_impossible_rates_are_refused(kwargs):
    with pytest.raises(InputError, match="calling noise"):
        CallingNoise(**kwargs)
