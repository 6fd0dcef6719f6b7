"""ACMG/AMP variant classification: criteria as data, Table 5 rules and Bayesian points.

Two views of the same evidence, side by side:

* :func:`classify` applies the combining rules of Richards et al. 2015, Table 5, exactly:
  the pathogenic and the benign side are evaluated separately; Pathogenic is checked before
  Likely pathogenic and Benign before Likely benign; when both sides meet a rule the variant is
  of Uncertain significance (contradictory evidence), and when no rule is met it is of
  Uncertain significance too.
* :func:`points` and :func:`classify_points` apply the Bayesian points scheme of Tavtigian et
  al. 2018/2020: very strong 8, strong 4, moderate 2, supporting 1; benign strong −4,
  supporting −1, stand-alone (BA1) −8. Totals of ≥ 10 are Pathogenic, 6 to 9 Likely
  pathogenic, 0 to 5 Uncertain significance, −1 to −6 Likely benign and ≤ −7 Benign.

A :class:`Classification` carries both, the Table 5 rule that fired and a ``disagreement``
sentence when the views differ (the teaching case: PVS1 with one supporting criterion is
Uncertain significance under Table 5 and Likely pathogenic by points).

Code and strength are separate fields of an :class:`Evidence` (ClinGen strength modifiers:
``PM2_Supporting`` is the code PM2 applied at supporting strength), and both views count a
criterion at its *applied* strength. Allowed strengths: pathogenic criteria at very strong,
strong, moderate or supporting; benign criteria at strong or supporting, and BA1 only
stand-alone. Benign *moderate* (used by some later ClinGen calibrations, e.g. BP4_Moderate)
is refused because Table 5 has no rule that could count it.

Table 5 says "1 very strong (PVS1)" because 2015 had a single very strong criterion. When a
modifier makes a second criterion very strong (``PS2_VeryStrong`` beside PVS1), the second
one is counted as meeting "≥ 1 strong" of rule Pathogenic (i)(a): very strong evidence is at
least strong evidence. Every other rule reads as printed; where Table 5 says "1" (for
example "1 strong and 1–2 moderate") a larger count is always caught by an earlier,
stronger rule, so "at least" and "exactly" give the same class.

References
----------
Richards S et al. (2015) Standards and guidelines for the interpretation of sequence variants.
Genet Med 17:405–424 (Tables 3–5). Tavtigian SV et al. (2018) Modeling the ACMG/AMP variant
classification guidelines as a Bayesian classification framework. Genet Med 20:1054–1060.
Tavtigian SV et al. (2020) Fitting a naturally scaled point system to the ACMG/AMP variant
classification guidelines. Hum Mutat 41:1734–1737. ClinGen Sequence Variant Interpretation
working group, strength modifiers (e.g. Abou Tayoun AN et al. (2018) Hum Mutat 39:1517–1524).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import InputError

__all__ = [
    "ACMG_ENUM",
    "BENIGN",
    "CLASSES",
    "CRITERIA",
    "LIKELY_BENIGN",
    "LIKELY_PATHOGENIC",
    "PATHOGENIC",
    "POINTS",
    "STRENGTHS",
    "UNCERTAIN",
    "Classification",
    "Criterion",
    "Evidence",
    "allowed_strengths",
    "classify",
    "classify_points",
    "parse_evidence",
    "points",
    "points_class",
]

PATHOGENIC = "Pathogenic"
LIKELY_PATHOGENIC = "Likely pathogenic"
UNCERTAIN = "Uncertain significance"
LIKELY_BENIGN = "Likely benign"
BENIGN = "Benign"

#: The five tiers, most to least pathogenic (the wording of ``knowledge.CLASSIFICATIONS``).
CLASSES = (PATHOGENIC, LIKELY_PATHOGENIC, UNCERTAIN, LIKELY_BENIGN, BENIGN)

#: The five tiers as Phenopackets v2 ``AcmgPathogenicityClassification`` enum names.
ACMG_ENUM = {
    PATHOGENIC: "PATHOGENIC",
    LIKELY_PATHOGENIC: "LIKELY_PATHOGENIC",
    UNCERTAIN: "UNCERTAIN_SIGNIFICANCE",
    LIKELY_BENIGN: "LIKELY_BENIGN",
    BENIGN: "BENIGN",
}

#: Strength names, strongest first.
STRENGTHS = ("stand_alone", "very_strong", "strong", "moderate", "supporting")

_PATHOGENIC_STRENGTHS = ("very_strong", "strong", "moderate", "supporting")
_BENIGN_STRENGTHS = ("strong", "supporting")

#: Points per (direction, applied strength), Tavtigian et al. 2020.
POINTS = {
    ("pathogenic", "very_strong"): 8,
    ("pathogenic", "strong"): 4,
    ("pathogenic", "moderate"): 2,
    ("pathogenic", "supporting"): 1,
    ("benign", "stand_alone"): -8,
    ("benign", "strong"): -4,
    ("benign", "supporting"): -1,
}

# ClinGen suffixes (``PVS1_Strong``, ``PS2_VeryStrong``, ``BA1_StandAlone``).
_SUFFIX = {
    "stand_alone": "StandAlone",
    "very_strong": "VeryStrong",
    "strong": "Strong",
    "moderate": "Moderate",
    "supporting": "Supporting",
}
_STRENGTH_ALIASES = {s.replace("_", ""): s for s in STRENGTHS}


@dataclass(frozen=True)
class Criterion:
    """One ACMG/AMP criterion: its code, direction, default strength and what it means."""

    code: str
    direction: str
    strength: str
    summary: str


# (code, default strength, meaning) — the direction is in the code's first letter.
_TABLE = (
    ("PVS1", "very_strong", "null variant where loss of function causes the disease"),
    ("PS1", "strong", "same amino-acid change as an established pathogenic variant"),
    ("PS2", "strong", "de novo, maternity and paternity confirmed"),
    ("PS3", "strong", "well-established functional studies show a damaging effect"),
    ("PS4", "strong", "more frequent in affected individuals than in controls"),
    ("PM1", "moderate", "mutational hot spot or critical functional domain"),
    ("PM2", "moderate", "absent from, or extremely rare in, population databases"),
    ("PM3", "moderate", "recessive disorder: in trans with a pathogenic variant"),
    ("PM4", "moderate", "protein length change: in-frame indel outside a repeat, or stop loss"),
    ("PM5", "moderate", "novel missense at a residue with another pathogenic missense"),
    ("PM6", "moderate", "assumed de novo (parentage not confirmed)"),
    ("PP1", "supporting", "co-segregates with the disease in the family"),
    ("PP2", "supporting", "missense in a gene where missense is a common mechanism"),
    ("PP3", "supporting", "computational evidence of a deleterious effect"),
    ("PP4", "supporting", "phenotype or family history highly specific for the gene"),
    ("PP5", "supporting", "reputable source reports the variant pathogenic"),
    ("BA1", "stand_alone", "allele frequency above 5 % in a population database"),
    ("BS1", "strong", "allele frequency greater than expected for the disorder"),
    ("BS2", "strong", "seen in a healthy adult for a fully penetrant early-onset disorder"),
    ("BS3", "strong", "well-established functional studies show no damaging effect"),
    ("BS4", "strong", "does not segregate with the disease in affected family members"),
    ("BP1", "supporting", "missense in a gene where only truncating variants cause disease"),
    ("BP2", "supporting", "in trans with a pathogenic variant (dominant) or in cis"),
    ("BP3", "supporting", "in-frame indel in a repeat without known function"),
    ("BP4", "supporting", "computational evidence of no impact"),
    ("BP5", "supporting", "found in a case with another molecular explanation"),
    ("BP6", "supporting", "reputable source reports the variant benign"),
    ("BP7", "supporting", "synonymous with no predicted splice impact"),
)

#: Every ACMG/AMP 2015 criterion (Richards 2015, Tables 3 and 4), in the guideline's order.
CRITERIA: dict[str, Criterion] = {
    code: Criterion(code, "pathogenic" if code[0] == "P" else "benign", strength, summary)
    for code, strength, summary in _TABLE
}


def allowed_strengths(code: str) -> tuple[str, ...]:
    """The strengths criterion ``code`` may be applied at (strongest first)."""
    criterion = _criterion(code)
    if criterion.code == "BA1":
        return ("stand_alone",)
    if criterion.direction == "pathogenic":
        return _PATHOGENIC_STRENGTHS
    return _BENIGN_STRENGTHS


def _criterion(code) -> Criterion:
    if not isinstance(code, str) or code.upper() not in CRITERIA:
        raise InputError(
            f"expected an ACMG/AMP criterion code such as 'PVS1', 'PM2' or 'BP4', got {code!r}; "
            f"known codes: {', '.join(CRITERIA)}"
        )
    return CRITERIA[code.upper()]


def _strength(value) -> str:
    if isinstance(value, str):
        key = re.sub(r"[^a-z]", "", value.lower())
        if key in _STRENGTH_ALIASES:
            return _STRENGTH_ALIASES[key]
    raise InputError(
        f"expected a strength ({', '.join(STRENGTHS)}, or a ClinGen suffix such as "
        f"'Supporting' or 'VeryStrong'), got {value!r}"
    )


@dataclass(frozen=True)
class Evidence:
    """One criterion applied to a variant, at a strength.

    Parameters
    ----------
    code
        The criterion code (``"PM2"``), without any strength suffix.
    strength
        The applied strength (``"very_strong"``, ``"strong"``, ``"moderate"``,
        ``"supporting"``, ``"stand_alone"``; ClinGen spellings such as ``"Supporting"`` or
        ``"VeryStrong"`` are accepted). ``None`` means the criterion's default strength; after
        construction the field always holds the applied strength.
    source
        ``"computed"`` (derived from data by :mod:`workbench.interpret.criteria`) or
        ``"user"`` (ticked by a person).
    note
        Why the criterion applies, in words a reviewer can check.
    """

    code: str
    strength: str | None = None
    source: str = "computed"
    note: str = ""

    def __post_init__(self):
        criterion = _criterion(self.code)
        strength = criterion.strength if self.strength is None else _strength(self.strength)
        if strength not in allowed_strengths(criterion.code):
            raise InputError(
                f"{criterion.code} cannot be applied at {strength.replace('_', ' ')} strength; "
                f"allowed: {', '.join(allowed_strengths(criterion.code))}"
            )
        if self.source not in ("computed", "user"):
            raise InputError(f"expected source 'computed' or 'user', got {self.source!r}")
        if not isinstance(self.note, str):
            raise InputError(f"expected note as a string, got {type(self.note).__name__}")
        object.__setattr__(self, "code", criterion.code)
        object.__setattr__(self, "strength", strength)

    @property
    def direction(self) -> str:
        """``"pathogenic"`` or ``"benign"``."""
        return CRITERIA[self.code].direction

    @property
    def modified(self) -> bool:
        """True when applied at a strength other than the criterion's default."""
        return self.strength != CRITERIA[self.code].strength

    @property
    def label(self) -> str:
        """ClinGen-style label: ``"PM2"`` at default strength, else ``"PM2_Supporting"``."""
        return f"{self.code}_{_SUFFIX[self.strength]}" if self.modified else self.code

    @property
    def points(self) -> int:
        """Points of this criterion at its applied strength (Tavtigian 2020)."""
        return POINTS[(self.direction, self.strength)]

    @classmethod
    def parse(cls, label: str, *, source: str = "user", note: str = "") -> Evidence:
        """Evidence from a ClinGen label: ``"PVS1"``, ``"PM2_Supporting"``, ``"PS2_VeryStrong"``."""
        if not isinstance(label, str):
            raise InputError(f"expected a criterion label such as 'PM2_Supporting', got {label!r}")
        code, _, suffix = label.strip().partition("_")
        return cls(code, suffix or None, source=source, note=note)


