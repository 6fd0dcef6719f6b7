"""Candidate filtering for a rare-disease family: panel genes, frequency, consequence, inheritance.

:func:`filter_variants` takes plain values — genotype calls as a session returns them, the
family table, the reference gene models and the knowledge tables — and returns one row per
variant the proband carries in a panel gene, **kept or dropped, each with its reason**. No
cohort or session is needed, so every rule can be tested on hand-made genotypes;
:func:`workbench.interpret.rank.interpret_case` wires it to a treatment session.

The steps, in order (the first that fails gives the reason a variant is dropped)
-------------------------------------------------------------------------------------
1. **Panel**: the variant lies in a gene of ``knowledge/gene_disease.tsv`` on the chosen
   panels (default: every gene; ``panels="auto"`` takes the panels whose HPO roots the
   patient's terms fall under, :func:`panels_for_terms`).
2. **Consequence** on the gene's canonical transcript (:func:`workbench.genome.annotate`):
   HIGH and MODERATE impact and ``splice_region_variant`` by default
   (:data:`DEFAULT_CONSEQUENCES`).
3. **Population frequency** (``knowledge/population_frequencies.tsv.gz``): both the pooled
   allele frequency and the highest frequency among populations with at least ``min_an``
   alleles must not exceed the threshold of the gene's mode — ``dominant_max_af`` (default
   1e-3, 0.1 %) for dominant and X-linked genes, ``recessive_max_af`` (default 1e-2, 1 %)
   for recessive ones. These are the usual Mendelian-filtering cut-offs (e.g. the Exomiser
   and gnomAD-browser defaults of 0.1 % and 1 %), looser than ACMG PM2, so that filtering
   never removes what classification should weigh. A variant absent from the database passes.
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
   unknown) and the result says so. Parentage is checked first (:func:`parentage_check`): a
   parent with many Mendelian errors is set aside with a message and the analysis falls
   back to what remains. The sex of each person is checked against their X genotypes
   (:func:`sex_check`).

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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import hpo
from ..errors import InputError
from ..genome.annotate import IMPACT, annotate
from .criteria import insilico_score

__all__ = [
    "CANDIDATE_COLUMNS",
    "DEFAULT_CONSEQUENCES",
    "DEFAULT_FILTERS",
    "FilterResult",
    "FilterSettings",
    "filter_variants",
    "frequency_index",
    "genotypes_in_genes",
    "panel_genes",
    "panel_min_an",
    "panels_for_terms",
    "parentage_check",
    "reason_summary",
    "sex_check",
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

_MODES = ("AD", "AR", "XL")


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


# -- knowledge helpers ------------------------------------------------------------------------


def panel_genes(gene_disease: pd.DataFrame, *, panels=None) -> pd.DataFrame:
    """Rows of the gene–disease table on the chosen panels.

    Parameters
    ----------
    gene_disease
        ``knowledge/gene_disease.tsv`` (gene, disease_id, disease_name, mode, panels).
    panels
        ``None`` every gene; an iterable of panel names (``"epilepsy"``…) the genes on any of
        them.

    Returns
    -------
    pandas.DataFrame
        The rows kept, one per gene (the first disease row of a gene), sorted by gene.
    """
    _require(gene_disease, "gene_disease", ("gene", "disease_id", "disease_name", "mode"))
    table = gene_disease.sort_values("gene", kind="stable").drop_duplicates("gene")
    bad_modes = sorted(set(table["mode"]) - set(_MODES))
    if bad_modes:
        raise InputError(f"gene_disease has modes {bad_modes}; expected AD, AR or XL")
    if panels is None:
        return table.reset_index(drop=True)
    if isinstance(panels, str):
        panels = [panels]
    wanted = set(panels)
    on = table["panels"].fillna("").astype(str).str.split(",")
    known = {p for names in on for p in names if p}
    unknown = sorted(wanted - known)
    if unknown:
        raise InputError(
            f"unknown panel(s) {unknown}; this cohort's panels are {sorted(known)}; "
            "pass panels=None for every gene"
        )
    mask = on.map(lambda names: bool(wanted & set(names)))
    return table[mask.to_numpy()].reset_index(drop=True)


def panels_for_terms(terms: Iterable[str], panel_roots: Mapping[str, Iterable[str]]) -> list[str]:
    """The panels whose HPO roots have one of the patient's observed terms at or below them.

    ``panel_roots`` is :data:`workbench.synth.knowledge.PANELS`. Unknown terms raise
    :class:`~workbench.errors.InputError` (checked with :func:`workbench.hpo.term`).
    """
    terms = list(terms)
    for t in terms:
        hpo.term(t)
    out = []
    for name, roots in panel_roots.items():
        if any(hpo.is_a(t, root) for t in terms for root in roots):
            out.append(name)
    return out


def panel_min_an(frequencies: pd.DataFrame, *, cap: int = 2000) -> int:
    """``min_an`` sized to a reference panel: ¾ of its largest population, at most ``cap``.

    gnomAD-style rules ask for ≥ 2,000 alleles before a population's frequency counts on its
    own; the synthetic panels hold at most 120 (tiny), 1,000 (teaching) or 2,000 (national)
    alleles per population, so the rule would never apply. Three quarters of the largest
    population's allele number keeps every full-size population (and the X chromosome,
    where men carry one allele) while leaving out a population sampled much more thinly.
    """
    cols = [c for c in frequencies.columns if c.startswith("an_")]
    if not cols:
        raise InputError("frequencies has no an_<POP> columns; pass population_frequencies")
    largest = int(frequencies[cols].to_numpy().max()) if len(frequencies) else 0
    return max(1, min(int(cap), math.floor(0.75 * largest)))


def frequency_index(frequencies: pd.DataFrame) -> dict[tuple[str, int, str, str], int]:
    """``(contig, position, ref, alt)`` → row number of the frequency table."""
    _require(frequencies, "frequencies", ("contig", "position", "ref", "alt"))
    keys = zip(
        frequencies["contig"].astype(str),
        frequencies["position"].astype(np.int64),
        frequencies["ref"].astype(str),
        frequencies["alt"].astype(str),
        strict=True,
    )
    return {(c, int(p), r, a): i for i, (c, p, r, a) in enumerate(keys)}


def _require(df, name: str, columns) -> None:
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"expected {name} as a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"{name} lacks columns {missing}; it has {list(df.columns)}")


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


# -- genotypes ------------------------------------------------------------------------------


def _parse_genotypes(genotypes) -> tuple[pd.DataFrame, list[str], np.ndarray]:
    """Check a session's genotype dict (or a list of them) and concatenate."""
    parts = [genotypes] if isinstance(genotypes, Mapping) else list(genotypes)
    if not parts:
        raise InputError("expected genotypes as a dict from session.genotypes(), got nothing")
    variants, calls, samples = [], [], None
    for g in parts:
        if not isinstance(g, Mapping) or not {"variants", "samples", "calls"} <= set(g):
            raise InputError(
                "expected genotypes as the dict session.genotypes() returns (variants, "
                f"samples, calls), got {type(g).__name__}"
            )
        v = g["variants"]
        _require(v, "genotypes['variants']", ("contig", "position", "ref", "alt"))
        c = np.asarray(g["calls"])
        s = [str(x) for x in g["samples"]]
        if c.ndim != 3 or c.shape[0] != len(v) or c.shape[1] != len(s) or c.shape[2] != 2:
            raise InputError(
                f"expected calls of shape (variants={len(v)}, samples={len(s)}, 2), got {c.shape}"
            )
        if samples is None:
            samples = s
        elif s != samples:
            raise InputError("every genotype block must have the same samples in the same order")
        variants.append(v[["contig", "position", "ref", "alt"]].reset_index(drop=True))
        calls.append(c.astype(np.int8, copy=False))
    return (
        pd.concat(variants, ignore_index=True),
        samples,
        np.concatenate(calls, axis=0) if calls else np.zeros((0, len(samples), 2), np.int8),
    )


