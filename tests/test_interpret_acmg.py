"""ACMG/AMP classification: every Table 5 rule, the points scheme, strength modifiers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import InputError
from workbench.interpret.acmg import (
    ACMG_ENUM,
    BENIGN,
    CLASSES,
    CRITERIA,
    LIKELY_BENIGN,
    LIKELY_PATHOGENIC,
    PATHOGENIC,
    UNCERTAIN,
    Evidence,
    allowed_strengths,
    classify,
    classify_points,
    parse_evidence,
    points,
    points_class,
)

# (class, rule id, minimal combination that fires the rule, the combination just below it,
#  the class the one below gets). Each row of Richards 2015 Table 5.
TABLE5 = [
    (PATHOGENIC, "i-a", ["PVS1", "PS1"], ["PVS1"], UNCERTAIN),
    (PATHOGENIC, "i-b", ["PVS1", "PM1", "PM2"], ["PVS1", "PM1"], LIKELY_PATHOGENIC),
    (PATHOGENIC, "i-c", ["PVS1", "PM1", "PP1"], ["PVS1", "PP1"], UNCERTAIN),
    (PATHOGENIC, "i-d", ["PVS1", "PP1", "PP3"], ["PVS1", "PP1"], UNCERTAIN),
    (PATHOGENIC, "ii", ["PS1", "PS2"], ["PS1"], UNCERTAIN),
    (PATHOGENIC, "iii-a", ["PS1", "PM1", "PM2", "PM4"], ["PS1", "PM1", "PM2"], LIKELY_PATHOGENIC),
    (
        PATHOGENIC,
        "iii-b",
        ["PS1", "PM1", "PM2", "PP1", "PP3"],
        ["PS1", "PM1", "PM2", "PP1"],
        LIKELY_PATHOGENIC,
    ),
    (
        PATHOGENIC,
        "iii-c",
        ["PS1", "PM1", "PP1", "PP2", "PP3", "PP4"],
        ["PS1", "PM1", "PP1", "PP2", "PP3"],
        LIKELY_PATHOGENIC,
    ),
    (LIKELY_PATHOGENIC, "i", ["PVS1", "PM2"], ["PVS1"], UNCERTAIN),
    (LIKELY_PATHOGENIC, "ii", ["PS3", "PM2"], ["PS3"], UNCERTAIN),
    (LIKELY_PATHOGENIC, "iii", ["PS3", "PP1", "PP3"], ["PS3", "PP1"], UNCERTAIN),
    (LIKELY_PATHOGENIC, "iv", ["PM1", "PM2", "PM4"], ["PM1", "PM2"], UNCERTAIN),
    (LIKELY_PATHOGENIC, "v", ["PM1", "PM2", "PP1", "PP3"], ["PM1", "PM2", "PP1"], UNCERTAIN),
    (
        LIKELY_PATHOGENIC,
        "vi",
        ["PM2", "PP1", "PP2", "PP3", "PP4"],
        ["PM2", "PP1", "PP2", "PP3"],
        UNCERTAIN,
    ),
    (BENIGN, "i", ["BA1"], ["BS1"], UNCERTAIN),
    (BENIGN, "ii", ["BS1", "BS2"], ["BS1"], UNCERTAIN),
    (LIKELY_BENIGN, "i", ["BS1", "BP4"], ["BS1"], UNCERTAIN),
    (LIKELY_BENIGN, "ii", ["BP4", "BP7"], ["BP4"], UNCERTAIN),
]


@pytest.mark.parametrize(
    ("cls", "rule_id", "fires", "below", "below_cls"),
    TABLE5,
    ids=[f"{c}-{r}" for c, r, *_ in TABLE5],
)
def test_every_table5_rule_fires_at_its_minimum_and_not_below(
    cls, rule_id, fires, below, below_cls
):
    tag = f"(Table 5 {cls} rule {rule_id})"
    hit = classify(fires)
    assert hit.classification == cls
    assert tag in hit.rule
    assert not hit.contradictory
    miss = classify(below)
    assert miss.classification == below_cls
    assert tag not in miss.rule


def test_rule_names_the_criteria_that_met_it():
    c = classify(["PVS1", "PS2", "PM2"])
    assert c.rule == "1 very strong and ≥1 strong (Table 5 Pathogenic rule i-a): PVS1, PS2, PM2"
    assert c.pathogenic_rule == c.rule
    assert c.benign_rule is None


def test_pathogenic_is_checked_before_likely_pathogenic():
    c = classify(["PS1", "PM1", "PM2", "PM4"])
    assert c.classification == PATHOGENIC
    assert "rule iii-a" in c.rule


@pytest.mark.parametrize(
    "evidence",
    [
        ["PVS1", "PS2", "BA1"],  # Pathogenic + Benign
        ["PM1", "PM2", "PM4", "BP4", "BP7"],  # Likely pathogenic + Likely benign
        ["PS1", "PS2", "BS1", "BP4"],  # Pathogenic + Likely benign
    ],
)
def test_both_sides_met_is_uncertain_contradictory(evidence):
    c = classify(evidence)
    assert c.classification == UNCERTAIN
    assert c.contradictory
    assert c.pathogenic_rule is not None and c.benign_rule is not None
    assert "contradictory" in c.rule


def test_one_side_met_and_other_side_below_a_rule_is_not_contradictory():
    c = classify(["PVS1", "PS2", "BP4"])
    assert c.classification == PATHOGENIC
    assert not c.contradictory
    assert c.benign_rule is None


def test_nothing_met_is_uncertain():
    assert classify([]).classification == UNCERTAIN
    c = classify(["PM2", "PP3", "BP7"])
    assert c.classification == UNCERTAIN
    assert "no Table 5 rule" in c.rule


def test_pvs1_alone_is_uncertain_under_table5():
    c = classify(["PVS1"])
    assert c.classification == UNCERTAIN
    assert c.points == 8


def test_pvs1_with_one_supporting_differs_between_views_and_says_why():
    c = classify(["PVS1", "PP3"])
    assert (c.classification, c.points, c.points_class) == (UNCERTAIN, 9, LIKELY_PATHOGENIC)
    assert c.disagreement is not None
    assert "no combining rule covers 1 very strong, 1 supporting" in c.disagreement
    assert "PVS1 8 + PP3 1 = 9 points" in c.disagreement
    assert "Likely pathogenic" in c.disagreement


def test_two_strong_is_pathogenic_by_table5_but_likely_pathogenic_by_points():
    c = classify(["PS1", "PS2"])
    assert (c.classification, c.points_class) == (PATHOGENIC, LIKELY_PATHOGENIC)
    assert "rule ii" in c.disagreement


def test_contradictory_disagreement_explains_that_points_add_both_sides():
    c = classify(["PVS1", "PS2", "PM2", "BS1", "BS2"])
    assert c.contradictory and c.points == 14 - 8
    assert c.points_class == LIKELY_PATHOGENIC
    assert "both sides meet a rule" in c.disagreement


def test_agreement_has_no_disagreement():
    c = classify(["PVS1", "PS2", "PM2"])
    assert c.classification == c.points_class == PATHOGENIC
    assert c.disagreement is None


# -- strength modifiers ---------------------------------------------------------------------


def test_modifier_counts_at_applied_strength():
    assert classify(["PVS1", "PM2"]).classification == LIKELY_PATHOGENIC
    weakened = classify(["PVS1", "PM2_Supporting"])
    assert weakened.classification == UNCERTAIN
    assert weakened.points == 9
    assert "PM2_Supporting" in weakened.disagreement
    # three supporting-strength criteria with PVS1: rule i-d by the applied strengths
    assert "rule i-d" in classify(["PVS1", "PM2_Supporting", "PP3"]).rule


def test_upgraded_criteria_count_at_their_new_strength():
    assert "rule ii" in classify(["PS3", "PP1_Strong"]).rule
    assert classify(["PVS1_Strong", "PM2"]).classification == LIKELY_PATHOGENIC
    assert "rule ii" in classify(["PVS1_Strong", "PS2"]).rule
    assert points(["PVS1_Moderate", "PP1_Strong"]) == 2 + 4


def test_second_very_strong_criterion_counts_as_strong_in_rule_i_a():
    c = classify(["PVS1", "PS2_VeryStrong"])
    assert c.classification == PATHOGENIC
    assert "rule i-a" in c.rule
    assert c.points == 16


def test_downgraded_benign_strong_counts_as_supporting():
    c = classify(["BS1_Supporting", "BP4"])
    assert c.classification == LIKELY_BENIGN
    assert "Likely benign rule ii" in c.rule
    assert classify(["BS1", "BS2"]).classification == BENIGN
    assert classify(["BS1_Supporting", "BS2"]).classification == LIKELY_BENIGN


def test_evidence_keeps_code_and_strength_separate():
    e = Evidence.parse("PM2_Supporting")
    assert (e.code, e.strength, e.label, e.modified) == (
        "PM2",
        "supporting",
        "PM2_Supporting",
        True,
    )
    assert Evidence("PM2").strength == "moderate"
    assert Evidence("PM2").label == "PM2"
    assert Evidence("pvs1", "VeryStrong").label == "PVS1"
    assert Evidence("PS2", "very strong").label == "PS2_VeryStrong"
    assert Evidence.parse("PS2_VeryStrong").strength == "very_strong"
    assert Evidence("BA1").direction == "benign"


@pytest.mark.parametrize(
    ("code", "strength"),
    [
        ("BA1", "strong"),  # BA1 is stand-alone only
        ("BS1", "stand_alone"),  # stand-alone belongs to BA1
        ("BP4", "moderate"),  # Table 5 has no benign moderate
        ("PM2", "stand_alone"),
        ("PM2", "tiny"),
        ("XYZ1", None),
    ],
)
def test_impossible_evidence_is_refused(code, strength):
    with pytest.raises(InputError):
        Evidence(code, strength)


def test_evidence_checks_source_and_duplicates():
    with pytest.raises(InputError, match="source"):
        Evidence("PM2", source="robot")
    with pytest.raises(InputError, match="twice"):
        classify(["PM2", "PM2_Supporting"])
    with pytest.raises(InputError, match="list"):
        classify("PVS1")
    with pytest.raises(InputError):
        classify([42])


def test_parse_evidence_accepts_labels_and_objects():
    out = parse_evidence(["PVS1", Evidence("PM2", "supporting", note="gnomAD absent")])
    assert [e.label for e in out] == ["PVS1", "PM2_Supporting"]
    assert out[0].source == "user"
    assert out[1].note == "gnomAD absent"


# -- points ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        (10, PATHOGENIC),
        (9, LIKELY_PATHOGENIC),
        (6, LIKELY_PATHOGENIC),
        (5, UNCERTAIN),
        (0, UNCERTAIN),
        (-1, LIKELY_BENIGN),
        (-6, LIKELY_BENIGN),
        (-7, BENIGN),
    ],
)
def test_points_class_boundaries(total, expected):
    assert points_class(total) == expected


@pytest.mark.parametrize(
    ("evidence", "total", "expected"),
    [
        (["PVS1", "PM2"], 10, PATHOGENIC),
        (["PVS1", "PP3"], 9, LIKELY_PATHOGENIC),
        (["PS1", "PM2"], 6, LIKELY_PATHOGENIC),
        (["PS1", "PP1"], 5, UNCERTAIN),
        (["PM2", "BP4", "BP7"], 0, UNCERTAIN),
        (["BP4"], -1, LIKELY_BENIGN),
        (["BS1", "BP4", "BP7"], -6, LIKELY_BENIGN),
        (["BS1", "BP1", "BP4", "BP7"], -7, BENIGN),
        (["BA1"], -8, BENIGN),
    ],
)
def test_points_of_evidence(evidence, total, expected):
    assert points(evidence) == total
    assert classify_points(evidence) == expected
    assert classify(evidence).points_class == expected


def test_points_class_rejects_non_integers():
    with pytest.raises(InputError):
        points_class(9.5)
    with pytest.raises(InputError):
        points_class(True)


# -- data and mappings ----------------------------------------------------------------------


def test_criteria_table_matches_richards_2015():
    assert len(CRITERIA) == 28
    by_strength = {}
    for c in CRITERIA.values():
        by_strength.setdefault((c.direction, c.strength), []).append(c.code)
    assert by_strength[("pathogenic", "very_strong")] == ["PVS1"]
    assert by_strength[("pathogenic", "strong")] == ["PS1", "PS2", "PS3", "PS4"]
    assert by_strength[("pathogenic", "moderate")] == [f"PM{i}" for i in range(1, 7)]
    assert by_strength[("pathogenic", "supporting")] == [f"PP{i}" for i in range(1, 6)]
    assert by_strength[("benign", "stand_alone")] == ["BA1"]
    assert by_strength[("benign", "strong")] == ["BS1", "BS2", "BS3", "BS4"]
    assert by_strength[("benign", "supporting")] == [f"BP{i}" for i in range(1, 8)]
    assert allowed_strengths("BA1") == ("stand_alone",)


def test_acmg_enum_matches_phenopackets():
    from phenopackets import AcmgPathogenicityClassification

    assert set(ACMG_ENUM) == set(CLASSES)
    for name in ACMG_ENUM.values():
        AcmgPathogenicityClassification.Value(name)  # raises for an unknown name
    c = classify(["PVS1", "PP3"])
    assert (c.acmg_enum, c.points_acmg_enum) == ("UNCERTAIN_SIGNIFICANCE", "LIKELY_PATHOGENIC")


def test_classes_use_the_knowledge_wording():
    from workbench.synth.knowledge import CLASSIFICATIONS

    assert tuple(CLASSIFICATIONS) == CLASSES


# -- properties -----------------------------------------------------------------------------

_PATHOGENIC_CODES = [c for c in CRITERIA if CRITERIA[c].direction == "pathogenic"]
_BENIGN_CODES = [c for c in CRITERIA if CRITERIA[c].direction == "benign"]


def _evidence_from(codes):
    return st.lists(st.sampled_from(codes), unique=True).flatmap(
        lambda chosen: st.tuples(*[st.sampled_from(allowed_strengths(c)) for c in chosen]).map(
            lambda strengths: [Evidence(c, s) for c, s in zip(chosen, strengths, strict=True)]
        )
    )


@settings(max_examples=300, deadline=None)
@given(_evidence_from(_BENIGN_CODES))
def test_benign_evidence_alone_never_gives_a_pathogenic_class(evidence):
    c = classify(evidence)
    assert c.classification in (UNCERTAIN, LIKELY_BENIGN, BENIGN)
    assert c.points_class in (UNCERTAIN, LIKELY_BENIGN, BENIGN)


@settings(max_examples=300, deadline=None)
@given(_evidence_from(_PATHOGENIC_CODES))
def test_pathogenic_evidence_alone_never_gives_a_benign_class(evidence):
    c = classify(evidence)
    assert c.classification in (PATHOGENIC, LIKELY_PATHOGENIC, UNCERTAIN)
    assert c.points_class in (PATHOGENIC, LIKELY_PATHOGENIC, UNCERTAIN)


def _table5_reference(vs, s, m, p, ba, bs, bp):
    """Table 5 read aloud, as a slow independent reference (2+ very strong: the extra ones
    count as strong)."""
    s_with_vs = s + max(vs - 1, 0)
    path = (
        (vs >= 1 and (s_with_vs >= 1 or m >= 2 or (m == 1 and p == 1) or p >= 2))
        or s >= 2
        or (s == 1 and (m >= 3 or (m == 2 and p >= 2) or (m == 1 and p >= 4)))
    )
    likely_path = (
        (vs >= 1 and m == 1)
        or (s == 1 and m in (1, 2))
        or (s == 1 and p >= 2)
        or m >= 3
        or (m == 2 and p >= 2)
        or (m == 1 and p >= 4)
    )
    benign = ba >= 1 or bs >= 2
    likely_benign = (bs == 1 and bp >= 1) or bp >= 2
    p_side = PATHOGENIC if path else LIKELY_PATHOGENIC if likely_path else None
    b_side = BENIGN if benign else LIKELY_BENIGN if likely_benign else None
    if p_side and b_side:
        return UNCERTAIN
    return p_side or b_side or UNCERTAIN


@settings(max_examples=500, deadline=None)
@given(_evidence_from(list(CRITERIA)))
def test_classify_agrees_with_a_literal_reading_of_table5(evidence):
    n = {k: 0 for k in ("vs", "s", "m", "p", "ba", "bs", "bp")}
    key = {
        ("pathogenic", "very_strong"): "vs",
        ("pathogenic", "strong"): "s",
        ("pathogenic", "moderate"): "m",
        ("pathogenic", "supporting"): "p",
        ("benign", "stand_alone"): "ba",
        ("benign", "strong"): "bs",
        ("benign", "supporting"): "bp",
    }
    for e in evidence:
        n[key[(e.direction, e.strength)]] += 1
    assert classify(evidence).classification == _table5_reference(**n)
    assert classify(evidence).points == sum(e.points for e in evidence)