def parse_evidence(evidence: Iterable[Evidence | str]) -> tuple[Evidence, ...]:
    """Check a collection of evidence: labels are parsed, each code may appear only once."""
    if isinstance(evidence, (str, Evidence)) or not isinstance(evidence, Iterable):
        raise InputError(
            "expected a list of Evidence (or labels such as 'PM2_Supporting'), got "
            f"{type(evidence).__name__}; wrap a single criterion in a list"
        )
    out = []
    seen = set()
    for item in evidence:
        if isinstance(item, str):
            item = Evidence.parse(item)
        elif not isinstance(item, Evidence):
            raise InputError(
                f"expected Evidence or a criterion label, got {type(item).__name__}: {item!r}"
            )
        if item.code in seen:
            raise InputError(
                f"criterion {item.code} is given twice; apply each criterion once, at the "
                "strength the evidence supports"
            )
        seen.add(item.code)
        out.append(item)
    return tuple(out)


# -- Table 5 ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Counts:
    very_strong: int = 0
    strong: int = 0
    moderate: int = 0
    supporting: int = 0
    stand_alone: int = 0
    benign_strong: int = 0
    benign_supporting: int = 0


def _count(evidence: tuple[Evidence, ...]) -> _Counts:
    n = dict.fromkeys(_Counts.__dataclass_fields__, 0)
    for e in evidence:
        if e.direction == "pathogenic":
            n[e.strength] += 1
        elif e.strength == "stand_alone":
            n["stand_alone"] += 1
        else:
            n[f"benign_{e.strength}"] += 1
    return _Counts(**n)


