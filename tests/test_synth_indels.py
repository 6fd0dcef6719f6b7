"""Small indels among the simulated variants, and purifying selection on coding ones."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from workbench.errors import InputError
from workbench.genome import build_reference
from workbench.genome.normalize import normalize
from workbench.synth.genomes import assign_reference_alleles
from workbench.synth.indels import INDEL_SHARE, add_indels
from workbench.synth.population import PRESETS, make_people, simulate_contig
from workbench.synth.selection import purify

LENGTH = 400_000


@pytest.fixture(scope="module")
def contig():
    people = make_people(PRESETS["tiny"], rng=np.random.default_rng(3))
    reference = build_reference(
        contigs={"chr1": LENGTH},
        genes=[("SCN1A", "chr1"), ("CFTR", "chr1"), ("BRCA1", "chr1")],
        rng=np.random.default_rng(4),
    )
    g = simulate_contig(people, contig="chr1", length=LENGTH, panel_per_population=60, seed=5)
    ts = assign_reference_alleles(g.ts, reference.sequence("chr1"))
    return reference, ts


def _alleles(ts):
    return [
        (int(s.position) + 1, s.ancestral_state, s.mutations[0].derived_state, s)
        for s in ts.sites()
    ]


def test_about_one_variant_in_ten_becomes_a_normalised_indel(contig):
    reference, ts = contig
    seq = reference.sequence("chr1")
    out = add_indels(ts, seq, rng=np.random.default_rng(1))
    assert out.num_sites == ts.num_sites
    indels = [(p, r, a) for p, r, a, _ in _alleles(out) if len(r) != len(a)]
    share = len(indels) / out.num_sites
    assert 0.5 * INDEL_SHARE < share < 1.1 * INDEL_SHARE
    lengths = np.array([abs(len(r) - len(a)) for _, r, a in indels])
    assert (lengths == 1).mean() > 0.35 and lengths.max() > 3  # mostly 1 bp, a long tail
    for p, r, a in indels:
        assert seq[p - 1 : p - 1 + len(r)] == r
        assert normalize(seq, p, r, a) == (p, r, a)  # left-aligned and parsimonious
    spans = sorted((p, p + len(r)) for p, r, _, _ in _alleles(out))
    assert all(b <= c for (_, b), (c, _) in itertools.pairwise(spans))  # no overlap


def test_an_indel_keeps_the_carriers_of_the_site_it_replaces(contig):
    reference, ts = contig
    out = add_indels(ts, reference.sequence("chr1"), rng=np.random.default_rng(1))
    before = {s.mutations[0].node for s in ts.sites() if len(s.mutations) == 1}
    changed = [
        s for s in out.sites() if len(s.ancestral_state) != len(s.mutations[0].derived_state)
    ]
    assert changed and all(s.mutations[0].node in before for s in changed)


def test_frameshifts_are_rarer_inside_coding_sequence(contig):
    reference, ts = contig
    cds = [(0, LENGTH // 2)]  # call the first half coding: enough indels on both sides
    out = add_indels(
        ts, reference.sequence("chr1"), rng=np.random.default_rng(2), share=0.9, coding=cds
    )

    def in_cds(p, r):
        return any(a < p - 1 + len(r) and p - 1 < b for a, b in cds)

    frameshift = {True: [0, 0], False: [0, 0]}
    for p, r, a, _ in _alleles(out):
        if len(r) != len(a):
            frameshift[in_cds(p, r)][abs(len(r) - len(a)) % 3 != 0] += 1
    share = {k: v[1] / max(sum(v), 1) for k, v in frameshift.items()}
    assert sum(frameshift[True]) >= 100
    assert share[True] < share[False] - 0.2


def test_bad_indel_share_is_refused(contig):
    reference, ts = contig
    with pytest.raises(InputError, match="indel share"):
        add_indels(ts, reference.sequence("chr1"), rng=np.random.default_rng(1), share=1.5)


def test_selection_removes_damaging_alleles_and_keeps_the_rest(contig):
    reference, ts = contig
    purified = purify(ts, reference, "chr1", rng=np.random.default_rng(3))
    kept = {int(s.position) for s in purified.sites()}
    removed = [s for s in ts.sites() if int(s.position) not in kept]
    assert removed, "selection removed nothing"
    from workbench.genome import annotate

    def impact(s):
        worst = "MODIFIER"
        for a in annotate(
            reference, "chr1", int(s.position) + 1, s.ancestral_state, s.mutations[0].derived_state
        ):
            if a.impact in ("HIGH", "MODERATE") and worst != "HIGH":
                worst = a.impact
        return worst

    assert {impact(s) for s in removed} <= {"HIGH", "MODERATE"}
    coding = [s for s in ts.sites() if len(s.mutations) == 1 and impact(s) == "MODERATE"]
    lost = sum(int(s.position) not in kept for s in coding) / len(coding)
    assert 0.05 < lost < 0.6


def test_indels_never_left_align_into_another_genealogy():
    """Homopolymer runs pull deletions left across recombination breakpoints; an indel moved
    there would sit on an edge of another tree (tskit refuses it). Fails without the check."""
    import msprime

    length = 20_000
    sequence = ("A" * 40 + "CG") * (length // 42 + 1)
    sequence = sequence[:length]
    ts = msprime.sim_ancestry(
        20, sequence_length=length, recombination_rate=1e-6, population_size=10_000, random_seed=1
    )
    ts = msprime.sim_mutations(ts, rate=1e-6, random_seed=1)
    ts = assign_reference_alleles(ts, sequence)
    assert ts.num_trees > 1_000
    out = add_indels(ts, sequence, rng=np.random.default_rng(0), share=0.9)
    indels = [
        s
        for s in out.sites()
        if len(s.ancestral_state) > 1 or len(s.mutations[0].derived_state) > 1
    ]
    assert len(indels) > 300
    out.dump_tables().compute_mutation_parents()  # valid: every mutation fits its edge
