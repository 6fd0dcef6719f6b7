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
from .case import CaseInterpretation, assertion_text, choose_case, interpret_case, rerank
from .checks import parentage_check, sex_check
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
from .filter import (
    CANDIDATE_COLUMNS,
    DEFAULT_CONSEQUENCES,
    DEFAULT_FILTERS,
    FilterResult,
    FilterSettings,
    filter_variants,
)
from .panels import panel_genes, panel_min_an, panels_for_terms
from .rank import (
    FIT_WEIGHTS,
    RANKING_COLUMNS,
    check_terms,
    classify_candidates,
    matched_terms,
    phenotype_scores,
    primary_genes,
    rank_candidates,
)
from .report import pdf_renderer, report_html, to_phenopacket, write_report
from .secondary import SecondaryFindings, findings_sentence, patients_by_choice, secondary_findings

__all__ = [
    "ACMG_ENUM",
    "CANDIDATE_COLUMNS",
    "CLASSES",
    "COMPUTED_CRITERIA",
    "CRITERIA",
    "DEFAULT_CONSEQUENCES",
    "DEFAULT_FILTERS",
    "DEFAULT_THRESHOLDS",
    "FIT_WEIGHTS",
    "NULL_CONSEQUENCES",
    "POINTS",
    "RANKING_COLUMNS",
    "STRENGTHS",
    "USER_CRITERIA",
    "CaseInterpretation",
    "Classification",
    "Criterion",
    "Evidence",
    "FilterResult",
    "FilterSettings",
    "SecondaryFindings",
    "Thresholds",
    "VariantFacts",
    "allowed_strengths",
    "assertion_text",
    "check_terms",
    "choose_case",
    "classify",
    "classify_candidates",
    "classify_points",
    "compute_criteria",
    "facts_from_annotation",
    "filter_variants",
    "findings_sentence",
    "frequencies_from_row",
    "insilico_score",
    "interpret_case",
    "matched_terms",
    "max_credible_af",
    "panel_genes",
    "panel_min_an",
    "panels_for_terms",
    "parentage_check",
    "parse_evidence",
    "patients_by_choice",
    "pdf_renderer",
    "phenotype_scores",
    "points",
    "points_class",
    "popmax",
    "primary_genes",
    "rank_candidates",
    "report_html",
    "rerank",
    "secondary_findings",
    "sex_check",
    "to_phenopacket",
    "trio_origin",
    "write_report",
]
