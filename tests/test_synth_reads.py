"""Simulated reads: haplotypes, depth, calibrated errors, duplicates, adapters, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.errors import InputError
from workbench.genome import reverse_complement
from workbench.synth import reads
from workbench.synth.reads import (
    DEFAULT_ADAPTER,
    GENE_PADDING,
    haplotype_sequences,
    parse_read_name,
    simulate_reads,
)

DEPTH = 30.0
READ_LENGTH = 150
DUP_RATE = 0.1


def _read_fastq(path):
    import dnaio

    with dnaio.open(path) as reader:
        return [(r.name, r.sequence, r.qualities) for r in reader]


def _haplotypes_with_coordinates(cohort, person, contig):
    """Whole-contig haplotypes of ``person`` by column: (sequence, reference coordinate)."""
    n = cohort.contigs[contig]
    window = reads._window(cohort, contig, 1, n, cohort.genomes([person]))
    return {column: (seq, pos) for column, seq, pos in reads._haplotypes(cohort, person, window)}


def _fragment(haps, origin) -> str | None:
    """The haplotype bases a read name says its fragment came from.

    ``None`` when the fragment starts inside an insertion: its bases share the coordinate of
    the base before them, so the name does not say which one the fragment starts at.
    """
    seq, coordinate = haps[origin["contig"]][origin["haplotype"]]
    i = int(np.searchsorted(coordinate, origin["position"]))
    if i + 1 < len(coordinate) and coordinate[i + 1] == coordinate[i]:
        return None
    return seq[i : i + origin["insert"]]


@pytest.fixture(scope="module")
def genes(tiny_cohort):
    chr1 = [g.symbol for g in tiny_cohort.reference.genes if g.contig == "chr1"]
    chrx = [g.symbol for g in tiny_cohort.reference.genes if g.contig == "chrX"]
    return [chr1[0], chrx[0]]


@pytest.fixture(scope="module")
def trio(tiny_cohort):
    """The first family's father, mother and proband."""
    samples = tiny_cohort.samples()
    fam = samples[samples.family_id == samples.family_id.dropna().iloc[0]]
    roles = dict(zip(fam.role, fam.person_id, strict=False))
    return [roles["father"], roles["mother"], roles["proband"]]


@pytest.fixture(scope="module")
def simulated(tiny_cohort, trio, genes, tmp_path_factory):
    out = tmp_path_factory.mktemp("reads")
    paths = simulate_reads(
        tiny_cohort,
        person_ids=trio,
        regions=genes,
        out_dir=out,
        depth=DEPTH,
        read_length=READ_LENGTH,
        insert_mean=220,
        insert_sd=70,
        indel_error_rate=0.0,
        duplicate_rate=DUP_RATE,
        seed=7,
        progress=False,
    )
    reads = {p: (_read_fastq(r1), _read_fastq(r2)) for p, (r1, r2) in paths.items()}
    return paths, reads


# -- haplotypes --------------------------------------------------------------------------------


def test_haplotypes_carry_the_simulated_snvs_on_the_right_haplotype(tiny_cohort, trio):
    person = trio[2]
    genomes = tiny_cohort.simulated  # a family member's reads show the genome, not the calls
    haps = _haplotypes_with_coordinates(tiny_cohort, person, "chr1")
    v = genomes.variants(contig="chr1")
    gt = genomes.genotypes(contig="chr1").values[:, genomes.sample_ids.index(person)]
    snv = ((v.ref.str.len() == 1) & (v.alt.str.len() == 1)).to_numpy()
    checked = 0
    for column, (hap, coordinate) in haps.items():
        for pos, r, alt, allele in zip(
            v.position[snv], v.ref[snv], v.alt[snv], gt[snv, column], strict=True
        ):
            i = int(np.searchsorted(coordinate, pos))
            if coordinate[i] != pos:
                continue  # deleted on this haplotype
            assert hap[i] == (r if allele <= 0 else alt)
            checked += allele > 0
    assert checked > 0
    ref = tiny_cohort.reference.sequence("chr1")
    hap, coordinate = haps[0]
    differs = {int(c) for b, c in zip(hap, coordinate, strict=True) if b != ref[c - 1]}
    assert differs <= set(v.position[(gt[:, 0] > 0)])


