"""Candidate filtering for a rare-disease family: panel genes, frequency, consequence, inheritance.

:func:`filter_variants` takes plain values — genotype calls as a session returns them, the
family table, the reference gene models and the knowledge tables — and returns one row per
variant the proband carries in a panel gene, **kept or dropped, each with its reason**. No
cohort or session is needed, so every rule can be tested on hand-made genotypes;
:func:`workbench.interpret.case.interpret_case` wires it to a treatment session.

The steps, in order (the first that fails gives the reason a variant is dropped)
-------------------------------------------------------------------------------------
1. **Panel**: the variant lies in a gene of ``knowledge/gene_disease.tsv`` on the chosen
   panels (default: every gene; ``panels="auto"`` takes the panels whose HPO roots the
   patient's terms fall under, :func:`~workbench.interpret.panels.panels_for_terms`).
2. **Population frequency** (``knowledge/population_frequencies.tsv.gz``): both the pooled
   allele frequency and the highest frequency among populations with at least ``min_an``
   alleles must not exceed the threshold of the gene's mode — ``dominant_max_af`` (default
   1e-3, 0.1 %) for dominant and X-linked genes, ``recessive_max_af`` (default 1e-2, 1 %)
   for recessive ones. These are the usual Mendelian-filtering cut-offs (e.g. the Exomiser
   and gnomAD-browser defaults of 0.1 % and 1 %), looser than ACMG PM2, so that filtering
   never removes what classification should weigh. A variant absent from the database passes.
3. **Consequence** on the gene's canonical transcript (:func:`workbench.genome.annotate`):
   HIGH and MODERATE impact and ``splice_region_variant`` by default
   (:data:`DEFAULT_CONSEQUENCES`). Frequency comes first because it needs only a lookup:
   most of an exome's variants are common, and only the rare ones are annotated (a row
   dropped for frequency has no consequence, transcript or HGVS).
4. **Inheritance** on trios and larger families (parents, and siblings when present):

   ====================================  ================================================
   ``de_novo``                           absent in both parents (dominant or X-linked gene)
   ``homozygous``                        both copies, one from each carrier parent (recessive)
   ``compound_heterozygous``             two variants in one recessive gene, one paternal
                                         and one maternal: in trans
   ``x_linked_hemizygous``               a boy's only X allele, from his carrier mother (or new)
   ``inherited_from_affected_parent``    dominant, shared with an affected parent
   ``incomplete_penetrance``             dominant, from an **unaffected** parent: kept,
                                         flagged and given a lower inheritance fit
   ====================================  ================================================

   Without parents the analysis falls back to a singleton (origin unknown; two
   heterozygous variants in a recessive gene are a *possible* compound heterozygote, phase
   unknown) and the result says so. Parentage is checked first
   (:func:`~workbench.interpret.checks.parentage_check`): a parent with many Mendelian
   errors is set aside with a message and the analysis falls
   back to what remains. The sex of each person is checked against their X genotypes
   (:func:`~workbench.interpret.checks.sex_check`).

Each kept variant has an ``inheritance_fit``: ``"full"`` (the pattern the gene's mode
predicts), ``"partial"`` (possible, but phase or origin unknown) or ``"weak"`` (incomplete
penetrance, a carrier girl, a genotype shared with an unaffected sibling).

References
----------
Richards S et al. (2015) Genet Med 17:405–424. Karczewski KJ et al. (2020) gnomAD. Nature
581:434–443. Smedley D et al. (2015) Next-generation diagnostics and disease-gene discovery
with the Exomiser. Nat Protoc 10:2004–2015 (frequency and inheritance filters).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import InputError, require_columns
from ..genome.annotate import IMPACT, annotate
from .checks import (
    _alt_counts,
    _count,
    _gt,
    _is_x,
    _parse_genotypes,
    parentage_check,
    sex_check,
)
from .criteria import insilico_score
from .inheritance import assess_inheritance
from .panels import GeneSpans, frequency_summary, panel_genes

__all__ = [
    "CANDIDATE_COLUMNS",
    "DEFAULT_CONSEQUENCES",
    "DEFAULT_FILTERS",
    "FilterResult",
    "FilterSettings",
    "filter_variants",
    "reason_summary",
]

#: Consequence classes kept by default: every HIGH and MODERATE term, plus splice region.
DEFAULT_CONSEQUENCES = frozenset(
    {t for t, impact in IMPACT.items() if impact in ("HIGH", "MODERATE")}
    | {"splice_region_variant"}
)

#: Columns of :attr:`FilterResult.table`, in order.
CANDIDATE_COLUMNS = (
    "variant_id",
    "contig",
    "position",
    "ref",
    "alt",
    "gene",
    "mode",
    "disease_id",
    "disease_name",
    "transcript",
    "consequence",
    "consequences",
    "impact",
    "hgvs_c",
    "hgvs_p",
    "insilico",
    "af",
    "popmax_af",
    "popmax_population",
    "proband_gt",
    "father_gt",
    "mother_gt",
    "proband_count",
    "father_count",
    "mother_count",
    "origin",
    "inheritance",
    "inheritance_fit",
    "partners",
    "segregation",
    "kept",
    "reason",
)


@dataclass(frozen=True)
class FilterSettings:
    """Thresholds of :func:`filter_variants` (see the module docstring for their sources).

    Attributes
    ----------
    dominant_max_af, recessive_max_af
        Highest allele frequency kept for dominant/X-linked and for recessive genes.
    min_an
        Populations with fewer alleles than this are not used for the highest-population
        frequency (the pooled frequency is always used). :func:`panel_min_an` sizes it to a
        small reference panel.
    consequences
        Sequence Ontology terms kept (the canonical transcript's most severe term).
    max_mendel_error_rate
        A parent whose share of opposing homozygous sites with the proband exceeds this fails
        the parentage check.
    min_informative_sites
        Fewer informative sites than this and parentage is reported as not checked (and
        de novo calls are then "assumed", ACMG PM6, not "confirmed", PS2).
    """

    dominant_max_af: float = 1e-3
    recessive_max_af: float = 1e-2
    min_an: int = 2000
    consequences: frozenset[str] = DEFAULT_CONSEQUENCES
    max_mendel_error_rate: float = 0.02
    min_informative_sites: int = 20

    def __post_init__(self):
        for name in ("dominant_max_af", "recessive_max_af", "max_mendel_error_rate"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
                raise InputError(f"expected {name} as a number between 0 and 1, got {v!r}")
        for name in ("min_an", "min_informative_sites"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise InputError(f"expected {name} as a non-negative integer, got {v!r}")
        terms = frozenset(self.consequences)
        unknown = sorted(terms - set(IMPACT))
        if unknown or not terms:
            raise InputError(
                f"expected consequences as Sequence Ontology terms the annotator emits "
                f"({', '.join(IMPACT)}), got unknown {unknown or 'an empty set'}"
            )
        object.__setattr__(self, "consequences", terms)


#: The settings :func:`filter_variants` uses unless told otherwise.
DEFAULT_FILTERS = FilterSettings()


@dataclass
class FilterResult:
    """What :func:`filter_variants` found.

    Attributes
    ----------
    table
        One row per (variant, panel gene) the proband carries, :data:`CANDIDATE_COLUMNS`;
        ``kept`` and ``reason`` say what happened to it and why.
    analysis
        ``"trio"``, ``"family"`` (trio plus siblings), ``"duo"`` (one parent) or
        ``"singleton"``.
    messages
        Sentences for the user: fall-backs, failed checks, sex inconsistencies.
    parentage
        Per parent role: ``{"person", "errors", "informative", "rate", "ok"}``.
    sex
        Per person: ``{"recorded", "x_genotypes", "consistent"}``.
    settings
        The :class:`FilterSettings` used.
    """

    table: pd.DataFrame
    analysis: str
    messages: list[str] = field(default_factory=list)
    parentage: dict = field(default_factory=dict)
    sex: dict = field(default_factory=dict)
    settings: FilterSettings = DEFAULT_FILTERS

    @property
    def candidates(self) -> pd.DataFrame:
        """The kept rows."""
        return self.table[self.table.kept].reset_index(drop=True)

    @property
    def parentage_confirmed(self) -> bool:
        """Both parents present and their parentage checked and confirmed."""
        return set(self.parentage) == {"father", "mother"} and all(
            p["ok"] is True for p in self.parentage.values()
        )


def reason_summary(table: pd.DataFrame) -> pd.DataFrame:
    """How many rows each step kept or dropped: ``step, kept, rows`` (a funnel for display)."""
    if table.empty:
        return pd.DataFrame(columns=["step", "kept", "rows"])

    def step(r) -> str:
        if r.kept:
            return f"kept: {r.inheritance}"
        reason = str(r.reason)
        for prefix, name in (
            ("outside every panel gene", "outside the panel genes"),
            ("consequence", "consequence class"),
            ("allele frequency", "population frequency"),
            ("could not be annotated", "not annotatable"),
            ("not on a transcript", "not on the transcript"),
        ):
            if reason.startswith(prefix):
                return f"dropped: {name}"
        return "dropped: inheritance"

    steps = [step(r) for r in table.itertuples(index=False)]
    out = (
        pd.DataFrame({"step": steps, "kept": table["kept"].to_numpy()})
        .groupby(["step", "kept"], sort=False)
        .size()
        .reset_index(name="rows")
    )
    return out.sort_values(["kept", "rows"], ascending=[True, False]).reset_index(drop=True)


# -- the filter -----------------------------------------------------------------------------


def _parse_family(family: pd.DataFrame, proband: str, samples: list[str]) -> dict:
    require_columns(family, "family", ("person_id", "father_id", "mother_id", "sex", "affected"))
    fam = family.copy()
    fam["person_id"] = fam["person_id"].astype(str)
    if proband not in set(fam.person_id):
        raise InputError(
            f"proband {proband!r} is not in the family table ({', '.join(fam.person_id)}); "
            "pass the proband's id as the session shows it"
        )
    if proband not in samples:
        raise InputError(
            f"proband {proband!r} has no genotypes in this read (samples: {', '.join(samples)})"
        )
    by_id = {r.person_id: r for r in fam.itertuples(index=False)}
    me = by_id[proband]

    def parent(pid):
        if pid is None or (isinstance(pid, float) and math.isnan(pid)) or str(pid) in ("", "0"):
            return None, False
        pid = str(pid)
        return (pid, pid in by_id and pid in samples)

    father, father_here = parent(me.father_id)
    mother, mother_here = parent(me.mother_id)
    sibs = [
        r.person_id
        for r in fam.itertuples(index=False)
        if r.person_id != proband
        and r.person_id in samples
        and (
            (father is not None and str(r.father_id) == father)
            or (mother is not None and str(r.mother_id) == mother)
        )
    ]
    return {
        "by_id": by_id,
        "proband": proband,
        "father": father if father_here else None,
        "mother": mother if mother_here else None,
        "father_recorded": father,
        "mother_recorded": mother,
        "siblings": sibs,
    }


def filter_variants(
    genotypes,
    *,
    proband: str,
    family: pd.DataFrame,
    reference,
    gene_disease: pd.DataFrame,
    frequencies: pd.DataFrame,
    panels=None,
    settings: FilterSettings | None = None,
    check_genotypes=None,
) -> FilterResult:
    """Filter a proband's variants in the panel genes; every row carries its reason.

    Parameters
    ----------
    genotypes
        A dict ``{"variants", "samples", "calls"}`` as ``session.genotypes()`` returns it (or a
        list of them): calls are phased, column 0 paternal and 1 maternal, ``-2`` for a
        man's missing second X.
    proband
        The proband's id among ``samples``.
    family
        The family as ``session.samples()`` returns it: ``person_id, father_id, mother_id,
        sex, affected``.
    reference
        A :class:`workbench.genome.Reference` (gene models for annotation).
    gene_disease, frequencies
        ``knowledge/gene_disease.tsv`` and ``knowledge/population_frequencies.tsv.gz``.
    panels
        ``None`` (every gene) or panel names (see :func:`~workbench.interpret.panels.panel_genes`).
    settings
        :class:`FilterSettings`; :data:`DEFAULT_FILTERS` when ``None``.
    check_genotypes
        Genotypes (same form and samples) over which sex and parentage are checked; more
        sites than the panel genes make the checks surer. ``None``: ``genotypes`` itself.

    Returns
    -------
    FilterResult
    """
    settings = DEFAULT_FILTERS if settings is None else settings
    if not isinstance(settings, FilterSettings):
        raise InputError(f"expected settings as FilterSettings, got {type(settings).__name__}")
    if not isinstance(proband, str) or not proband:
        raise InputError(f"expected proband as a person id, got {proband!r}")
    variants, samples, calls = _parse_genotypes(genotypes)
    fam = _parse_family(family, proband, samples)
    genes = panel_genes(gene_disease, panels=panels)
    require_columns(frequencies, "frequencies", ("contig", "position", "ref", "alt"))
    messages: list[str] = []
    col = {s: i for i, s in enumerate(samples)}

    # -- checks: sex against X genotypes, parentage by Mendelian errors -------------------
    if check_genotypes is None:
        c_variants, c_calls = variants, calls
    else:
        c_variants, c_samples, c_calls = _parse_genotypes(check_genotypes)
        if c_samples != samples:
            raise InputError("check_genotypes must have the same samples as genotypes")
    contigs = c_variants["contig"].astype(str)
    is_x = contigs.isin([c for c in contigs.unique() if _is_x(c)]).to_numpy(dtype=bool)
    sex_report = {}
    for pid in [proband, fam["father"], fam["mother"], *fam["siblings"]]:
        if pid is None:
            continue
        row = fam["by_id"][pid]
        rep = sex_check(c_calls[is_x, col[pid]], str(row.sex))
        sex_report[pid] = rep
        if rep["message"]:
            messages.append(f"{pid}: {rep['message']}")
    proband_sex_ok = sex_report[proband]["consistent"] is not False

    auto = ~is_x
    counts = _alt_counts(c_calls[auto])
    parentage = {}
    for role in ("father", "mother"):
        pid = fam[role]
        if pid is None:
            continue
        rep = parentage_check(
            counts[:, col[proband]],
            counts[:, col[pid]],
            max_error_rate=settings.max_mendel_error_rate,
            min_sites=settings.min_informative_sites,
        )
        rep["person"] = pid
        parentage[role] = rep
        if rep["ok"] is False:
            messages.append(
                f"parentage check failed for the {role} {pid}: {rep['errors']} of "
                f"{rep['informative']} informative sites are opposing homozygotes "
                f"({rep['rate']:.1%}, more than {settings.max_mendel_error_rate:.0%}); the "
                f"{role} is left out of the analysis — confirm sample identity and "
                "biological relationship"
            )
            fam[role] = None
        elif rep["ok"] is None:
            messages.append(
                f"parentage of the {role} {pid} could not be checked ({rep['informative']} "
                f"informative sites, {settings.min_informative_sites} needed); de novo "
                "variants count as assumed de novo (PM6)"
            )

    parents = [r for r in ("father", "mother") if fam[r] is not None]
    if len(parents) == 2:
        analysis = "family" if fam["siblings"] else "trio"
    elif len(parents) == 1:
        analysis = "duo"
        missing = "father" if fam["father"] is None else "mother"
        messages.append(
            f"the {missing} is not available (not in the cohort, not in this view, or failed "
            "the parentage check): duo analysis — origin is known only for variants the "
            f"{parents[0]} carries"
        )
    else:
        analysis = "singleton"
        messages.append(
            "no parent is available (not in the cohort, not in this view, or failed the "
            "parentage check): singleton analysis — de novo, parental origin and phase "
            "cannot be determined, so inheritance fits are 'partial' at best"
        )
    if not proband_sex_ok:
        messages.append(
            f"the proband's recorded sex ({sex_report[proband]['recorded']}) contradicts the "
            "X genotypes: X-linked variants are analysed from the genotypes as observed and "
            "marked 'partial'"
        )

    # -- one row per (variant, allele, panel gene) the proband carries ----------------------
    gene_models = []
    for g in genes.itertuples(index=False):
        try:
            gene_models.append((g, reference.gene(g.gene)))
        except InputError:
            messages.append(f"panel gene {g.gene} has no gene model in the reference; skipped")
    rows = []
    pcol = col[proband]
    male = str(fam["by_id"][proband].sex) == "male"
    # only the sites where the proband's call is complete and carries an alternate allele
    pcalls = calls[:, pcol]
    carried = ~(pcalls == -1).any(axis=1) & (pcalls > 0).any(axis=1)
    sites = np.flatnonzero(carried)
    freqs = frequency_summary(
        frequencies, min_an=settings.min_an, positions=variants["position"].to_numpy()[sites]
    )
    family_scan = _FamilyScan(calls, col, fam, GeneSpans(gene_models), reference, settings, freqs)
    for i, v in zip(sites, variants.iloc[sites].itertuples(index=False), strict=True):
        alts = [a for a in str(v.alt).split(",") if a]
        for k, alt in enumerate(alts, start=1):
            if (pcalls[i] == k).any():
                rows.extend(_variant_rows(v, alt, k, int(i), family_scan))
    table = pd.DataFrame(rows, columns=list(CANDIDATE_COLUMNS))
    table = assess_inheritance(table, fam, analysis, proband_sex_ok, male, calls, col, variants)
    table = _sort(table)
    return FilterResult(
        table=table,
        analysis=analysis,
        messages=messages,
        parentage=parentage,
        sex=sex_report,
        settings=settings,
    )


@dataclass(frozen=True)
class _FamilyScan:
    """What every variant row of one family's filtering reads, fixed for the whole scan."""

    calls: np.ndarray
    col: dict
    fam: dict
    gene_spans: GeneSpans
    reference: object
    settings: FilterSettings
    frequencies: dict  # frequency_summary over the carried sites


def _variant_rows(v, alt, allele, i, scan: _FamilyScan):
    calls, col, fam, settings = scan.calls, scan.col, scan.fam, scan.settings
    gene_spans, reference = scan.gene_spans, scan.reference
    contig, pos, ref = str(v.contig), int(v.position), str(v.ref)
    vid = f"{contig}:{pos}:{ref}>{alt}"

    def who(role):
        pid = fam[role]
        if pid is None:
            return None, None
        c = calls[i, col[pid]]
        return _count(c, allele), _gt(c)

    pcall = calls[i, col[fam["proband"]]]
    f_count, f_gt = who("father")
    m_count, m_gt = who("mother")
    base = {
        "variant_id": vid,
        "contig": contig,
        "position": pos,
        "ref": ref,
        "alt": alt,
        "proband_gt": _gt(pcall),
        "father_gt": f_gt,
        "mother_gt": m_gt,
        "proband_count": _count(pcall, allele),
        "father_count": f_count,
        "mother_count": m_count,
        "partners": "",
        "segregation": "",
        "origin": None,
        "inheritance": None,
        "inheritance_fit": None,
    }
    hits = gene_spans.overlapping(contig, pos, pos + len(ref) - 1)
    if not hits:
        return [
            {
                **base,
                "kept": False,
                "reason": "outside every panel gene",
                "consequence": None,
                "consequences": "",
                "impact": None,
            }
        ]
    af, popmax_af, popmax_pop = scan.frequencies.get((contig, pos, ref, alt), (0.0, None, None))
    worst = max(af, popmax_af or 0.0)
    out, rare = [], []
    for g, model in hits:
        row = {
            **base,
            "gene": g.gene,
            "mode": g.mode,
            "disease_id": g.disease_id,
            "disease_name": g.disease_name,
            "af": af,
            "popmax_af": popmax_af,
            "popmax_population": popmax_pop,
        }
        limit = settings.recessive_max_af if g.mode == "AR" else settings.dominant_max_af
        if worst > limit:
            kind = "recessive" if g.mode == "AR" else "dominant/X-linked"
            where = "pooled" if worst == af else f"in {popmax_pop}"
            out.append(
                {
                    **row,
                    "kept": False,
                    "reason": f"allele frequency {worst:.3g} ({where}) is above the {kind} "
                    f"limit {limit:g}",
                    "consequence": None,
                    "consequences": "",
                    "impact": None,
                }
            )
        else:
            rare.append((len(out), g, model, row))
            out.append(None)
    if not rare:
        return out
    try:
        annotations = annotate(reference, contig, pos, ref, alt)
    except InputError as e:
        for k, _, _, row in rare:
            out[k] = {**row, "kept": False, "reason": f"could not be annotated: {e}"}
        return out
    for k, g, model, row in rare:
        mine = [a for a in annotations if a.gene == g.gene]
        canonical = model.transcript.transcript_id
        ann = next((a for a in mine if a.transcript == canonical), mine[0] if mine else None)
        if ann is None:
            out[k] = {**row, "kept": False, "reason": f"not on a transcript of {g.gene}"}
            continue
        row.update(
            transcript=ann.transcript,
            consequence=ann.consequence,
            consequences="&".join(ann.consequences),
            impact=ann.impact,
            hgvs_c=ann.hgvs_c,
            hgvs_p=ann.hgvs_p,
            insilico=insilico_score(ann),
        )
        if set(ann.consequences) & settings.consequences:
            row.update(kept=True, reason="")  # decided by inheritance below
        else:
            row.update(
                kept=False,
                reason=f"consequence {ann.consequence} ({ann.impact} impact) is not among the "
                "analysed classes",
            )
        out[k] = row
    return out


def _sort(table: pd.DataFrame) -> pd.DataFrame:
    """Kept rows first, then genome order (contig, position, alt) and gene; stable."""
    if table.empty:
        return table.reset_index(drop=True)
    contigs = sorted(set(table["contig"].astype(str)), key=_contig_key)
    keys = pd.DataFrame(
        {
            "dropped": ~table["kept"].map(bool).to_numpy(dtype=bool),
            "contig": table["contig"].astype(str).map({c: i for i, c in enumerate(contigs)}),
            "position": table["position"].astype(np.int64).to_numpy(),
            "alt": table["alt"].astype(str).to_numpy(),
            "gene": table["gene"].astype(str).to_numpy(),
        }
    ).reset_index(drop=True)
    order = keys.sort_values(list(keys.columns), kind="stable").index.to_numpy()
    out = table.iloc[order].reset_index(drop=True)
    out["kept"] = out["kept"].astype(bool)
    return out


def _contig_key(contig: str) -> tuple:
    name = str(contig).removeprefix("chr")
    if name.isdigit():
        return (0, int(name), "")
    return (1, {"X": 0, "Y": 1}.get(name.upper(), 2), name)
