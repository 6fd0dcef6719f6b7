"""Tests for workbench.synth.knowledge: ClinVar-like assertions and the knowledge folder."""

from __future__ import annotations

import datetime as dt
import gzip

import numpy as np
import pandas as pd
import pytest

from workbench.errors import CohortFormatError, InputError
from workbench.io import file_sha256
from workbench.synth import genes, knowledge

P_LP = {"Pathogenic", "Likely pathogenic"}
B_LB = {"Benign", "Likely benign"}


def _planted(n_per_category=24):
    """Planted variants as the generator annotates them, one per row."""
    rows = []
    spec = {
        "causal": ("stop_gained", "de_novo"),
        "secondary": ("frameshift_variant", "founder"),
        "vus": ("missense_variant", "de_novo"),
        "benign_rare": ("synonymous_variant", "founder"),
        "benign_common": ("intron_variant", "founder"),
    }
    pos = 1000
    for category, (consequence, origin) in spec.items():
        for i in range(n_per_category):
            pos += 37
            rows.append(
                dict(
                    contig="chr2" if i % 2 else "chr10", pos=pos, ref="C", alt="T",
                    gene=f"G{i % 5}", category=category, hgvs_c=f"c.{pos}C>T",
                    hgvs_p="p.(Arg1Ter)", consequence=consequence, origin=origin,
                )
            )  # fmt: skip
    return pd.DataFrame(rows)


def _common():
    return pd.DataFrame(
        {
            "contig": ["chr1"] * 4,
            "position": [10, 20, 30, 40],
            "ref": ["A", "C", "G", "T"],
            "alt": ["G", "T", "A", "C"],
            "af": [0.30, 0.02, 0.051, 0.012],
            "gene": ["G1", "G1", "G2", ""],
        }
    )


def _frequencies():
    return pd.DataFrame(
        {
            "contig": ["chrX", "chr2", "chr10", "chr2"],
            "position": [5, 300, 7, 100],
            "ref": ["A", "C", "G", "T"],
            "alt": ["T", "G", "C", "A"],
            "ac_NOR": [1, 10, 0, 3],
            "an_NOR": [150, 200, 200, 200],
            "af_NOR": [0.0, 0.0, 0.0, 0.0],  # recomputed from ac/an
            "ac_SAS": [0, 5, 0, 1],
            "an_SAS": [100, 100, 100, 100],
        }
    )


@pytest.fixture(scope="module")
def assertions():
    return knowledge.make_assertions(
        planted=_planted(),
        common=_common(),
        rng=np.random.default_rng(5),
        reference_date="2026-01-01",
    )


@pytest.fixture(scope="module")
def catalogue():
    return genes.gene_catalogue(preset="tiny", rng=np.random.default_rng(0))


def _by_category(assertions):
    planted = _planted().rename(columns={"pos": "position"})
    return assertions.merge(planted, on=["contig", "position", "ref", "alt"], how="left")


def test_assertion_table_shape_and_vocabulary(assertions):
    assert tuple(assertions.columns) == knowledge.ASSERTION_COLUMNS
    assert set(assertions.classification) <= set(knowledge.CLASSIFICATIONS)
    assert (assertions.stars == assertions.review_status.map(knowledge.REVIEW_STARS)).all()
    assert assertions.variation_id.is_unique and assertions.variation_id.is_monotonic_increasing
    single = assertions.review_status.str.contains("single submitter|no assertion")
    assert (assertions.submitters[single] == 1).all()
    assert (assertions.submitters[assertions.conflicting] >= 2).all()


def test_classifications_follow_the_planted_truth(assertions):
    merged = _by_category(assertions)
    current = merged[~merged.outdated]
    by = current.groupby("category").classification.agg(set)
    assert by["causal"] <= P_LP | {"Uncertain significance"}
    assert by["secondary"] <= P_LP
    assert by["vus"] == {"Uncertain significance"}
    assert by["benign_rare"] <= B_LB
    assert by["benign_common"] == {"Benign"}
    # Background common variants: BA1 at ≥ 5 %, else likely benign.
    common = merged[merged.category.isna()].set_index("position").classification
    assert common.to_dict() == {
        10: "Benign",
        20: "Likely benign",
        30: "Benign",
        40: "Likely benign",
    }


def test_some_causal_variants_are_novel_and_vus_often_unreported(assertions):
    merged = _by_category(assertions)
    asserted = merged.category.value_counts()
    assert 0 < asserted["causal"] < 24
    assert asserted["vus"] < 24
    assert asserted["benign_common"] == 24