def test_haplotypes_apply_indels(tiny_cohort):
    v = tiny_cohort.variants()
    indels = v[(v.ref.str.len() != v.alt.str.len()) & ~v.alt.str.contains(",")]
    assert len(indels), "the tiny cohort plants indels"
    variant_index = indels.index[0]
    site = indels.loc[variant_index]
    gt = tiny_cohort.genotypes().values[variant_index]
    carrier = int(np.flatnonzero((gt > 0).any(axis=1))[0])
    column = int(np.flatnonzero(gt[carrier] > 0)[0])
    person = tiny_cohort.sample_ids[carrier]
    start, end = int(site.position) - 30, int(site.position) + 30
    haps = haplotype_sequences(tiny_cohort, person, contig=site.contig, start=start, end=end)
    # Reference implementation: apply every allele of this haplotype in the window.
    window = tiny_cohort.variants(contig=site.contig, region=(start, end))
    calls = tiny_cohort.genotypes(contig=site.contig, region=(start, end)).values[:, carrier]
    seq = tiny_cohort.reference.fetch(site.contig, start - 1, end)
    for pos, r, alt, allele in reversed(
        list(zip(window.position, window.ref, window.alt, calls[:, column], strict=True))
    ):
        if allele > 0 and pos + len(r) - 1 <= end:
            seq = seq[: pos - start] + alt.split(",")[allele - 1] + seq[pos - start + len(r) :]
    assert haps[column] == seq
    assert len(haps[column]) == end - start + 1 + len(site.alt) - len(site.ref)


def test_male_x_has_one_haplotype(tiny_cohort):
    samples = tiny_cohort.samples()
    male = samples.query("sex == 'male'").person_id.iloc[0]
    female = samples.query("sex == 'female'").person_id.iloc[0]
    hap, none = haplotype_sequences(tiny_cohort, male, contig="chrX", start=1000, end=5000)
    assert none is None and len(hap) > 3900  # 4,001 reference bases, some deleted
    a, b = haplotype_sequences(tiny_cohort, female, contig="chrX", start=1000, end=5000)
    assert isinstance(a, str) and isinstance(b, str)
    a, b = haplotype_sequences(tiny_cohort, male, contig="chr1", start=1000, end=5000)
    assert b is not None


# -- reads -----------------------------------------------------------------------------------


def test_files_and_pairing(simulated, trio):
    paths, reads = simulated
    assert list(paths) == trio
    for person, (r1, r2) in reads.items():
        assert paths[person][0].name == f"{person}_R1.fastq.gz"
        assert [n for n, _, _ in r1] == [n for n, _, _ in r2]
        assert all(len(s) == READ_LENGTH and len(q) == READ_LENGTH for _, s, q in r1 + r2)
        names = [parse_read_name(n) for n, _, _ in r1]
        assert {n["person_id"] for n in names} == {person}
        assert len({n["serial"] for n in names}) == len(names)


def test_realised_depth_matches_parameter(simulated, tiny_cohort, genes):
    _, reads = simulated
    for person, (r1, _) in reads.items():
        for symbol in genes:
            gene = tiny_cohort.reference.gene(symbol)
            start, end = gene.start - GENE_PADDING, gene.end + GENE_PADDING
            diff = np.zeros(tiny_cohort.contigs[gene.contig] + 2, np.int64)
            for name, _, _ in r1:
                o = parse_read_name(name)
                if o["contig"] != gene.contig:
                    continue
                span = min(o["insert"], READ_LENGTH)
                left, right = o["position"], o["position"] + o["insert"] - span
                for s in (left, right):  # one read at each end of the fragment
                    diff[s] += 1
                    diff[s + span] -= 1
            depth = np.cumsum(diff)[start : end + 1]
            assert abs(depth.mean() - DEPTH) <= 0.1 * DEPTH, (person, symbol, depth.mean())


def test_errors_match_qualities(simulated, tiny_cohort):
    _, reads = simulated
    errors = expected = bases = 0
    for person, (r1, r2) in reads.items():
        haps = {c: _haplotypes_with_coordinates(tiny_cohort, person, c) for c in ("chr1", "chrX")}
        for mate, records in ((1, r1), (2, r2)):
            for name, seq, qual in records:
                o = parse_read_name(name)
                fragment = _fragment(haps, o)
                if fragment is None:
                    continue
                forward = (o["strand"] == "+") == (mate == 1)
                template = fragment if forward else reverse_complement(fragment)
                k = min(len(template), READ_LENGTH)
                got = np.frombuffer(seq[:k].encode(), np.uint8)
                want = np.frombuffer(template[:k].encode(), np.uint8)
                q = np.frombuffer(qual[:k].encode(), np.uint8).astype(float) - 33
                errors += int((got != want).sum())
                expected += float(np.power(10.0, -q / 10).sum())
                bases += k
    assert errors > 500
    assert abs(errors - expected) <= 0.1 * expected, (errors, expected, bases)


