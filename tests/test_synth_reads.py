"""Simulated reads: haplotypes, depth, calibrated errors, duplicates, adapters, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.errors import InputError
from workbench.genome import reverse_complement
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


def _indel_carriers(cohort, contig) -> set[str]:
    v = cohort.variants(contig=contig)
    gt = cohort.genotypes(contig=contig).values
    indel = ((v.ref.str.len() != 1) | (v.alt.str.len() != 1)).to_numpy()
    carriers = (gt[indel] > 0).any(axis=(0, 2))
    return {s for s, c in zip(cohort.sample_ids, carriers, strict=True) if c}


@pytest.fixture(scope="module")
def trio(tiny_cohort):
    """A family (father, mother, proband) none of whom carries an indel on chr1 or chrX."""
    samples = tiny_cohort.samples()
    skip = _indel_carriers(tiny_cohort, "chr1") | _indel_carriers(tiny_cohort, "chrX")
    for _, fam in samples.dropna(subset=["family_id"]).groupby("family_id"):
        roles = dict(zip(fam.role, fam.person_id, strict=False))
        people = [roles.get("father"), roles.get("mother"), roles.get("proband")]
        if None not in people and not skip & set(people):
            return people
    raise AssertionError("the tiny cohort should have a family without indels on chr1/chrX")


@pytest.fixture(scope="module")
def genes(tiny_cohort):
    chr1 = [g.symbol for g in tiny_cohort.reference.genes if g.contig == "chr1"]
    chrx = [g.symbol for g in tiny_cohort.reference.genes if g.contig == "chrX"]
    return [chr1[0], chrx[0]]


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


def test_haplotypes_carry_snvs_on_the_right_haplotype(tiny_cohort, trio):
    person = trio[2]
    n = tiny_cohort.contigs["chr1"]
    haps = haplotype_sequences(tiny_cohort, person, contig="chr1", start=1, end=n)
    ref = tiny_cohort.reference.sequence("chr1")
    assert all(len(h) == n for h in haps)  # this person has no indel on chr1
    v = tiny_cohort.variants(contig="chr1")
    gt = tiny_cohort.genotypes(contig="chr1").values[:, tiny_cohort.sample_ids.index(person)]
    checked = 0
    for column, hap in enumerate(haps):
        for pos, r, alt, allele in zip(v.position, v.ref, v.alt, gt[:, column], strict=True):
            expected = r if allele <= 0 else alt.split(",")[allele - 1]
            assert hap[pos - 1] == expected
            checked += allele > 0
    assert checked > 0
    differs = [i for i in range(n) if haps[0][i] != ref[i]]
    assert set(differs) <= set(v.position - 1)


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
    assert none is None and len(hap) >= 4000
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
        haps = {}
        for contig in ("chr1", "chrX"):
            n = tiny_cohort.contigs[contig]
            haps[contig] = haplotype_sequences(tiny_cohort, person, contig=contig, start=1, end=n)
        for mate, records in ((1, r1), (2, r2)):
            for name, seq, qual in records:
                o = parse_read_name(name)
                hap = haps[o["contig"]][o["haplotype"]]
                fragment = hap[o["position"] - 1 : o["position"] - 1 + o["insert"]]
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
    n = tiny_cohort.contigs["chr1"]
    haps = haplotype_sequences(tiny_cohort, trio[0], contig="chr1", start=1, end=n)
    shifted = 0
    for name, seq, _ in reads:
        o = parse_read_name(name)
        frag = haps[o["haplotype"]][o["position"] - 1 : o["position"] - 1 + o["insert"]]
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