def test_conflicting_and_outdated_entries_exist_and_make_sense(assertions):
    merged = _by_category(assertions)
    conflicting = merged[merged.conflicting]
    assert len(conflicting) >= 1
    assert (conflicting.review_status == "criteria provided, conflicting classifications").all()
    outdated = merged[merged.outdated]
    assert len(outdated) >= 1
    evaluated = pd.to_datetime(outdated.last_evaluated).dt.date
    assert (evaluated < dt.date(2016, 1, 1)).all()
    fresh = pd.to_datetime(merged.loc[~merged.outdated, "last_evaluated"]).dt.date
    assert (fresh >= dt.date(2018, 1, 1)).all() and (fresh <= dt.date(2026, 1, 1)).all()
    # an outdated entry says something the truth contradicts
    for row in outdated.itertuples(index=False):
        if row.category == "causal":
            assert row.classification not in P_LP
        else:
            assert row.classification not in B_LB


def test_make_assertions_is_deterministic(assertions):
    again = knowledge.make_assertions(
        planted=_planted(),
        common=_common(),
        rng=np.random.default_rng(5),
        reference_date="2026-01-01",
    )
    pd.testing.assert_frame_equal(assertions, again)


def test_make_assertions_rejects_missing_columns():
    with pytest.raises(InputError, match="consequence"):
        knowledge.make_assertions(
            planted=_planted().drop(columns=["consequence"]),
            common=_common(),
            rng=np.random.default_rng(0),
        )


def test_written_knowledge_reads_back(tmp_path, assertions, catalogue):
    knowledge.write_knowledge(
        tmp_path, frequencies=_frequencies(), assertions=assertions, catalogue=catalogue
    )
    k = knowledge.read_knowledge(tmp_path)
    f = k.frequencies
    # sorted by contig naturally (chr2 < chr10 < chrX), then position
    assert list(zip(f.contig, f.position, strict=True)) == [
        ("chr2", 100), ("chr2", 300), ("chr10", 7), ("chrX", 5)
    ]  # fmt: skip
    assert list(f.ac) == [4, 15, 0, 1] and list(f.an) == [300, 300, 300, 250]
    np.testing.assert_allclose(f.af, f.ac / f.an, rtol=1e-5)
    np.testing.assert_allclose(f.af_NOR, f.ac_NOR / f.an_NOR, rtol=1e-5)
    pd.testing.assert_frame_equal(k.assertions, assertions, check_dtype=False)
    assert list(k.gene_disease.gene) == sorted(catalogue.gene)
    panels = k.gene_disease.set_index("gene").panels
    assert "epilepsy" in panels["SCN1A"] and "acmg_secondary_findings" not in panels["SCN1A"]
    assert "cardiomyopathy" in panels["MYBPC3"] and "acmg_secondary_findings" in panels["MYBPC3"]
    assert len(k.acmg_sf) == 81
    assert "PMID 37347242" in (tmp_path / "acmg_sf_v3.2.tsv").read_text(encoding="utf-8")


def test_knowledge_files_are_byte_identical(tmp_path, assertions, catalogue):
    for name in ("a", "b"):
        knowledge.write_knowledge(
            tmp_path / name, frequencies=_frequencies(), assertions=assertions, catalogue=catalogue
        )
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert len(files) == 4
    for name in files:
        assert file_sha256(tmp_path / "a" / name) == file_sha256(tmp_path / "b" / name), name
    with gzip.open(tmp_path / "a" / "population_frequencies.tsv.gz", "rb") as g:
        assert g.read().startswith(b"contig\tposition\tref\talt\tac\tan\taf\t")


def test_missing_file_is_a_cohort_format_error(tmp_path, assertions, catalogue):
    knowledge.write_knowledge(
        tmp_path, frequencies=_frequencies(), assertions=assertions, catalogue=catalogue
    )
    (tmp_path / "clinical_assertions.tsv").unlink()
    with pytest.raises(CohortFormatError, match=r"clinical_assertions\.tsv"):
        knowledge.read_knowledge(tmp_path)


def test_frequencies_need_population_columns(tmp_path, assertions, catalogue):
    bare = _frequencies()[["contig", "position", "ref", "alt"]]
    with pytest.raises(InputError, match="ac_<POP>"):
        knowledge.write_knowledge(
            tmp_path, frequencies=bare, assertions=assertions, catalogue=catalogue
        )
