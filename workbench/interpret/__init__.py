"""Rare-disease interpretation: ACMG/AMP criteria and classification.

:mod:`~workbench.interpret.acmg` holds the criteria as data and the two ways of combining
them (Richards 2015 Table 5, and the Tavtigian points scheme); :mod:`~workbench.interpret.criteria`
computes the criteria a cohort folder's data can decide, as plain functions.

>>> from workbench.interpret import classify, Evidence
>>> c = classify([Evidence("PVS1"), Evidence("PM2", "supporting")])
>>> c.classification, c.points, c.points_class
('Uncertain significance', 9, 'Likely pathogenic')
"""

from .acmg import (
    ACMG_ENUM,
    CLASSES,
    CRITERIA,
    POINTS,
    STRENGTHS,
    Classification,
    Criterion,
    Evidence,
    allowed_strengths,
    classify,
    classify_points,
    parse_evidence,
    points,
    points_class,
)
from .criteria import (
    COMPUTED_CRITERIA,
    DEFAULT_THRESHOLDS,
    NULL_CONSEQUENCES,
    USER_CRITERIA,
    Thresholds,
    VariantFacts,
    compute_criteria,
    facts_from_annotation,
    frequencies_from_row,
    insilico_score,
    max_credible_af,
    popmax,
    trio_origin,
)

__all__ = [
    "ACMG_ENUM",
    "CLASSES",
    "COMPUTED_CRITERIA",
    "CRITERIA",
    "DEFAULT_THRESHOLDS",
    "NULL_CONSEQUENCES",
    "POINTS",
    "STRENGTHS",
    "USER_CRITERIA",
    "Classification",
    "Criterion",
    "Evidence",
    "Thresholds",
    "VariantFacts",
    "allowed_strengths",
    "classify",
    "classify_points",
    "compute_criteria",
    "facts_from_annotation",
    "frequencies_from_row",
    "insilico_score",
    "max_credible_af",
    "parse_evidence",
    "points",
    "points_class",
    "popmax",
    "trio_origin",
]