def genotypes_in_genes(genotypes, genes) -> dict:
    """Keep only the variants inside the spans of ``genes`` (``Gene`` objects).

    Used to cut a whole-region read down to the panel genes before filtering.
    """
    variants, samples, calls = _parse_genotypes(genotypes)
    keep = np.zeros(len(variants), dtype=bool)
    contig = variants["contig"].astype(str).to_numpy()
    pos = variants["position"].to_numpy(dtype=np.int64)
    for g in genes:
        keep |= (contig == g.contig) & (pos >= g.start) & (pos <= g.end)
    return {
        "variants": variants[keep].reset_index(drop=True),
        "samples": samples,
        "calls": calls[keep],
    }


def _count(call: np.ndarray, allele: int) -> int | None:
    """Copies of ``allele`` in one call; ``None`` when the call is missing."""
    if (call == -1).any():
        return None
    return int((call == allele).sum())


def _gt(call: np.ndarray) -> str:
    if call[1] == -2:
        return "." if call[0] < 0 else str(int(call[0]))
    return "|".join("." if a < 0 else str(int(a)) for a in call)


def _is_x(contig: str) -> bool:
    return str(contig).removeprefix("chr").upper() == "X"


# -- checks ---------------------------------------------------------------------------------


def sex_check(calls_x: np.ndarray, sex: str) -> dict:
    """Compare a person's recorded sex with their X-chromosome genotypes.

    Parameters
    ----------
    calls_x
        Their calls at X-chromosome sites, shape (sites, 2); ``-2`` in the second column
        means no second X allele.
    sex
        ``"male"`` or ``"female"`` as recorded.

    Returns
    -------
    dict
        ``recorded``, ``x_genotypes`` (``"one X"``, ``"two X"``, ``"mixed"`` or ``None``
        without X sites), ``consistent`` (bool, or ``None`` when it cannot be told) and
        ``message`` (``None`` when consistent).
    """
    calls_x = np.asarray(calls_x)
    if sex not in ("male", "female"):
        return {
            "recorded": sex,
            "x_genotypes": None,
            "consistent": None,
            "message": f"sex is recorded as {sex!r}; expected male or female",
        }
    if calls_x.size == 0:
        return {"recorded": sex, "x_genotypes": None, "consistent": None, "message": None}
    one = calls_x[:, 1] == -2
    observed = "one X" if one.all() else "two X" if not one.any() else "mixed"
    expected = "one X" if sex == "male" else "two X"
    ok = observed == expected
    msg = None
    if not ok:
        msg = (
            f"recorded as {sex} but the X-chromosome genotypes show {observed} "
            f"({int(one.sum())} of {len(one)} sites with a single allele); check the "
            "sample identity and the recorded sex before trusting X-linked results"
        )
    return {"recorded": sex, "x_genotypes": observed, "consistent": ok, "message": msg}


