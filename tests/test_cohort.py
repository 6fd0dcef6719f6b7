"""The cohort folder contract (DESIGN.md) on the tiny preset, read through open_cohort."""

from __future__ import annotations

import json
import re
import sqlite3

import numpy as np
import pandas as pd
import pytest

from workbench import open_cohort
from workbench.errors import CohortIntegrityError
from workbench.genome import Reference, annotate
from workbench.synth.generate import generate_cohort

EXPECTED = [
    "manifest.json",
    "reference/genome.fa",
    "reference/genome.fa.fai",
    "reference/genes.gff3",
    "genotypes.vcz",
    "genotypes.vcf.gz",
    "genotypes.vcf.gz.tbi",
    "pedigree.ped",
    "phenopackets",
    "registry.sqlite",
    "keyholder/identity.sqlite",
    "keyholder/pseudonym.key",
    "knowledge",
    "truth/cases.tsv",
    "truth/variants.tsv",
    "reads/P00001_R1.fastq.gz",
    "reads/P00003_R2.fastq.gz",
    "service/audit.key",
]


def test_folder_holds_every_part_of_the_contract(tiny_cohort_path):
    for rel in EXPECTED:
        assert (tiny_cohort_path / rel).exists(), rel
    assert not list(tiny_cohort_path.rglob("*.tmp")), "temporary files left behind"


def test_same_seed_gives_byte_identical_files(tiny_cohort_path, tmp_path):
    again = generate_cohort(preset="tiny", out=tmp_path / "tiny", seed=42, progress=False)
    assert (again / "manifest.json").read_bytes() == (
        tiny_cohort_path / "manifest.json"
    ).read_bytes()
    other = generate_cohort(preset="tiny", out=tmp_path / "other", seed=43, progress=False)
    first = open_cohort(tiny_cohort_path).manifest["files"]
    assert first["genotypes.vcf.gz"] != open_cohort(other).manifest["files"]["genotypes.vcf.gz"]


def test_a_failed_generation_leaves_nothing(tmp_path, monkeypatch, tiny_cohort_path):
    import workbench.synth.generate as gen

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(gen.phenopackets, "write_phenopackets", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        generate_cohort(preset="tiny", out=tmp_path / "c", seed=1, progress=False)
    assert list(tmp_path.iterdir()) == []
    # with --force the old cohort survives a failed replacement untouched
    import shutil

    shutil.copytree(tiny_cohort_path, tmp_path / "old")
    with pytest.raises(RuntimeError):
        generate_cohort(preset="tiny", out=tmp_path / "old", seed=1, force=True, progress=False)
    open_cohort(tmp_path / "old")  # verifies every checksum
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]


def test_open_names_a_changed_file(cohort_copy):
    zarr_chunk = next(
        p
        for p in sorted((cohort_copy / "genotypes.vcz").rglob("*"))
        if p.is_file() and "call_genotype" in p.parts
    )
    zarr_chunk.write_bytes(zarr_chunk.read_bytes() + b"x")
    with pytest.raises(CohortIntegrityError) as info:
        open_cohort(cohort_copy)
    assert info.value.changed == (zarr_chunk.relative_to(cohort_copy).as_posix(),)
    # live databases change in normal use and are not checksummed
    with sqlite3.connect(cohort_copy / "registry.sqlite") as conn:
        conn.execute("CREATE TABLE scratch (x INTEGER)")
    zarr_chunk.write_bytes(zarr_chunk.read_bytes()[:-1])
    open_cohort(cohort_copy)


def test_cohort_tables_and_genotypes_agree(tiny_cohort):
    samples = tiny_cohort.samples()
    assert list(samples.person_id) == tiny_cohort.sample_ids
    assert len(samples) == tiny_cohort.manifest["summary"]["people"] == 60
    ped = tiny_cohort.pedigree()
    assert list(ped.person_id) == tiny_cohort.sample_ids
    gt = tiny_cohort.genotypes()
    variants = tiny_cohort.variants()
    assert gt.shape == (len(variants), 60, 2)
    assert list(variants.contig.unique()) == list(tiny_cohort.contigs)
    x = tiny_cohort.genotypes(contig="chrX")
    male = (samples.sex == "male").to_numpy()
    assert (x[:, male, 1] == -2).all()
    lazy = tiny_cohort.genotypes(contig="chr1", dask=True)
    assert np.array_equal(lazy.compute(), tiny_cohort.genotypes(contig="chr1"))
    region = tiny_cohort.variants(contig="chr1", region=(10_000, 20_000))
    assert region.position.between(10_000, 20_000).all()
    assert "<table>" in tiny_cohort._repr_html_()
    few = [7, 2, 7, 59]  # unsorted, repeated: a family read takes exactly these columns
    for where in ({"contig": "chrX"}, {"contig": "chr1", "region": (10_000, 20_000)}):
        full = np.asarray(tiny_cohort.genotypes(**where, dask=False))
        np.testing.assert_array_equal(tiny_cohort.calls.calls_of(few, **where), full[:, few])