# (class, rule id, wording, test on the counts); within a class in Table 5's order. The
# second very strong criterion counts as a strong one in rule (i)(a) only (module docstring).
_RULES = (
    (
        PATHOGENIC,
        "i-a",
        "1 very strong and ≥1 strong",
        lambda c: c.very_strong >= 1 and c.strong + c.very_strong - 1 >= 1,
    ),
    (
        PATHOGENIC,
        "i-b",
        "1 very strong and ≥2 moderate",
        lambda c: c.very_strong >= 1 and c.moderate >= 2,
    ),
    (
        PATHOGENIC,
        "i-c",
        "1 very strong, 1 moderate and 1 supporting",
        lambda c: c.very_strong >= 1 and c.moderate >= 1 and c.supporting >= 1,
    ),
    (
        PATHOGENIC,
        "i-d",
        "1 very strong and ≥2 supporting",
        lambda c: c.very_strong >= 1 and c.supporting >= 2,
    ),
    (PATHOGENIC, "ii", "≥2 strong", lambda c: c.strong >= 2),
    (PATHOGENIC, "iii-a", "1 strong and ≥3 moderate", lambda c: c.strong >= 1 and c.moderate >= 3),
    (
        PATHOGENIC,
        "iii-b",
        "1 strong, 2 moderate and ≥2 supporting",
        lambda c: c.strong >= 1 and c.moderate >= 2 and c.supporting >= 2,
    ),
    (
        PATHOGENIC,
        "iii-c",
        "1 strong, 1 moderate and ≥4 supporting",
        lambda c: c.strong >= 1 and c.moderate >= 1 and c.supporting >= 4,
    ),
    (
        LIKELY_PATHOGENIC,
        "i",
        "1 very strong and 1 moderate",
        lambda c: c.very_strong >= 1 and c.moderate >= 1,
    ),
    (
        LIKELY_PATHOGENIC,
        "ii",
        "1 strong and 1–2 moderate",
        lambda c: c.strong >= 1 and 1 <= c.moderate <= 2,
    ),
    (
        LIKELY_PATHOGENIC,
        "iii",
        "1 strong and ≥2 supporting",
        lambda c: c.strong >= 1 and c.supporting >= 2,
    ),
    (LIKELY_PATHOGENIC, "iv", "≥3 moderate", lambda c: c.moderate >= 3),
    (
        LIKELY_PATHOGENIC,
        "v",
        "2 moderate and ≥2 supporting",
        lambda c: c.moderate >= 2 and c.supporting >= 2,
    ),
    (
        LIKELY_PATHOGENIC,
        "vi",
        "1 moderate and ≥4 supporting",
        lambda c: c.moderate >= 1 and c.supporting >= 4,
    ),
    (BENIGN, "i", "1 stand-alone (BA1)", lambda c: c.stand_alone >= 1),
    (BENIGN, "ii", "≥2 strong", lambda c: c.benign_strong >= 2),
    (
        LIKELY_BENIGN,
        "i",
        "1 strong and 1 supporting",
        lambda c: c.benign_strong >= 1 and c.benign_supporting >= 1,
    ),
    (LIKELY_BENIGN, "ii", "≥2 supporting", lambda c: c.benign_supporting >= 2),
)