def parentage_check(child: np.ndarray, parent: np.ndarray, *, max_error_rate=0.02, min_sites=20):
    """Opposing homozygotes between a child and a putative parent over autosomal sites.

    A parent passes one allele to the child, so where both are homozygous they cannot be
    homozygous for different alleles (0/0 against 1/1). The rate of such sites among the
    sites where both are homozygous and at least one carries the alternate allele is near 0
    for a true parent and far above it for someone unrelated.

    Parameters
    ----------
    child, parent
        Alternate-allele counts (0, 1, 2; negative for missing) at the same autosomal sites.

    Returns
    -------
    dict
        ``errors``, ``informative``, ``rate`` (``None`` without informative sites) and
        ``ok``: ``True`` (confirmed), ``False`` (failed), ``None`` (too few sites to tell).
    """
    child = np.asarray(child)
    parent = np.asarray(parent)
    valid = (child >= 0) & (parent >= 0)
    hom = valid & (child != 1) & (parent != 1) & ((child == 2) | (parent == 2))
    errors = int((hom & (child != parent)).sum())
    informative = int(hom.sum())
    rate = errors / informative if informative else None
    ok = None if informative < min_sites else rate <= max_error_rate
    return {"errors": errors, "informative": informative, "rate": rate, "ok": ok}


def _alt_counts(calls: np.ndarray) -> np.ndarray:
    """Non-reference allele counts per site and person (missing → -1), for parentage."""
    missing = (calls == -1).any(axis=2)
    counts = (calls > 0).sum(axis=2)
    return np.where(missing, -1, counts)


# -- the filter -----------------------------------------------------------------------------


def _parse_family(family: pd.DataFrame, proband: str, samples: list[str]) -> dict:
    _require(family, "family", ("person_id", "father_id", "mother_id", "sex", "affected"))
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


