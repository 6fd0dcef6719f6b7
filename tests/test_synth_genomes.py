"""Reference alleles, planted variants and the genotype writers (VCF Zarr and VCF agree)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pysam
import pytest
import zarr

from workbench.errors import InputError
from workbench.synth.calling import CallingNoise
from workbench.synth.genomes import (
    CohortSource,
    assign_reference_alleles,
    genotypes_at,
    panel_frequencies,
    plant_variants,
    write_vcf,
    write_vcz,
)
from workbench.synth.population import PRESETS, make_people, simulate_contig

CONTIGS = {"chr1": 60_000, "chrX": 40_000}


class _Reference:
    """A stand-in reference: random sequence, one 'gene' per contig at a fixed window."""

    def __init__(self, seed=1):
        rng = np.random.default_rng(seed)
        self.seqs = {c: "".join(rng.choice(list("ACGT"), size=n)) for c, n in CONTIGS.items()}
        self.genes = {"GENEA": ("chr1", 20_000), "GENEX": ("chrX", 10_000)}

    def sequence(self, contig):
        return self.seqs[contig]


def _design(reference, gene, effect, *, rng, taken):
    contig, start = reference.genes[gene]
    for pos1 in range(start, start + 5_000):
        if (contig, pos1) not in taken and (contig, pos1 + 1) not in taken:
            ref = reference.sequence(contig)[pos1 - 1]
            if effect == "frameshift_variant":
                return contig, pos1, reference.sequence(contig)[pos1 - 1 : pos1 + 1], ref
            return contig, pos1, ref, "A" if ref != "A" else "C"
    raise AssertionError("no free position")


@pytest.fixture(scope="module")
def world():
    people = make_people(PRESETS["tiny"], rng=np.random.default_rng(3))
    ref = _Reference()
    genomes = {}
    for c, n in CONTIGS.items():
        g = simulate_contig(people, contig=c, length=n, panel_per_population=10, seed=4)
        g.ts = assign_reference_alleles(g.ts, ref.sequence(c))
        genomes[c] = g
    return people, ref, genomes


def test_every_site_starts_from_the_reference_base(world):
    _, ref, genomes = world
    for c, g in genomes.items():
        for site in g.ts.sites():
            assert site.ancestral_state == ref.sequence(c)[int(site.position)]
            assert all(
                m.derived_state != site.ancestral_state for m in site.mutations if m.parent == -1
            )


def _trio(people, sex=None):
    kids = people[people.role == "proband"]
    if sex:
        kids = kids[kids.sex == sex]
    return kids.iloc[0]


def test_planted_alleles_reach_exactly_the_intended_carriers(world):
    people, ref, genomes = world
    boy = _trio(people, "male")
    girl = people[(people.role == "proband") & (people.person_id != boy.person_id)].iloc[0]
    unrelated = people[people.role == "unrelated"].person_id.iloc[:2].tolist()
    plants = pd.DataFrame(
        [
            ("V1", "causal", "GENEA", "missense_variant", girl.person_id, "de_novo", 1),
            ("V2", "causal", "GENEA", "stop_gained", girl.person_id, "paternal", 1),
            ("V3", "causal", "GENEA", "frameshift_variant", girl.person_id, "maternal", 1),
            ("V4", "causal", "GENEX", "stop_gained", boy.person_id, "maternal", 1),
            ("V5", "secondary", "GENEA", "stop_gained", unrelated[0], "founder", 2),
            ("V6", "benign_rare", "GENEA", "synonymous_variant", unrelated[1], "founder", 1),
        ],
        columns=["variant_key", "category", "gene", "effect", "person_id", "origin", "copies"],
    )
    out = dict(genomes)
    planted = plant_variants(
        out,
        plants,
        people,
        reference=ref,
        design_variant=_design,
        rng=np.random.default_rng(0),
    )
    idx = {p: i for i, p in enumerate(people.person_id)}
    planted = planted.set_index("variant_key")

    def alt_count(key, person):
        row = planted.loc[key]
        gt = genotypes_at(out[row.contig], [int(row.position) - 1])[0][idx[person]]
        return int((gt == 1).sum())

    assert alt_count("V1", girl.person_id) == 1
    assert alt_count("V1", girl.father_id) == 0 and alt_count("V1", girl.mother_id) == 0
    assert alt_count("V2", girl.person_id) == 1 and alt_count("V2", girl.father_id) == 1
    assert alt_count("V2", girl.mother_id) == 0
    assert alt_count("V3", girl.person_id) == 1 and alt_count("V3", girl.mother_id) == 1
    assert alt_count("V3", girl.father_id) == 0
    assert planted.loc["V3", "ref"] != planted.loc["V3", "alt"]  # an indel, as designed
    assert alt_count("V4", boy.person_id) == 1 and alt_count("V4", boy.mother_id) == 1
    assert alt_count("V4", boy.father_id) == 0
    assert alt_count("V5", unrelated[0]) == 2
    assert alt_count("V6", unrelated[1]) == 1
    # nobody else carries the private variants
    for key, carriers in {"V1": 1, "V5": 1, "V6": 1}.items():
        row = planted.loc[key]
        gt = genotypes_at(out[row.contig], [int(row.position) - 1])[0]
        assert ((gt == 1).sum(axis=1) > 0).sum() == carriers


def test_a_male_cannot_inherit_a_paternal_x(world):
    people, ref, genomes = world
    boy = _trio(people, "male")
    plants = pd.DataFrame(
        [("V1", "causal", "GENEX", "stop_gained", boy.person_id, "paternal", 1)],
        columns=["variant_key", "category", "gene", "effect", "person_id", "origin", "copies"],
    )
    with pytest.raises(InputError, match="maternal"):
        plant_variants(
            dict(genomes),
            plants,
            people,
            reference=ref,
            design_variant=_design,
            rng=np.random.default_rng(0),
        )


def test_vcz_and_vcf_hold_the_same_genotypes(world, tmp_path):
    people, _, genomes = world
    source = CohortSource(list(genomes.values()), list(people.person_id))
    write_vcz(source, tmp_path / "g.vcz", show_progress=False)
    write_vcf(source, tmp_path / "g.vcf.gz", show_progress=False)
    z = zarr.open_group(tmp_path / "g.vcz", mode="r")
    assert list(z["sample_id"][:]) == list(people.person_id)
    assert list(z["contig_id"][:]) == list(CONTIGS)
    gt = z["call_genotype"][:]
    vcf = pysam.VariantFile(str(tmp_path / "g.vcf.gz"))
    records = list(vcf.fetch())
    assert len(records) == gt.shape[0] == source.num_records
    male = (people.sex == "male").to_numpy()
    for k in np.linspace(0, len(records) - 1, 25).astype(int):
        rec = records[k]
        assert rec.pos == z["variant_position"][k]
        for j, sample in enumerate(vcf.header.samples):
            expected = tuple(int(a) for a in gt[k, j] if a >= 0)
            assert rec.samples[sample]["GT"] == expected
            if rec.chrom == "chrX" and male[j]:
                assert len(rec.samples[sample]["GT"]) == 1
    # a region query through the tabix index works
    x = source._positions[list(CONTIGS).index("chrX")]
    assert len(list(vcf.fetch("chrX", 0, 40_000))) == int((x <= 40_000).sum())


def test_a_record_is_written_where_and_only_where_someone_in_the_cohort_varies(world):
    """The tree sequences also hold reference-panel people: a site only they vary at stays
    in the panel's frequencies, not in the cohort's files, and none where a person of the
    cohort varies is lost."""
    people, _, genomes = world
    source = CohortSource(list(genomes.values()), list(people.person_id))
    for c, g in enumerate(genomes.values()):
        samples = np.unique(g.cohort_nodes[g.cohort_nodes >= 0])
        varies = [
            var.site.id
            for var in g.ts.variants(samples=samples)
            if (var.genotypes != var.alleles.index(var.site.ancestral_state)).any()
        ]
        assert len(varies) < g.ts.num_sites  # the panel has private sites to leave out
        assert list(source._sites[c]) == varies


def test_noisy_calls_are_the_same_however_the_records_are_read(world, tmp_path, monkeypatch):
    # The VCF is read in one pass, the VCF Zarr store chunk by chunk: both must carry the same
    # noisy calls even where a chunk starts inside a noise block.
    import workbench.synth.genomes as genomes_module

    monkeypatch.setattr(genomes_module, "NOISE_BLOCK", 64)
    people, _, genomes = world
    noise = CallingNoise(missing_rate=0.02, error_rate=0.02, false_hets_per_person=20.0)
    source = CohortSource(
        list(genomes.values()), list(people.person_id), noise=noise, noise_seed=11
    )
    assert source.num_records > 3 * 64
    write_vcz(source, tmp_path / "g.vcz", variants_chunk_size=45, show_progress=False)
    write_vcf(source, tmp_path / "g.vcf.gz", show_progress=False)
    gt = zarr.open_group(tmp_path / "g.vcz", mode="r")["call_genotype"][:]
    clean = CohortSource(list(genomes.values()), list(people.person_id))
    truth = np.stack([g for *_, g in clean.iter_records(0, clean.num_records)])
    assert 0 < (gt != truth).any(axis=2).mean() < 0.1  # the noise is there
    vcf = pysam.VariantFile(str(tmp_path / "g.vcf.gz"))
    for k, rec in enumerate(vcf.fetch()):
        for j, call in enumerate(rec.samples.values()):
            expected = tuple(None if a == -1 else int(a) for a in gt[k, j] if a != -2)
            assert call["GT"] == expected, (k, j)
    part = np.stack([g for *_, g in source.iter_records(100, 150)])
    assert (part == gt[100:150]).all()


def test_panel_frequencies_count_one_x_per_male(world):
    _, _, genomes = world
    freq = panel_frequencies(list(genomes.values()), ["NOR", "MEN", "SAS"])
    auto = freq[freq.contig == "chr1"]
    x = freq[freq.contig == "chrX"]
    assert (auto.an_NOR == 20).all()  # 10 diploid people
    assert (x.an_NOR == 15).all()  # 5 women × 2 + 5 men × 1
    assert ((freq.af >= 0) & (freq.af <= 1)).all()
    assert np.allclose(freq.af, freq.ac / freq.an, atol=1e-6)


def test_a_null_effect_falls_back_when_its_positions_run_out(world):
    people, ref, genomes = world
    unrelated = people[people.role == "unrelated"].person_id.iloc[0]

    def no_splice_sites(reference, gene, effect, *, rng, taken):
        if effect.startswith("splice"):
            raise InputError(f"found no free {effect} variant in {gene}")
        return _design(reference, gene, effect, rng=rng, taken=taken)

    plants = pd.DataFrame(
        [
            ("V1", "secondary", "GENEA", "splice_acceptor_variant", unrelated, "founder", 1),
            ("V2", "benign_rare", "GENEA", "missense_variant", unrelated, "founder", 1),
        ],
        columns=["variant_key", "category", "gene", "effect", "person_id", "origin", "copies"],
    )
    planted = plant_variants(
        dict(genomes),
        plants,
        people,
        reference=ref,
        design_variant=no_splice_sites,
        rng=np.random.default_rng(0),
    )
    assert planted.set_index("variant_key").loc["V1", "effect"] == "stop_gained"

    def nothing_fits(reference, gene, effect, *, rng, taken):
        raise InputError(f"found no free {effect} variant in {gene}")

    with pytest.raises(InputError, match="missense_variant"):
        plant_variants(
            dict(genomes),
            plants.iloc[1:],
            people,
            reference=ref,
            design_variant=nothing_fits,
            rng=np.random.default_rng(0),
        )


def test_ti_tv_is_like_a_human_genome_and_survives_relabelling(tiny_cohort):
    from workbench.synth.genomes import _class_preserving_swap

    transitions = {("A", "G"), ("G", "A"), ("C", "T"), ("T", "C")}
    for a in "ACGT":
        for r in "ACGT":
            swap = _class_preserving_swap(a, r)
            assert swap.get(a, a) == r
            for x in "ACGT":
                for y in "ACGT":
                    if x != y:
                        mapped = (swap.get(x, x), swap.get(y, y))
                        assert ((x, y) in transitions) == (mapped in transitions)
    # ~1,100 SNV sites: enough that sampling noise stays well inside the bounds
    v = tiny_cohort.variants()
    snv = v[(v.ref.str.len() == 1) & (v.alt.str.len() == 1)]
    ti = sum((r, a) in transitions for r, a in zip(snv.ref, snv.alt, strict=True))
    tv = len(snv) - ti
    assert len(snv) > 1000
    assert 1.7 < ti / tv < 2.4, f"Ti/Tv {ti / tv:.2f}; human genomes show about 2"