@dataclass(frozen=True)
class _Rule:
    classification: str
    rule_id: str
    wording: str
    codes: tuple[str, ...]

    def __str__(self) -> str:
        return (
            f"{self.wording} (Table 5 {self.classification} rule {self.rule_id}): "
            f"{', '.join(self.codes)}"
        )


def _first_rule(evidence: tuple[Evidence, ...], classes: tuple[str, str]) -> _Rule | None:
    counts = _count(evidence)
    direction = "pathogenic" if classes[0] == PATHOGENIC else "benign"
    codes = tuple(e.label for e in evidence if e.direction == direction)
    for classification, rule_id, wording, test in _RULES:
        if classification in classes and test(counts):
            return _Rule(classification, rule_id, wording, codes)
    return None


# -- points -------------------------------------------------------------------------------


def points(evidence: Iterable[Evidence | str]) -> int:
    """Sum of points of the evidence at applied strengths (Tavtigian et al. 2020)."""
    return sum(e.points for e in parse_evidence(evidence))


def points_class(total: int) -> str:
    """The class of a points total: ≥10 P, 6–9 LP, 0–5 VUS, −1…−6 LB, ≤−7 B."""
    if isinstance(total, bool) or not isinstance(total, int):
        raise InputError(f"expected an integer points total, got {total!r}")
    if total >= 10:
        return PATHOGENIC
    if total >= 6:
        return LIKELY_PATHOGENIC
    if total >= 0:
        return UNCERTAIN
    if total >= -6:
        return LIKELY_BENIGN
    return BENIGN


