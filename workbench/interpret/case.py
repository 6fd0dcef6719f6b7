"""One proband's case, read through a treatment session and interpreted end to end.

:func:`interpret_case` reads what a clinician's :class:`~workbench.access.session.Session`
shows — the family in view, the phenopacket (or the registry's phenotype), genotypes over the
panel genes, every read audited — and runs :mod:`~workbench.interpret.filter`,
:func:`~workbench.interpret.rank.classify_candidates` and
:func:`~workbench.interpret.rank.rank_candidates` on it. :func:`rerank` asks what the same
candidates would look like under other HPO terms (a referral with fewer or vaguer terms)
without reading or filtering again. :func:`choose_case` picks a demonstration case from the
clinicians' worklists.

Split from :mod:`workbench.interpret.rank`, which keeps the plain functions on tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import hpo
from ..errors import InputError
from .acmg import LIKELY_PATHOGENIC, PATHOGENIC, Classification
from .checks import genotypes_in_genes
from .criteria import Thresholds
from .filter import FilterResult, FilterSettings, filter_variants
from .funnel import funnel
from .panels import panel_genes, panel_min_an, panels_for_terms
from .rank import (
    CLOSE_MATCH,
    check_terms,
    classify_candidates,
    phenotype_scores,
    primary_genes,
    rank_candidates,
)

__all__ = [
    "CaseInterpretation",
    "assertion_text",
    "care_team",
    "choose_case",
    "interpret_case",
    "phenopacket_features",
    "reported_as_solved",
    "rerank",
]


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
        """The top candidate is reported as the diagnosis (:func:`reported_as_solved`)."""
        return reported_as_solved(self.ranking)


def reported_as_solved(ranking: pd.DataFrame) -> bool:
    """Whether a ranking's first candidate is reported as the patient's diagnosis.

    It must be Pathogenic or Likely pathogenic (Table 5), and explain the patient. Only a
    full inheritance fit (de novo in a trio, biallelic with each parent a carrier, an X from a
    carrier mother) speaks for itself. A variant whose fit is partial (a parent missing, so
    its origin or phase is unknown) counts only when its disease is also the best phenotype
    match of every candidate, and a match at all; one whose fit is weak (inherited from an
    unaffected parent, a carrier girl's X) must moreover be a close match among all the
    panel's diseases (:data:`~workbench.interpret.rank.CLOSE_MATCH` of the best): incomplete
    penetrance is claimed only for a disease the child clearly has, as a clinician confirms
    segregation or the phenotype before reporting. Measured on teaching cohorts: with the
    whole family, a SLITRK1 frameshift from a healthy mother (seed 33; phenotype score 0.12
    against another candidate's 0.15) and a PPP2CA nonsense variant from a healthy father
    (seed 1205; the best of the candidates, but 0.56 of the best disease of the panel, whose
    gene carried nothing); without the parents (duo, singleton) three partial fits.
    """
    if ranking.empty:
        return False
    top = ranking.iloc[0]
    if top.classification not in (PATHOGENIC, LIKELY_PATHOGENIC):
        return False
    if top.inheritance_fit == "full":
        return True
    best = top.phenotype_score > 0 and top.phenotype_score >= ranking.phenotype_score.max()
    if top.inheritance_fit == "weak":
        best = best and top.phenotype_relative >= CLOSE_MATCH
    return bool(best)


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
    sf_primary_relative: float = CLOSE_MATCH,
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
    primary = primary_genes(
        phenotype, knowledge.acmg_sf.gene, top=sf_primary_top, relative=sf_primary_relative
    )
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
        family_id=None if pd.isna(me.family_id) else str(me.family_id),
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


def rerank(
    result: CaseInterpretation,
    terms: Iterable[str],
    *,
    acmg_sf_genes: Iterable[str],
    method: str = "graphic",
    combine: str = "funSimAvg",
    sf_primary_top: int = 3,
    sf_primary_relative: float = CLOSE_MATCH,
) -> pd.DataFrame:
    """The ranking ``result``'s candidates get under other observed HPO ``terms``.

    Nothing is read or filtered again: candidates, classes and inheritance stay as they
    are; the phenotype similarities, the ACMG SF genes admitted to the primary analysis
    (:func:`~workbench.interpret.rank.primary_genes`) and the ranking are recomputed. An SF
    gene the new terms would admit but ``result`` did not analyse cannot appear: interpret
    with ``sf_primary_top`` at the panel size and ``sf_primary_relative=0`` first to keep
    every SF gene among the candidates. ``terms=[]`` ranks on variant evidence alone.

    Raises
    ------
    InputError
        An unknown, obsolete or non-phenotype term (drop them with ``check_terms`` first).
    """
    terms = list(terms)
    diseases = result.phenotype[["gene", "disease_id", "disease_name"]]
    phenotype = phenotype_scores(terms, diseases, method=method, combine=combine)
    keep = primary_genes(phenotype, acmg_sf_genes, top=sf_primary_top, relative=sf_primary_relative)
    candidates = result.candidates[result.candidates.gene.isin(keep)]
    return rank_candidates(candidates, phenotype, terms=terms)


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
        # positions first: comparing a whole contig's strings per candidate costs seconds
        for i in np.flatnonzero(v.position.to_numpy() == r.position):
            if str(v.contig.iat[i]) != r.contig or str(v.ref.iat[i]) != r.ref:
                continue
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