def test_large_reads_take_the_decoded_alleles_and_give_the_same_sites(tiny_cohort, monkeypatch):
    import workbench.cohort as cohort_module

    store = open_cohort(tiny_cohort.path).calls  # a store of its own: the cache starts empty
    where = {"contig": "chr1", "region": (10_000, 200_000)}
    decoded_alone = store.variants(**where)
    monkeypatch.setattr(cohort_module, "_ALLELE_CACHE_SITES", 1)
    cached = store.variants(**where)
    assert "_all_ref_alt" in store.__dict__  # this read went through the store-wide copy
    pd.testing.assert_frame_equal(cached, decoded_alone)
    assert (cached.alt.str.len() > 0).all() and cached.alt.str.contains(",").any()
    cached.loc[cached.index[0], "ref"] = "N"  # a caller writing to its frame: not the cache
    pd.testing.assert_frame_equal(store.variants(**where), decoded_alone)


def test_every_planted_variant_is_in_the_genotypes_as_stated(tiny_cohort):
    truth = tiny_cohort.truth()["variants"]
    assert len(truth) > 0
    variants = tiny_cohort.variants()
    key = variants.contig + ":" + variants.position.astype(str)
    lookup = dict(zip(key, variants.index, strict=True))
    ids = {p: i for i, p in enumerate(tiny_cohort.sample_ids)}
    gt = tiny_cohort.genotypes()
    reference = Reference.read(tiny_cohort.path / "reference")
    for row in truth.itertuples(index=False):
        vi = lookup[f"{row.contig}:{row.position}"]
        assert variants.loc[vi, "ref"] == row.ref and row.alt in variants.loc[vi, "alt"].split(",")
        allele = variants.loc[vi, "alt"].split(",").index(row.alt) + 1
        carriers = {}
        for call in str(row.carriers).split(";"):
            person, genotype = call.split(":")
            carriers[person] = sorted(int(a) for a in re.split(r"[|/]", genotype))
        observed = {
            p: sorted(int(a) for a in gt[vi, i] if a >= 0)
            for p, i in ids.items()
            if (gt[vi, i] == allele).any()
        }
        assert set(observed) == set(carriers), row.variant_key
        # the consequence is the one intended by the plan
        anns = [
            a
            for a in annotate(reference, row.contig, int(row.position), row.ref, row.alt)
            if a.gene == row.gene
        ]
        assert anns and anns[0].consequence == row.effect == row.consequence, row.variant_key


def test_planted_inheritance_matches_the_case_mode(tiny_cohort):
    truth = tiny_cohort.truth()
    cases, variants = truth["cases"], truth["variants"]
    people = tiny_cohort.samples().set_index("person_id")
    causal = variants[variants.category == "causal"]
    solved = cases[cases.status.isin(["solved", "dual"])]
    assert len(solved) > 0
    for case in solved.itertuples(index=False):
        proband = people.loc[case.proband_id]
        mine = causal[causal.carriers.str.contains(case.proband_id) & (causal.gene == case.gene)]
        assert len(mine) >= 1, case.family_id
        carriers = [set(c.split(":")[0] for c in v.split(";")) for v in mine.carriers]
        father, mother = proband.father_id, proband.mother_id
        if case.mode == "de_novo_dominant":
            assert all(father not in c and mother not in c for c in carriers)
        elif case.mode == "recessive_homozygous":
            assert any(father in c and mother in c for c in carriers)
        elif case.mode == "compound_heterozygous":
            assert len(mine) >= 2
            assert any(father in c and mother not in c for c in carriers)
            assert any(mother in c and father not in c for c in carriers)
        elif case.mode == "x_linked":
            assert proband.sex == "male"
            assert all(mother in c and father not in c for c in carriers)
        elif case.mode == "dominant_incomplete_penetrance":
            assert all((father in c) != (mother in c) for c in carriers)


