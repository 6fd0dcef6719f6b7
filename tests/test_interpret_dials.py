"""The dials that make a case harder (phenotype dropout, vagueness, noise; family; calls)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench import hpo
from workbench.errors import InputError
from workbench.interpret.dials import (
    add_noise_terms,
    drop_terms,
    family_subset,
    miscall,
    vaguer_terms,
)

#: A boy with Duchenne: specific terms with parents below the organ systems.
TERMS = ["HP:0003560", "HP:0003707", "HP:0001263", "HP:0003236", "HP:0001638"]


def rng(seed=1):
    return np.random.default_rng(seed)


def test_dropout_removes_the_share_keeps_order_and_never_empties():
    kept = drop_terms(TERMS, 0.4, rng())
    assert len(kept) == 3
    assert kept == [t for t in TERMS if t in kept]
    assert len(drop_terms(TERMS, 1.0, rng())) == 1
    assert drop_terms(TERMS, 0.0, rng()) == TERMS
    assert drop_terms(TERMS, 0.4, rng(7)) == drop_terms(TERMS, 0.4, rng(7))
    with pytest.raises(InputError, match="between 0 and 1"):
        drop_terms(TERMS, 1.5, rng())


def test_obfuscation_replaces_terms_by_ancestors_below_the_organ_systems():
    vague = vaguer_terms(TERMS, 1.0, rng())
    assert vague and not set(vague) & set(TERMS)
    for t in vague:
        assert any(hpo.is_a(orig, t) for orig in TERMS)  # each is an ancestor of a term
        assert hpo.PHENOTYPIC_ABNORMALITY not in hpo.parents(t)  # never an organ system
    for a in vague:  # merged: no term is another's ancestor
        assert not any(a != b and hpo.related(a, b) for b in vague)
    assert vaguer_terms(TERMS, 0.0, rng()) == TERMS


def test_noise_terms_are_unrelated_to_the_phenotype():
    noisy = add_noise_terms(TERMS, 2, rng())
    assert noisy[: len(TERMS)] == TERMS and len(noisy) == len(TERMS) + 2
    for extra in noisy[len(TERMS) :]:
        assert not any(hpo.related(extra, t) for t in TERMS)
    with pytest.raises(InputError, match="count of 0 or more"):
        add_noise_terms(TERMS, -1, rng())


def test_family_subsets_keep_the_right_people():
    family = pd.DataFrame(
        {
            "person_id": ["P1", "F", "M", "S"],
            "father_id": ["F", None, None, "F"],
            "mother_id": ["M", None, None, "M"],
        }
    )
    assert family_subset(family, "P1", "family") == ["P1", "F", "M", "S"]
    assert family_subset(family, "P1", "trio") == ["P1", "F", "M"]
    assert family_subset(family, "P1", "duo") == ["P1", "M"]
    assert family_subset(family, "P1", "singleton") == ["P1"]
    fatherless = family[family.person_id != "M"]
    assert family_subset(fatherless, "P1", "duo") == ["P1", "F"]
    with pytest.raises(InputError, match="unknown family structure"):
        family_subset(family, "P1", "quartet")


def test_miscall_adds_the_generator_s_noise_errors_on_carriers_few_false_hets():
    calls = np.zeros((20_000, 3, 2), dtype=np.int8)
    calls[:, 2] = (0, 1)  # the third person is heterozygous everywhere
    calls[:100, 0] = -1  # missing
    calls[100:200, 1, 1] = -2  # a man's X
    before = calls.copy()
    out = miscall(calls, 0.05, rng(), sites=20_000)
    changed = (out != calls).any(axis=2)
    assert 0.04 < changed[:, 2].mean() < 0.06  # the error rate, on non-reference calls
    # reference calls: only the false heterozygotes, 0.05 / 1.5e-3 ≈ 33 per person per genome
    assert 10 < changed[:, :2].sum() < 80
    assert (out[:100, 0] == -1).all()
    assert (out[100:200, 1, 1] == -2).all()
    np.testing.assert_array_equal(calls, before)  # the input is not modified
    np.testing.assert_array_equal(miscall(calls, 0.0, rng(), sites=20_000), calls)
    again = miscall(calls, 0.05, rng(), sites=20_000)
    np.testing.assert_array_equal(out, again)  # deterministic from the generator
    # a region of a larger genome gets its share of the false heterozygotes, not all of them
    part = miscall(calls, 0.05, rng(), sites=2_000_000)
    assert (part[:, :2] != calls[:, :2]).any(axis=2).sum() < 5
    with pytest.raises(InputError, match="sites"):
        miscall(calls, 0.05, rng(), sites=10)
