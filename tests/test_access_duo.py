"""DUO matching (Broad DUOS v3 rules) and the Decision type."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from workbench.access.duo import (
    ABSTAIN_MODIFIERS,
    DISEASE_PARENTS,
    PERMISSIONS,
    Decision,
    Reason,
    ResearchPurpose,
    abstain,
    approve,
    combine,
    deny,
    disease_ancestors,
    match_dataset,
    match_datasets,
)
from workbench.access.schema import DUO_TERMS
from workbench.errors import InputError
from workbench.synth.registry import DATASETS, PROJECTS

EPILEPSY = "MONDO:0005027"
DRAVET = "MONDO:0100135"  # below epilepsy
BRAIN = "MONDO:0005560"  # above epilepsy
CANCER = "MONDO:0004992"

PURPOSES = {
    "disease:epilepsy": ResearchPurpose("disease", EPILEPSY),
    "disease:dravet": ResearchPurpose("disease", DRAVET),
    "disease:brain": ResearchPurpose("disease", BRAIN),
    "disease:cancer": ResearchPurpose("disease", CANCER),
    "hmb": ResearchPurpose("hmb"),
    "methods": ResearchPurpose("methods"),
    "ancestry": ResearchPurpose("ancestry"),
    "gru": ResearchPurpose("gru"),
}

# (permission code, disease term of a DS permission)
DATASET_PERMISSIONS = {
    "NRES": ("DUO:0000004", None),
    "GRU": ("DUO:0000042", None),
    "HMB": ("DUO:0000006", None),
    "DS:epilepsy": ("DUO:0000007", EPILEPSY),
    "POA": ("DUO:0000011", None),
    "GRU-CC(obsolete)": ("DUO:0000005", None),
    "DUO:0000014(obsolete)": ("DUO:0000014", None),
    "unknown": ("DUO:0009999", None),
    "NCU(modifier)": ("DUO:0000046", None),
    "missing": (None, None),
    "malformed": ("GRU", None),
    "DS-without-term": ("DUO:0000007", None),
}

# The whole purpose x permission table: A approve, D deny (no modifiers).
_COLUMNS = list(DATASET_PERMISSIONS)
_TABLE = """
purpose           NRES GRU HMB DS:epilepsy POA GRU-CC DUO14 unknown NCU missing malformed DSnoterm
disease:epilepsy  A    A   A   A           D   D      D     D       D   D       D         D
disease:dravet    A    A   A   A           D   D      D     D       D   D       D         D
disease:brain     A    A   A   D           D   D      D     D       D   D       D         D
disease:cancer    A    A   A   D           D   D      D     D       D   D       D         D
hmb               A    A   A   D           D   D      D     D       D   D       D         D
methods           A    A   A   A           A   D      D     D       D   D       D         D
ancestry          A    A   D   D           A   D      D     D       D   D       D         D
gru               A    A   D   D           D   D      D     D       D   D       D         D
"""
_OUTCOME = {"A": "approve", "D": "deny"}


def _table_cases():
    lines = [line.split() for line in _TABLE.strip().splitlines()]
    header, rows = lines[0], lines[1:]
    assert len(header) - 1 == len(_COLUMNS)
    assert [r[0] for r in rows] == list(PURPOSES)
    for row in rows:
        for column, mark in zip(_COLUMNS, row[1:], strict=True):
            yield pytest.param(row[0], column, _OUTCOME[mark], id=f"{row[0]}-{column}")


@pytest.mark.parametrize(("purpose", "dataset", "expected"), list(_table_cases()))
def test_purpose_permission_table(purpose, dataset, expected):
    code, term = DATASET_PERMISSIONS[dataset]
    d = match_dataset(PURPOSES[purpose], code, [], disease_term=term)
    assert d.outcome == expected
    assert d.reasons, "every decision explains itself"
    assert d.approved is (expected == "approve")


def test_fail_closed_reason_codes():
    p = PURPOSES["hmb"]
    assert match_dataset(p, "DUO:0000005", []).codes == ("duo.obsolete_code",)
    assert match_dataset(p, "DUO:0000014", []).codes == ("duo.obsolete_code",)
    assert match_dataset(p, "DUO:0009999", []).codes == ("duo.unknown_code",)
    assert match_dataset(p, None, []).codes == ("duo.missing_permission",)
    assert match_dataset(p, "", []).codes == ("duo.missing_permission",)
    assert match_dataset(p, "GRU", []).codes == ("duo.malformed_code",)
    assert match_dataset(p, "DUO:0000046", []).codes == ("duo.not_a_permission",)
    assert match_dataset(PURPOSES["methods"], "DUO:0000007", []).codes == (
        "duo.missing_disease_term",
    )


def test_ds_reason_says_how_the_disease_matched():
    ds = ("DUO:0000007",)
    same = match_dataset(PURPOSES["disease:epilepsy"], *ds, disease_term=EPILEPSY)
    below = match_dataset(PURPOSES["disease:dravet"], *ds, disease_term=EPILEPSY)
    other = match_dataset(PURPOSES["disease:cancer"], *ds, disease_term=EPILEPSY)
    assert same.codes == ("duo.ds.same_disease",)
    assert below.codes == ("duo.ds.ancestor_disease",)
    assert other.codes == ("duo.ds.other_disease",)
    assert "epilepsy" in below.reasons[0].detail


# -- modifiers ---------------------------------------------------------------------------------

GRU = "DUO:0000042"
NMDS, NPOA, CC = "DUO:0000015", "DUO:0000044", "DUO:0000043"
NCU, NPU, NPUNCU = "DUO:0000046", "DUO:0000045", "DUO:0000018"


@pytest.mark.parametrize("purpose", list(PURPOSES))
def test_nmds_denies_methods_only(purpose):
    d = match_dataset(PURPOSES[purpose], GRU, [NMDS])
    assert d.outcome == ("deny" if purpose == "methods" else "approve")
    if purpose == "methods":
        assert d.codes == ("duo.nmds",)


@pytest.mark.parametrize("purpose", list(PURPOSES))
def test_npoa_denies_ancestry_only(purpose):
    d = match_dataset(PURPOSES[purpose], GRU, [NPOA])
    assert d.outcome == ("deny" if purpose == "ancestry" else "approve")


@pytest.mark.parametrize("modifier", [NCU, NPU, NPUNCU])
@pytest.mark.parametrize(
    ("commercial", "for_profit", "expected"),
    [
        (False, False, "approve"),
        (True, False, "deny"),
        (False, True, "deny"),
        (True, True, "deny"),
    ],
)
def test_commercial_modifiers(modifier, commercial, expected, for_profit):
    p = ResearchPurpose("hmb", commercial=commercial, for_profit=for_profit)
    d = match_dataset(p, GRU, [modifier])
    assert d.outcome == expected
    if expected == "deny":
        assert d.codes == (f"duo.{DUO_TERMS[modifier][0].lower()}",)


@pytest.mark.parametrize("purpose", list(PURPOSES))
def test_clinical_care_modifier_changes_nothing(purpose):
    p = PURPOSES[purpose]
    assert match_dataset(p, GRU, [CC]) == match_dataset(p, GRU, [])


@pytest.mark.parametrize("code", sorted(ABSTAIN_MODIFIERS))
def test_duty_and_limitation_codes_abstain_naming_the_code(code):
    d = match_dataset(PURPOSES["hmb"], GRU, [code])
    abbr = DUO_TERMS[code][0]
    assert d.outcome == "abstain"
    assert not d.approved
    assert d.codes == (f"duo.needs_review.{abbr.lower()}",)
    assert code in d.reasons[0].detail and abbr in d.reasons[0].detail


def test_abstain_set_is_every_listed_duty_code():
    abbrs = {DUO_TERMS[c][0] for c in ABSTAIN_MODIFIERS}
    assert abbrs == {"IRB", "COL", "PUB", "MOR", "GSO", "GS", "RS", "US", "PS", "IS", "TS", "RTN"}


def test_deny_beats_abstain_and_abstains_are_all_listed():
    p = PURPOSES["ancestry"]
    d = match_dataset(p, "DUO:0000006", ["DUO:0000021", "DUO:0000020"])
    assert d.outcome == "deny" and d.codes == ("duo.hmb.excludes_ancestry",)
    d = match_dataset(PURPOSES["hmb"], GRU, ["DUO:0000021", "DUO:0000020"])
    assert d.codes == ("duo.needs_review.irb", "duo.needs_review.col")


@pytest.mark.parametrize(
    ("modifier", "code"),
    [
        ("DUO:0009999", "duo.unknown_code"),
        ("DUO:0000005", "duo.obsolete_code"),
        (GRU, "duo.not_a_modifier"),
        ("", "duo.missing_modifier"),
        ("NCU", "duo.malformed_code"),
    ],
)
def test_bad_modifiers_deny(modifier, code):
    d = match_dataset(PURPOSES["hmb"], GRU, [modifier])
    assert d.outcome == "deny" and code in d.codes


def test_modifiers_must_be_a_list():
    with pytest.raises(InputError, match="list of DUO codes"):
        match_dataset(PURPOSES["hmb"], GRU, NCU)


# -- the registry's own datasets and projects ---------------------------------------------------

_REGISTRY_EXPECTED = {
    "EPI-7": {
        "NGC-RD": "approve",
        "NGC-REF": "approve",
        "EPI-DS": "approve",
        "POP-ORIGINS": "deny",
        "NORDIC-COLLAB": "abstain",
        "LEGACY-BIOBANK": "deny",
    },
    "METH-2": {
        "NGC-RD": "approve",
        "NGC-REF": "approve",
        "EPI-DS": "approve",
        "POP-ORIGINS": "approve",
        "NORDIC-COLLAB": "abstain",
        "LEGACY-BIOBANK": "deny",
    },
    "PHARMA-1": {
        "NGC-RD": "deny",
        "NGC-REF": "approve",
        "EPI-DS": "deny",
        "POP-ORIGINS": "deny",
        "NORDIC-COLLAB": "abstain",
        "LEGACY-BIOBANK": "deny",
    },
    "ANC-3": {
        "NGC-RD": "deny",
        "NGC-REF": "approve",
        "EPI-DS": "deny",
        "POP-ORIGINS": "approve",
        "NORDIC-COLLAB": "deny",
        "LEGACY-BIOBANK": "deny",
    },
}


@pytest.mark.parametrize("project", PROJECTS, ids=[p[0] for p in PROJECTS])
def test_registry_projects_against_registry_datasets(project):
    project_id, _title, purpose, commercial, *_ = project
    p = ResearchPurpose.from_registry(
        json.dumps(purpose), commercial=int(commercial), for_profit=bool(commercial)
    )
    datasets = pd.DataFrame(
        [
            {
                "dataset_id": d[0],
                "duo_permission": d[2],
                "disease_term": d[3],
                "modifiers": tuple(d[4]),
            }
            for d in DATASETS
        ]
    )
    got = {k: v.outcome for k, v in match_datasets(p, datasets).items()}
    assert got == _REGISTRY_EXPECTED[project_id]


# -- the disease hierarchy ---------------------------------------------------------------------


def test_builtin_hierarchy_covers_the_registry_terms():
    terms = {d[3] for d in DATASETS if d[3]} | {
        p[2]["disease"] for p in PROJECTS if "disease" in p[2]
    }
    assert terms <= set(DISEASE_PARENTS)
    assert disease_ancestors(DRAVET) == {EPILEPSY, BRAIN, "MONDO:0002602", "MONDO:0005071",
                                         "MONDO:0000001"}  # fmt: skip
    assert disease_ancestors("MONDO:1234567") == frozenset()


def test_disease_ancestors_as_mapping_or_callable():
    child, parent = "MONDO:0000101", "MONDO:0000100"
    p = ResearchPurpose("disease", child)
    without = match_dataset(p, "DUO:0000007", [], disease_term=parent)
    mapping = match_dataset(
        p, "DUO:0000007", [], disease_term=parent, disease_ancestors={child: (parent,)}
    )
    func = match_dataset(
        p, "DUO:0000007", [], disease_term=parent, disease_ancestors=lambda t: [parent]
    )
    assert (without.outcome, mapping.outcome, func.outcome) == ("deny", "approve", "approve")
    with pytest.raises(InputError, match="disease_ancestors"):
        match_dataset(p, "DUO:0000007", [], disease_term=parent, disease_ancestors=3)


def test_cyclic_hierarchy_terminates():
    a, b = "MONDO:0000201", "MONDO:0000202"
    assert disease_ancestors(a, parents={a: (b,), b: (a,)}) == {b}


# -- purposes -----------------------------------------------------------------------------------


def test_purpose_from_registry_json_and_flags():
    p = ResearchPurpose.from_registry('{"kind": "disease", "disease": "MONDO:0005027"}')
    assert p == ResearchPurpose("disease", EPILEPSY)
    q = ResearchPurpose.from_registry({"kind": "hmb"}, commercial=1, for_profit=True)
    assert q.commercial and q.for_profit
    assert q.to_dict() == {"kind": "hmb", "commercial": True, "for_profit": True}


@pytest.mark.parametrize(
    ("purpose", "match"),
    [
        ("not json", "JSON"),
        ("[1, 2]", "JSON object"),
        ({"kind": "fishing"}, "kind"),
        ({"kind": "disease"}, "MONDO"),
        ({"kind": "disease", "disease": "epilepsy"}, "MONDO"),
        ({"kind": "hmb", "disease": EPILEPSY}, "only a 'disease' purpose"),
        ({"kind": "hmb", "sensitive": True}, "found also"),
    ],
)
def test_bad_purposes_refused(purpose, match):
    with pytest.raises(InputError, match=match):
        ResearchPurpose.from_registry(purpose)


def test_purpose_flags_must_be_boolean():
    with pytest.raises(InputError, match="commercial"):
        ResearchPurpose.from_registry({"kind": "hmb"}, commercial="yes")


# -- decisions and combine ----------------------------------------------------------------------


def test_combine_deny_beats_abstain_beats_approve():
    a, b, c = approve("x.a", "a"), abstain("x.b", "b"), deny("x.c", "c")
    assert combine(a, a).outcome == "approve"
    assert combine(a, b).outcome == "abstain"
    assert combine(b, a, c).outcome == "deny"
    assert combine(c, b).codes == ("x.c",)
    assert combine(a, approve("x.d", "d")).codes == ("x.a", "x.d")
    for order in [(a, b), (b, a)]:
        assert not combine(*order).approved


def test_combine_of_nothing_denies():
    d = combine()
    assert d.outcome == "deny" and not d.approved


def test_abstain_is_never_an_approval():
    assert not abstain("x.y", "committee").approved
    assert Decision("approve").approved


def test_decision_validation_and_serialisation():
    with pytest.raises(InputError, match="outcome"):
        Decision("maybe")
    with pytest.raises(InputError, match="Reason"):
        Decision("deny", ("not a reason",))
    with pytest.raises(InputError, match="dotted"):
        Reason("Has Spaces", "x")
    with pytest.raises(InputError, match="Decision"):
        combine("approve")
    d = deny("duo.obsolete_code", "old")
    assert json.loads(json.dumps(d.to_dict())) == {
        "outcome": "deny",
        "reasons": [{"code": "duo.obsolete_code", "detail": "old"}],
    }


def test_permission_table_names_every_current_permission():
    current = {c for c, (_, _, kind, obs) in DUO_TERMS.items() if kind == "permission" and not obs}
    assert set(PERMISSIONS.values()) == current
