"""Candidate filtering on the tiny cohort's planted answer key, and on bad inputs.

Genotypes are read from the cohort directly (instructor side; the filter takes plain values),
so these tests need no session and write nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.errors import InputError
from workbench.interpret.checks import genotypes_in_genes, parentage_check, sex_check
from workbench.interpret.filter import CANDIDATE_COLUMNS, FilterSettings, filter_variants
from workbench.interpret.panels import panel_genes, panel_min_an, panels_for_terms

#: What the filter calls each planted mode.
INHERITANCE = {
    "x_linked": "x_linked_hemizygous",
    "de_novo_dominant": "de_novo",
    "dominant_incomplete_penetrance": "incomplete_penetrance",
    "compound_heterozygous": "compound_heterozygous",
    "recessive_homozygous": "homozygous",
}


@pytest.fixture(scope="module")
def world(tiny_cohort):
    c = tiny_cohort
    k = c.knowledge
    genes = [c.reference.gene(g) for g in panel_genes(k.gene_disease).gene]
    samples = c.samples()
    reads = {}
    for contig in sorted({g.contig for g in genes}):
        mine = [g for g in genes if g.contig == contig]
        region = (min(g.start for g in mine), max(g.end for g in mine))
        reads[contig] = (
            c.variants(contig=contig, region=region).reset_index(drop=True),
            np.asarray(c.genotypes(contig=contig, region=region, dask=False)),
        )
    truth = c.truth()
    return {
        "cohort": c,
        "genes": genes,
        "samples": samples,
        "reads": reads,
        "cases": truth["cases"],
        "variants": truth["variants"],
        "settings": FilterSettings(min_an=panel_min_an(k.frequencies)),
    }


def family_of(world, proband):
    s = world["samples"]
    fam_id = s.loc[s.person_id == proband, "family_id"].iat[0]
    return s[s.family_id == fam_id].reset_index(drop=True)


def genotypes_for(world, people):
    ids = world["cohort"].sample_ids
    cols = [ids.index(p) for p in people]
    return [
        {"variants": v, "samples": list(people), "calls": calls[:, cols]}
        for v, calls in world["reads"].values()
    ]


def run(world, proband, family=None, genotypes=None, **kw):
    family = family_of(world, proband) if family is None else family
    people = list(family.person_id)
    genotypes = genotypes if genotypes is not None else genotypes_for(world, people)
    k = world["cohort"].knowledge
    kw.setdefault("settings", world["settings"])
    return filter_variants(
        [genotypes_in_genes(genotypes, world["genes"])],
        proband=proband,
        family=family,
        reference=world["cohort"].reference,
        gene_disease=k.gene_disease,
        frequencies=k.frequencies,
        check_genotypes=genotypes,
        **kw,
    )


def planted_rows(world, result, keys):
    tv = world["variants"].set_index("variant_key")
    out = []
    for key in keys:
        v = tv.loc[key]
        t = result.table
        out.append(
            t[(t.contig == v.contig) & (t.position == v.position) & (t.gene == v.gene)].iloc[0]
        )
    return out


def test_every_planted_mode_is_found_by_its_filter(world):
    seen = set()
    for case in world["cases"].itertuples(index=False):
        if case.status not in ("solved", "dual"):
            continue
        result = run(world, case.proband_id)
        assert result.analysis in ("trio", "family")
        keys = case.variant_keys.split(",")
        modes = [case.mode] if case.status == "solved" else [case.mode, case.mode2]
        rows = planted_rows(world, result, keys)
        found = {r.inheritance for r in rows}
        for mode in modes:
            assert INHERITANCE[mode] in found, (case.family_id, mode, found)
            seen.add(mode)
        assert all(r.kept for r in rows), [(r.variant_id, r.reason) for r in rows]
    assert seen == set(INHERITANCE)


def test_no_planted_causal_variant_is_dropped_by_default_filters(world):
    causal = world["variants"][world["variants"].category.isin(["causal", "vus"])]
    probands = set(world["cases"].proband_id)
    checked = 0
    for v in causal.itertuples(index=False):
        for proband in (p for p in str(v.planned_for).split(";") if p in probands):
            result = run(world, proband)
            row = planted_rows(world, result, [v.variant_key])[0]
            assert row.kept, (v.variant_key, row.reason)
            checked += 1
    assert checked == len(causal)


def test_every_row_carries_a_reason(world):
    result = run(world, world["cases"].proband_id.iat[0])
    t = result.table
    assert list(t.columns) == list(CANDIDATE_COLUMNS)
    assert (t.reason.fillna("").str.len() > 0).all()
    assert t.kept.any() and (~t.kept).any()
    assert t[t.kept].inheritance.notna().all()
    dropped = set(t[~t.kept].reason.str.split(" ").str[0])
    assert "allele" in dropped  # frequency, the first step inside the panel
    common = t.reason.str.startswith("allele frequency")
    assert t[common].consequence.isna().all()  # common variants are not annotated
    assert t[~common & t.gene.notna()].consequence.notna().all()


def test_incomplete_penetrance_is_kept_but_flagged_weak(world):
    case = world["cases"][world["cases"]["mode"] == "dominant_incomplete_penetrance"].iloc[0]
    row = planted_rows(world, run(world, case.proband_id), case.variant_keys.split(","))[0]
    assert row.kept and row.inheritance_fit == "weak"
    assert "unaffected" in row.reason


def test_no_parents_falls_back_to_a_singleton_analysis_and_says_so(world):
    case = world["cases"][world["cases"]["mode"] == "de_novo_dominant"].iloc[0]
    fam = family_of(world, case.proband_id)
    alone = fam[fam.person_id == case.proband_id]
    result = run(world, case.proband_id, family=alone)
    assert result.analysis == "singleton"
    assert any("singleton analysis" in m for m in result.messages)
    row = planted_rows(world, result, case.variant_keys.split(","))[0]
    assert row.kept and row.inheritance_fit == "partial"
    assert row.inheritance == "heterozygous_origin_unknown"


def test_failed_parentage_gives_a_message_and_falls_back(world):
    case = world["cases"][world["cases"]["mode"] == "de_novo_dominant"].iloc[0]
    fam = family_of(world, case.proband_id)
    father = fam[fam.role == "father"].person_id.iat[0]
    # an unrelated man's genotypes under the father's id
    s = world["samples"]
    stranger = s[(s.role == "unrelated") & (s.sex == "male")].person_id.iat[0]
    people = list(fam.person_id)
    genotypes = genotypes_for(world, [stranger if p == father else p for p in people])
    for g in genotypes:
        g["samples"] = people
    result = run(world, case.proband_id, genotypes=genotypes)
    assert result.parentage["father"]["ok"] is False
    assert any("parentage check failed for the father" in m for m in result.messages)
    assert result.analysis == "duo"
    assert not result.parentage_confirmed


def test_parentage_check_numbers():
    child = np.array([2, 0, 2, 0, 1] * 10)
    assert parentage_check(child, child, min_sites=5)["ok"] is True
    other = np.array([0, 2, 0, 2, 1] * 10)
    rep = parentage_check(child, other, min_sites=5)
    assert rep["ok"] is False and rep["rate"] == 1.0
    assert parentage_check(child[:3], child[:3], min_sites=5)["ok"] is None


def test_sex_inconsistent_with_x_genotypes_gives_a_clear_message(world):
    case = world["cases"][world["cases"]["mode"] == "x_linked"].iloc[0]
    fam = family_of(world, case.proband_id)
    people = list(fam.person_id)
    genotypes = genotypes_for(world, people)
    j = people.index(case.proband_id)
    for g in genotypes:
        x = g["variants"].contig.to_numpy() == "chrX"
        g["calls"] = g["calls"].copy()
        g["calls"][x, j, 1] = g["calls"][x, j, 0]  # a "male" with two X alleles
    result = run(world, case.proband_id, genotypes=genotypes)
    assert result.sex[case.proband_id]["consistent"] is False
    expected = "recorded as male but the X-chromosome genotypes show two X"
    assert any(expected in m for m in result.messages)
    row = planted_rows(world, result, case.variant_keys.split(","))[0]
    assert row.inheritance_fit == "partial"


def test_sex_check_female_with_one_x():
    calls = np.array([[0, -2], [1, -2]])
    rep = sex_check(calls, "female")
    assert rep["consistent"] is False and "one X" in rep["message"]
    assert sex_check(calls, "male")["consistent"] is True
    assert sex_check(np.zeros((0, 2)), "male")["consistent"] is None


def test_variant_outside_every_gene_is_dropped_with_its_reason(world):
    case = world["cases"].iloc[0]
    fam = family_of(world, case.proband_id)
    people = list(fam.person_id)
    ref = world["cohort"].reference
    last = max(g.end for g in ref.genes if g.contig == "chr1")
    pos = last + 50
    base = ref.fetch("chr1", pos - 1, pos)
    alt = "A" if base != "A" else "C"
    calls = np.zeros((1, len(people), 2), dtype=np.int8)
    calls[0, people.index(case.proband_id)] = [0, 1]
    extra = {
        "variants": pd.DataFrame(
            {"contig": ["chr1"], "position": [pos], "ref": [base], "alt": [alt]}
        ),
        "samples": people,
        "calls": calls,
    }
    k = world["cohort"].knowledge
    result = filter_variants(
        extra,
        proband=case.proband_id,
        family=fam,
        reference=ref,
        gene_disease=k.gene_disease,
        frequencies=k.frequencies,
    )
    assert result.table.reason.tolist() == ["outside every panel gene"]
    assert not result.table.kept.any()


def test_frequency_threshold_drops_common_variants_with_the_number(world):
    case = world["cases"][world["cases"]["mode"] == "de_novo_dominant"].iloc[0]
    v = world["variants"].set_index("variant_key").loc[case.variant_keys.split(",")[0]]
    k = world["cohort"].knowledge
    freqs = k.frequencies.copy()
    hit = (freqs.contig == v.contig) & (freqs.position == v.position) & (freqs.alt == v.alt)
    for col in [c for c in freqs.columns if c.startswith("af")]:
        freqs.loc[hit, col] = 0.02
    fam = family_of(world, case.proband_id)
    genotypes = genotypes_for(world, list(fam.person_id))
    result = filter_variants(
        [genotypes_in_genes(genotypes, world["genes"])],
        proband=case.proband_id,
        family=fam,
        reference=world["cohort"].reference,
        gene_disease=k.gene_disease,
        frequencies=freqs,
        settings=world["settings"],
    )
    row = planted_rows(world, result, [case.variant_keys.split(",")[0]])[0]
    assert not row.kept
    assert "allele frequency 0.02" in row.reason and "dominant" in row.reason


def test_panels(world):
    gd = world["cohort"].knowledge.gene_disease
    epi = panel_genes(gd, panels=["epilepsy"])
    assert 0 < len(epi) < len(gd)
    assert all("epilepsy" in p for p in epi.panels)
    with pytest.raises(InputError, match="unknown panel"):
        panel_genes(gd, panels=["no_such_panel"])
    from workbench.synth.knowledge import PANELS

    assert "epilepsy" in panels_for_terms(["HP:0032792"], PANELS)  # tonic seizure


def test_bad_inputs_are_refused_with_messages(world):
    case = world["cases"].iloc[0]
    fam = family_of(world, case.proband_id)
    k = world["cohort"].knowledge
    common = dict(
        family=fam,
        reference=world["cohort"].reference,
        gene_disease=k.gene_disease,
        frequencies=k.frequencies,
    )
    g = genotypes_for(world, list(fam.person_id))
    with pytest.raises(InputError, match="not in the family table"):
        filter_variants(g, proband="P99999", **common)
    with pytest.raises(InputError, match=r"session\.genotypes"):
        filter_variants({"calls": []}, proband=case.proband_id, **common)
    with pytest.raises(InputError, match="between 0 and 1"):
        FilterSettings(dominant_max_af=2)
    with pytest.raises(InputError, match="Sequence Ontology"):
        FilterSettings(consequences={"not_a_term"})


def test_gene_spans_find_what_a_scan_of_every_gene_finds():
    from types import SimpleNamespace

    from workbench.interpret.panels import GeneSpans

    rng = np.random.default_rng(4)
    models = []
    for k in range(300):  # nested, overlapping and distant genes on two contigs
        start = int(rng.integers(1, 200_000))
        end = start + int(rng.choice([50, 2_000, 60_000]))
        contig = "chr1" if k % 3 else "chrX"
        models.append((f"G{k}", SimpleNamespace(contig=contig, start=start, end=end)))
    spans = GeneSpans(models)
    for _ in range(2_000):
        contig = "chr1" if rng.random() < 0.7 else rng.choice(["chrX", "chr2"])
        first = int(rng.integers(1, 270_000))
        last = first + int(rng.integers(0, 20))
        scan = [
            (g, m) for g, m in models if m.contig == contig and m.start <= last and first <= m.end
        ]
        assert spans.overlapping(contig, first, last) == scan


def test_genotypes_in_genes_keeps_exactly_the_variants_inside_some_gene():
    from types import SimpleNamespace

    rng = np.random.default_rng(5)
    genes = []
    for k in range(200):  # nested, overlapping, adjacent and distant genes on two contigs
        start = int(rng.integers(1, 100_000))
        end = start + int(rng.choice([0, 30, 1_500, 40_000]))
        genes.append(SimpleNamespace(contig="chr1" if k % 4 else "chrX", start=start, end=end))
    edges = [(g.contig, p) for g in genes for p in (g.start - 1, g.start, g.end, g.end + 1)]
    n_random = 5_000
    contigs = list(rng.choice(["chr1", "chrX", "chr2"], size=n_random)) + [c for c, _ in edges]
    positions = list(rng.integers(1, 150_000, size=n_random)) + [p for _, p in edges]
    variants = pd.DataFrame({"contig": contigs, "position": positions, "ref": "A", "alt": "G"})
    n = len(variants)
    calls = rng.integers(0, 2, size=(n, 1, 2)).astype(np.int8)
    calls[:, 0, 0] = np.arange(n) % 2  # tag rows so the kept calls can be matched back
    out = genotypes_in_genes({"variants": variants, "samples": ["P"], "calls": calls}, genes)
    scan = np.array(
        [
            any(g.contig == c and g.start <= p <= g.end for g in genes)
            for c, p in zip(variants.contig, variants.position, strict=True)
        ]
    )
    assert 0 < scan.sum() < n
    pd.testing.assert_frame_equal(out["variants"], variants[scan].reset_index(drop=True))
    np.testing.assert_array_equal(out["calls"], calls[scan])


def test_frequency_summary_matches_a_row_by_row_reading():
    from workbench.interpret.panels import frequency_summary

    rng = np.random.default_rng(6)
    n = 400
    table = pd.DataFrame(
        {
            "contig": rng.choice(["chr1", "chrX"], size=n),
            "position": rng.integers(1, 300, size=n),
            "ref": "A",
            "alt": rng.choice(["C", "G", "T"], size=n),
            "af": rng.random(n).round(3),
            "an": rng.choice([0, 100, 5_000], size=n),
        }
    )
    for pop in ("NFE", "AFR", "EAS"):  # not in name order, and with ties
        table[f"af_{pop}"] = rng.choice([0.0, 0.01, 0.2], size=n)
        table[f"an_{pop}"] = rng.choice([10, 2_000, 9_000], size=n)
    table = table.drop_duplicates(["contig", "position", "ref", "alt"]).reset_index(drop=True)
    wanted = rng.choice(table.position.unique(), size=40, replace=False)
    got = frequency_summary(table, min_an=2_000, positions=wanted)
    expect = {}
    for r in table[table.position.isin(wanted)].itertuples(index=False):
        best = None
        for pop in ("AFR", "EAS", "NFE"):
            f, a = getattr(r, f"af_{pop}"), getattr(r, f"an_{pop}")
            if a >= 2_000 and (best is None or f > best[1]):
                best = (pop, f)
        expect[(r.contig, r.position, r.ref, r.alt)] = (
            r.af if r.an > 0 else 0.0,
            None if best is None else best[1],
            None if best is None else best[0],
        )
    assert got == expect


def test_a_rare_variant_outside_the_analysed_consequences_is_dropped_with_its_consequence(world):
    from dataclasses import replace

    case = world["cases"][world["cases"]["mode"] == "de_novo_dominant"].iloc[0]
    key = case.variant_keys.split(",")[0]
    only_synonymous = replace(world["settings"], consequences=frozenset({"synonymous_variant"}))
    result = run(world, case.proband_id, settings=only_synonymous)
    row = planted_rows(world, result, [key])[0]
    assert not row.kept
    assert row.reason.startswith(f"consequence {row.consequence} (")
    assert "not among the analysed classes" in row.reason


@pytest.mark.parametrize(
    ("call", "allele", "count", "gt"),
    [
        ((0, 1), 1, 1, "0|1"),
        ((1, 1), 1, 2, "1|1"),
        ((2, 1), 2, 1, "2|1"),
        ((2, 1), 3, 0, "2|1"),
        ((-1, 1), 1, None, ".|1"),  # half-missing: no count
        ((1, -2), 1, 1, "1"),  # a man's X: one allele
        ((-1, -2), 1, None, "."),
    ],
)
def test_one_call_reads_as_a_count_and_a_vcf_genotype(call, allele, count, gt):
    from workbench.interpret.checks import _count, _gt

    c = np.array(call, dtype=np.int8)
    assert _count(c, allele) == count and _gt(c) == gt
    assert count is None or type(_count(c, allele)) is int