def _affected(row) -> bool:
    v = row.affected
    return bool(v) and not (isinstance(v, float) and math.isnan(v))


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
        ``None`` (every gene) or panel names (see :func:`panel_genes`).
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
    freq_rows = frequency_index(frequencies)
    pops = [c[3:] for c in frequencies.columns if c.startswith("af_")]
    messages: list[str] = []
    col = {s: i for i, s in enumerate(samples)}

    # -- checks: sex against X genotypes, parentage by Mendelian errors -------------------
    if check_genotypes is None:
        c_variants, c_calls = variants, calls
    else:
        c_variants, c_samples, c_calls = _parse_genotypes(check_genotypes)
        if c_samples != samples:
            raise InputError("check_genotypes must have the same samples as genotypes")
    is_x = c_variants["contig"].astype(str).map(_is_x).to_numpy(dtype=bool)
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
    family_scan = _FamilyScan(
        calls, col, fam, gene_models, reference, settings, freq_rows, frequencies, pops
    )
    for i, v in enumerate(variants.itertuples(index=False)):
        alts = [a for a in str(v.alt).split(",") if a]
        for k, alt in enumerate(alts, start=1):
            pc = calls[i, pcol]
            p = _count(pc, k)
            if not p:
                continue
            rows.extend(_variant_rows(v, alt, k, i, family_scan))
    table = pd.DataFrame(rows, columns=list(CANDIDATE_COLUMNS))
    table = _inheritance(table, fam, analysis, proband_sex_ok, male, calls, col, variants)
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
    gene_models: list
    reference: object
    settings: FilterSettings
    freq_rows: object
    frequencies: object
    pops: object


def _variant_rows(v, alt, allele, i, scan: _FamilyScan):
    calls, col, fam, settings = scan.calls, scan.col, scan.fam, scan.settings
    gene_models, reference = scan.gene_models, scan.reference
    freq_rows, frequencies, pops = scan.freq_rows, scan.frequencies, scan.pops
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
    hits = [
        (g, model)
        for g, model in gene_models
        if model.contig == contig and model.start <= pos + len(ref) - 1 and pos <= model.end
    ]
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
    try:
        annotations = annotate(reference, contig, pos, ref, alt)
    except InputError as e:
        return [
            {
                **base,
                "gene": g.gene,
                "mode": g.mode,
                "kept": False,
                "reason": f"could not be annotated: {e}",
            }
            for g, _ in hits
        ]
    af, popmax_af, popmax_pop = _frequency(
        freq_rows, frequencies, pops, contig, pos, ref, alt, settings.min_an
    )
    out = []
    for g, model in hits:
        mine = [a for a in annotations if a.gene == g.gene]
        canonical = model.transcript.transcript_id
        ann = next((a for a in mine if a.transcript == canonical), mine[0] if mine else None)
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
        if ann is None:
            out.append({**row, "kept": False, "reason": f"not on a transcript of {g.gene}"})
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
        if not (set(ann.consequences) & settings.consequences):
            row.update(
                kept=False,
                reason=f"consequence {ann.consequence} ({ann.impact} impact) is not among the "
                "analysed classes",
            )
        else:
            limit = settings.recessive_max_af if g.mode == "AR" else settings.dominant_max_af
            kind = "recessive" if g.mode == "AR" else "dominant/X-linked"
            worst = max(af, popmax_af or 0.0)
            if worst > limit:
                where = "pooled" if worst == af else f"in {popmax_pop}"
                row.update(
                    kept=False,
                    reason=f"allele frequency {worst:.3g} ({where}) is above the {kind} "
                    f"limit {limit:g}",
                )
            else:
                row.update(kept=True, reason="")  # decided by inheritance below
        out.append(row)
    return out


def _frequency(freq_rows, frequencies, pops, contig, pos, ref, alt, min_an):
    i = freq_rows.get((contig, pos, ref, alt))
    if i is None:
        return 0.0, None, None
    r = frequencies.iloc[i]
    an = int(r["an"]) if "an" in r else 0
    af = float(r["af"]) if "af" in r and an > 0 else 0.0
    best = None
    for p in sorted(pops):
        if f"an_{p}" in r and int(r[f"an_{p}"]) >= min_an:
            f = float(r[f"af_{p}"])
            if best is None or f > best[1]:
                best = (p, f)
    return af, (best[1] if best else None), (best[0] if best else None)


# -- inheritance ------------------------------------------------------------------------------