def classify_points(evidence: Iterable[Evidence | str]) -> str:
    """The class the Bayesian points scheme gives the evidence."""
    return points_class(points(evidence))


# -- the classification -------------------------------------------------------------------


@dataclass(frozen=True)
class Classification:
    """The outcome of :func:`classify`.

    Attributes
    ----------
    classification
        Table 5 class, one of :data:`CLASSES`.
    rule
        Why: the Table 5 rule that fired (``"1 very strong and ≥1 strong (Table 5 Pathogenic
        rule i-a): PVS1, PS2"``), or why none did (no rule met; contradictory evidence).
    pathogenic_rule, benign_rule
        The first rule met on each side (``None`` when that side meets none).
    contradictory
        Both sides met a rule, so Table 5 gives Uncertain significance.
    points
        Tavtigian points total.
    points_class
        The class by points.
    disagreement
        ``None`` when both views agree, else a sentence explaining each view.
    evidence
        The evidence classified, as given.
    """

    classification: str
    rule: str
    pathogenic_rule: str | None
    benign_rule: str | None
    contradictory: bool
    points: int
    points_class: str
    disagreement: str | None
    evidence: tuple[Evidence, ...]

    @property
    def acmg_enum(self) -> str:
        """The Table 5 class as a Phenopackets ``AcmgPathogenicityClassification`` name."""
        return ACMG_ENUM[self.classification]

    @property
    def points_acmg_enum(self) -> str:
        """The points class as a Phenopackets ``AcmgPathogenicityClassification`` name."""
        return ACMG_ENUM[self.points_class]