def test_quality_decays_towards_three_prime(simulated):
    _, reads = simulated
    q = np.array(
        [np.frombuffer(s.encode(), np.uint8) - 33 for _, _, s in reads[next(iter(reads))][0]]
    )
    mean = q.mean(axis=0)
    assert mean[:20].mean() == pytest.approx(30, abs=1.5)  # error_rate 0.001 → Q30 plateau
    assert mean[-10:].mean() < mean[:20].mean() - 5


def test_duplicate_fraction(simulated):
    _, reads = simulated
    for r1, _ in reads.values():
        keys = [tuple(parse_read_name(n).values())[2:] for n, _, _ in r1]
        dup = 1 - len(set(keys)) / len(keys)
        assert dup == pytest.approx(DUP_RATE, abs=0.02)


def test_adapters_exactly_after_short_inserts(simulated):
    _, reads = simulated
    short = found = 0
    for r1, r2 in reads.values():
        for name, seq, _ in r1 + r2:
            insert = parse_read_name(name)["insert"]
            if insert >= READ_LENGTH:
                assert DEFAULT_ADAPTER[:8] not in seq[insert - 8 :] and DEFAULT_ADAPTER not in seq
            elif insert <= READ_LENGTH - len(DEFAULT_ADAPTER):
                short += 1
                found += seq[insert : insert + len(DEFAULT_ADAPTER)] == DEFAULT_ADAPTER
    assert short > 50
    assert found >= 0.9 * short  # the rest carry a sequencing error in the adapter


def test_deterministic_by_seed(tiny_cohort, trio, tmp_path):
    kwargs = dict(person_ids=trio[:1], regions=[("chr1", 3000, 4000)], depth=10.0)
    a = simulate_reads(tiny_cohort, out_dir=tmp_path / "a", seed=3, progress=False, **kwargs)
    b = simulate_reads(tiny_cohort, out_dir=tmp_path / "b", seed=3, progress=False, **kwargs)
    c = simulate_reads(tiny_cohort, out_dir=tmp_path / "c", seed=4, progress=False, **kwargs)
    p = trio[0]
    for i in (0, 1):
        assert a[p][i].read_bytes() == b[p][i].read_bytes()
        assert a[p][i].read_bytes() != c[p][i].read_bytes()
    assert sorted(x.name for x in (tmp_path / "a").iterdir()) == [
        f"{p}_R1.fastq.gz",
        f"{p}_R2.fastq.gz",
    ]


def test_indel_errors(tiny_cohort, trio, tmp_path):
    paths = simulate_reads(
        tiny_cohort,
        person_ids=trio[:1],
        regions=[("chr1", 3000, 6000)],
        out_dir=tmp_path,
        depth=20.0,
        error_rate=1e-5,
        indel_error_rate=0.01,
        duplicate_rate=0.0,
        seed=1,
        progress=False,
    )
    reads = _read_fastq(paths[trio[0]][0])
    haps = {"chr1": _haplotypes_with_coordinates(tiny_cohort, trio[0], "chr1")}
    shifted = 0
    for name, seq, _ in reads:
        o = parse_read_name(name)
        frag = _fragment(haps, o)
        if frag is None:
            continue
        template = frag if o["strand"] == "+" else reverse_complement(frag)
        shifted += seq != template[:READ_LENGTH]
    # 150 bases at 1 % per base: most reads carry an indel (or a rare substitution).
    assert 0.6 < shifted / len(reads) < 0.95


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"person_ids": ["P99999"]}, "not in cohort"),
        ({"regions": ["NOTAGENE"]}, "no gene called"),
        ({"regions": [("chr9", 1, 10)]}, "unknown contig"),
        ({"regions": [("chr1", 10, 5)]}, "1 <= start <= end"),
        ({"depth": 0}, "depth must be > 0"),
        ({"duplicate_rate": 1.5}, "duplicate_rate"),
        ({"adapter": "XYZ"}, "adapter"),
    ],
)
def test_rejects_bad_arguments(tiny_cohort, trio, tmp_path, kwargs, match):
    args = dict(person_ids=trio[:1], regions=[("chr1", 100, 200)], out_dir=tmp_path, seed=1)
    args.update(kwargs)
    with pytest.raises(InputError, match=match):
        simulate_reads(tiny_cohort, progress=False, **args)
    assert not list(tmp_path.iterdir())