def test_simulated_genomes_break_mendel_only_at_true_de_novo_sites(tiny_cohort):
    genomes = tiny_cohort.simulated  # the families' members before calling noise
    people = tiny_cohort.samples().set_index("person_id").loc[genomes.sample_ids].reset_index()
    ids = {p: i for i, p in enumerate(people.person_id)}
    gt = genomes.genotypes()
    variants = genomes.variants()
    male = people.set_index("person_id").sex == "male"
    truth = pd.read_csv(tiny_cohort.path / "truth" / "de_novo.tsv", sep="\t")
    planted = tiny_cohort.truth()["variants"]
    planted = planted[planted.origin.str.contains("de_novo")]
    # every planted de novo variant is among the true de novo variants, with others beside it
    assert set(zip(planted.contig, planted.position, strict=True)) <= set(
        zip(truth.contig, truth.position, strict=True)
    )
    on_x = (variants.contig == "chrX").to_numpy()
    checked = 0
    for row in people.dropna(subset=["father_id"]).itertuples(index=False):
        c, f, m = gt[:, ids[row.person_id]], gt[:, ids[row.father_id]], gt[:, ids[row.mother_id]]
        from_father = (c[:, 0, None] == f).any(axis=1)
        from_mother = (c[:, 1, None] == m).any(axis=1)
        if male[row.person_id]:
            ok = np.where(on_x, (c[:, 0, None] == m).any(axis=1), from_father & from_mother)
        else:
            ok = from_father & from_mother
        bad = variants[~ok]
        mine = truth[truth.person_id == row.person_id]
        assert set(zip(bad.contig, bad.position, strict=True)) == set(
            zip(mine.contig, mine.position, strict=True)
        )
        checked += 1
    assert checked == (people.role.isin(["proband", "sibling"])).sum()


def test_calls_are_the_simulated_genomes_with_calling_noise(tiny_cohort):
    genomes = tiny_cohort.simulated
    noise = json.loads((tiny_cohort.path / "truth" / "noise.json").read_text())["calling"]
    calls = tiny_cohort.variants().reset_index()
    truth = genomes.variants().reset_index()
    both = calls.merge(truth, on=["contig", "position", "ref", "alt"], suffixes=("", "_truth"))
    cols = [tiny_cohort.sample_ids.index(p) for p in genomes.sample_ids]
    called = tiny_cohort.genotypes().values[both.variant_index][:, cols]
    true = genomes.genotypes().values[both.variant_index_truth]
    missing = (called[..., 0] == -1).mean()
    assert missing == pytest.approx(noise["missing_rate"], rel=0.5)
    present = called[..., 0] != -1
    changed = (called != true).any(axis=2) & present
    assert changed.any()  # genotype errors and false heterozygous calls
    assert changed.mean() < 0.01
    # planted variants are called as they are
    planted = tiny_cohort.truth()["variants"]
    at_planted = both[
        both.set_index(["contig", "position"]).index.isin(
            list(zip(planted.contig, planted.position, strict=True))
        )
    ].index
    assert len(at_planted) and not (called[at_planted] != true[at_planted]).any()


def test_registry_is_pseudonymised_and_everyone_has_consent(tiny_cohort):
    consents = tiny_cohort.consents()
    assert set(consents.person_id) == set(tiny_cohort.sample_ids)
    with sqlite3.connect(tiny_cohort.path / "keyholder" / "identity.sqlite") as conn:
        national = pd.read_sql_query("SELECT * FROM identities", conn)
    assert set(national.person_id) == set(tiny_cohort.sample_ids)
    blob = (tiny_cohort.path / "registry.sqlite").read_bytes().decode("latin-1")
    assert not re.search(r"\d{6}-\d{4}", blob), "a CPR-shaped identifier is in the registry"
    assert not any(n in blob for n in national.national_id)


def test_phenotypes_use_valid_hpo_terms(tiny_cohort):
    from workbench.hpo import validate_terms

    ph = tiny_cohort.phenotypes()
    assert len(ph) > 0
    validate_terms(list(zip(ph.hpo_id, ph.label, strict=True)))
    probands = tiny_cohort.samples().query("role == 'proband'").person_id
    for pid in probands:
        packet = tiny_cohort.phenopacket(pid)
        assert packet["subject"]["id"] == pid


def test_genomes_are_read_as_simulated_for_families_and_as_called_otherwise(tiny_cohort):
    samples = tiny_cohort.samples()
    family = list(samples.person_id[samples.family_id.notna()][:3])
    unrelated = samples.person_id[samples.family_id.isna()].iloc[0]
    assert tiny_cohort.genomes(family) is tiny_cohort.simulated
    assert tiny_cohort.genomes([*family, unrelated]) is tiny_cohort
    assert set(tiny_cohort.simulated.sample_ids) == set(
        samples.person_id[samples.family_id.notna()]
    )