def _origin(p, f, m, *, hemizygous: bool) -> str:
    """Parental origin from alternate-allele counts (``None`` count: not available)."""
    if hemizygous:  # a boy's X comes from his mother
        if m is None:
            return "unknown"
        return "maternal" if m >= 1 else "de_novo"
    if p == 2:
        if f is None or m is None:
            return "unknown"
        return "biparental" if f >= 1 and m >= 1 else "inconsistent"
    if f is not None and m is not None:
        if f == 0 and m == 0:
            return "de_novo"
        if f >= 1 and m == 0:
            return "paternal"
        if m >= 1 and f == 0:
            return "maternal"
        return "either"
    if f is not None and f >= 1:
        return "paternal"
    if m is not None and m >= 1:
        return "maternal"
    if f == 0:
        return "not_paternal"
    if m == 0:
        return "not_maternal"
    return "unknown"


def _inheritance(table, fam, analysis, proband_sex_ok, male, calls, col, variants):
    if table.empty:
        return table
    table = table.copy()
    by_id = fam["by_id"]
    father_aff = fam["father"] is not None and _affected(by_id[fam["father"]])
    mother_aff = fam["mother"] is not None and _affected(by_id[fam["mother"]])
    kept = table["kept"].fillna(False).astype(bool).to_numpy()
    origins = []
    for r in table.itertuples(index=False):
        hemi = r.proband_gt is not None and "|" not in str(r.proband_gt)
        p = r.proband_count if r.proband_count is not None else 0
        origins.append(_origin(p, _opt(r.father_count), _opt(r.mother_count), hemizygous=hemi))
    table["origin"] = origins

    def set_row(j, inheritance, fit, reason="", keep=True):
        table.at[j, "inheritance"] = inheritance
        table.at[j, "inheritance_fit"] = fit
        table.at[j, "kept"] = keep
        if reason or not keep:
            table.at[j, "reason"] = reason

    # recessive genes: biallelic, pairs in trans
    for gene, idx in (
        table[kept & (table["mode"] == "AR").to_numpy()].groupby("gene").groups.items()
    ):
        idx = list(idx)
        hom = [j for j in idx if table.at[j, "proband_count"] == 2]
        het = [j for j in idx if table.at[j, "proband_count"] == 1]
        for j in hom:
            o = table.at[j, "origin"]
            if o == "biparental":
                set_row(j, "homozygous", "full", "homozygous, one copy from each carrier parent")
            elif o == "inconsistent":
                set_row(
                    j,
                    "homozygous",
                    "partial",
                    "homozygous but a parent does not carry it: possible uniparental disomy "
                    "or a deletion on the other allele",
                )
            else:
                set_row(j, "homozygous", "partial", "homozygous (parental origin unknown)")
        for j in het:
            o = table.at[j, "origin"]
            others = [k for k in het if k != j]
            opposite = {"paternal": "maternal", "maternal": "paternal"}.get(o)
            trans = [k for k in others if opposite and table.at[k, "origin"] == opposite]
            unresolved = [
                k
                for k in others
                if not (o in ("paternal", "maternal") and table.at[k, "origin"] == o)
            ]
            ids = table["variant_id"]
            if trans:
                set_row(
                    j,
                    "compound_heterozygous",
                    "full",
                    f"in trans: {o} here, {opposite} partner {', '.join(ids[trans])}",
                )
                table.at[j, "partners"] = ",".join(ids[trans])
            elif unresolved:
                why = (
                    "no parents to phase them"
                    if analysis == "singleton"
                    else "phase unknown (a de novo partner or an unresolved origin)"
                )
                set_row(
                    j,
                    "possible_compound_heterozygous",
                    "partial",
                    f"two or more heterozygous variants in {gene}; {why}",
                )
                table.at[j, "partners"] = ",".join(ids[unresolved])
            elif others:
                set_row(
                    j,
                    None,
                    None,
                    f"heterozygous in a recessive gene; every other variant in {gene} is also "
                    f"{o} (in cis)",
                    keep=False,
                )
            else:
                set_row(
                    j,
                    None,
                    None,
                    "heterozygous in a recessive gene with no second qualifying variant",
                    keep=False,
                )

    # dominant and X-linked genes, one variant at a time
    for j in table.index[kept & (table["mode"] != "AR").to_numpy()]:
        mode = table.at[j, "mode"]
        o = table.at[j, "origin"]
        p = table.at[j, "proband_count"]
        hemi = "|" not in str(table.at[j, "proband_gt"])
        x = _is_x(table.at[j, "contig"])
        if mode == "XL" and x and (hemi or male):
            fit = "full" if proband_sex_ok else "partial"
            if o == "maternal":
                carrier = "affected" if mother_aff else "carrier"
                set_row(j, "x_linked_hemizygous", fit, f"hemizygous, from the {carrier} mother")
            elif o == "de_novo":
                set_row(j, "x_linked_hemizygous", fit, "hemizygous and absent in the mother (new)")
            elif hemi:
                set_row(j, "x_linked_hemizygous", "partial", "hemizygous (mother not available)")
            else:
                set_row(
                    j,
                    "x_linked_hemizygous",
                    "partial",
                    "two X alleles in a proband recorded as male: sex inconsistent",
                )
            continue
        if o == "de_novo":
            set_row(j, "de_novo", "full", "absent in both parents: de novo")
        elif o in ("paternal", "maternal", "either"):
            parent_aff = {
                "paternal": father_aff,
                "maternal": mother_aff,
                "either": father_aff or mother_aff,
            }[o]
            source = {"paternal": "father", "maternal": "mother", "either": "both parents"}[o]
            if parent_aff:
                set_row(
                    j,
                    "inherited_from_affected_parent",
                    "full",
                    f"inherited from the affected {source}",
                )
            elif mode == "XL" and not male:
                set_row(
                    j,
                    "x_linked_heterozygous",
                    "weak",
                    f"heterozygous girl, inherited from the unaffected {source}: carrier "
                    "state (X-linked disease in girls needs skewed X-inactivation or a "
                    "dominant mechanism)",
                )
            else:
                set_row(
                    j,
                    "incomplete_penetrance",
                    "weak",
                    f"inherited from the unaffected {source}: incomplete penetrance or not "
                    "causal (lower priority)",
                )
        elif o == "inconsistent" or (p == 2 and o == "unknown"):
            set_row(j, "homozygous", "partial", "homozygous in a dominant gene")
        else:
            label = {
                "not_paternal": "absent in the father, mother not available",
                "not_maternal": "absent in the mother, father not available",
            }.get(o, "parental origin unknown")
            set_row(j, "heterozygous_origin_unknown", "partial", f"heterozygous; {label}")

    # siblings: an unaffected sibling with the same genotype lowers the fit (flag, not drop)
    for sib in fam["siblings"]:
        aff = _affected(by_id[sib])
        for j in table.index[table["kept"].astype(bool)]:
            key = (table.at[j, "contig"], int(table.at[j, "position"]), table.at[j, "ref"])
            i = _site(variants, key)
            if i is None:
                continue
            allele = str(variants.at[i, "alt"]).split(",").index(table.at[j, "alt"]) + 1
            s_count = _count(calls[i, col[sib]], allele)
            p_count = table.at[j, "proband_count"]
            same = s_count == p_count
            note = f"{'affected' if aff else 'unaffected'} sibling {sib}: " + (
                "same genotype" if same else f"{s_count} copies"
            )
            prev = table.at[j, "segregation"]
            table.at[j, "segregation"] = f"{prev}; {note}" if prev else note
            biallelic = table.at[j, "inheritance"] in ("homozygous", "compound_heterozygous")
            if (
                not aff
                and same
                and (biallelic or table.at[j, "inheritance"] == "x_linked_hemizygous")
            ):
                table.at[j, "inheritance_fit"] = "weak"
                table.at[j, "reason"] += f"; shared by the unaffected sibling {sib}"
    return table


def _site(variants: pd.DataFrame, key) -> int | None:
    contig, pos, ref = key
    hit = variants.index[
        (variants["contig"].astype(str) == contig)
        & (variants["position"].astype(np.int64) == pos)
        & (variants["ref"].astype(str) == ref)
    ]
    return int(hit[0]) if len(hit) else None


def _opt(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return int(v)


def _sort(table: pd.DataFrame) -> pd.DataFrame:
    if table.empty:
        return table.reset_index(drop=True)
    order = sorted(
        range(len(table)),
        key=lambda i: (
            not bool(table["kept"].iat[i]),
            _contig_key(table["contig"].iat[i]),
            int(table["position"].iat[i]),
            str(table["alt"].iat[i]),
            str(table["gene"].iat[i]),
        ),
    )
    out = table.iloc[order].reset_index(drop=True)
    out["kept"] = out["kept"].astype(bool)
    return out


def _contig_key(contig: str) -> tuple:
    name = str(contig).removeprefix("chr")
    if name.isdigit():
        return (0, int(name), "")
    return (1, {"X": 0, "Y": 1}.get(name.upper(), 2), name)