def _summary(evidence: tuple[Evidence, ...]) -> str:
    c = _count(evidence)
    parts = [
        (c.stand_alone, "stand-alone"),
        (c.very_strong, "very strong"),
        (c.strong, "strong"),
        (c.moderate, "moderate"),
        (c.supporting, "supporting"),
        (c.benign_strong, "benign strong"),
        (c.benign_supporting, "benign supporting"),
    ]
    text = ", ".join(f"{n} {name}" for n, name in parts if n)
    return text or "no criteria"


def _breakdown(evidence: tuple[Evidence, ...], total: int) -> str:
    if not evidence:
        return "0 points"
    terms = []
    for i, e in enumerate(evidence):
        p = e.points
        if i == 0:
            terms.append(f"{e.label} {p}")
        else:
            terms.append(f"{'+' if p >= 0 else '−'} {e.label} {abs(p)}")
    return f"{' '.join(terms)} = {total} points"


def classify(evidence: Iterable[Evidence | str]) -> Classification:
    """Classify a variant from its evidence by Table 5, with the points view beside it.

    Parameters
    ----------
    evidence
        :class:`Evidence` objects or ClinGen-style labels (``"PM2_Supporting"``); each code
        at most once.

    Returns
    -------
    Classification

    Examples
    --------
    >>> c = classify(["PVS1", "PP3"])
    >>> c.classification, c.points_class
    ('Uncertain significance', 'Likely pathogenic')
    >>> classify(["PS2", "PM1", "PM2", "PM4"]).classification
    'Pathogenic'

    References
    ----------
    Richards et al. 2015, Table 5; Tavtigian et al. 2020.
    """
    evidence = parse_evidence(evidence)
    p_rule = _first_rule(evidence, (PATHOGENIC, LIKELY_PATHOGENIC))
    b_rule = _first_rule(evidence, (BENIGN, LIKELY_BENIGN))
    contradictory = p_rule is not None and b_rule is not None
    chosen = p_rule or b_rule
    if contradictory:
        cls = UNCERTAIN
        rule = (
            "contradictory evidence, so Uncertain significance: pathogenic side meets "
            f"{p_rule}; benign side meets {b_rule}"
        )
    elif chosen is not None:
        cls, rule = chosen.classification, str(chosen)
    else:
        cls = UNCERTAIN
        rule = (
            f"no Table 5 rule is met by {_summary(evidence)}"
            if evidence
            else "no criteria given, so Uncertain significance"
        )
    total = sum(e.points for e in evidence)
    p_cls = points_class(total)
    disagreement = None
    if p_cls != cls:
        if contradictory:
            table = (
                "Table 5 does not weigh conflicting evidence: both sides meet a rule, so it "
                "gives Uncertain significance"
            )
        elif chosen is None:
            table = (
                f"Table 5 gives Uncertain significance because no combining rule covers "
                f"{_summary(evidence)}"
            )
        else:
            table = f"Table 5 gives {cls} by {chosen.wording} (rule {chosen.rule_id})"
        disagreement = (
            f"{table}; the points scheme adds every criterion, {_breakdown(evidence, total)}, "
            f"which is {p_cls} (≥10 P, 6–9 LP, 0–5 VUS, −1…−6 LB, ≤−7 B)."
        )
    return Classification(
        classification=cls,
        rule=rule,
        pathogenic_rule=None if p_rule is None else str(p_rule),
        benign_rule=None if b_rule is None else str(b_rule),
        contradictory=contradictory,
        points=total,
        points_class=p_cls,
        disagreement=disagreement,
        evidence=evidence,
    )
