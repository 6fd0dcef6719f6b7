"""Secondary findings in the ACMG SF v3.2 genes, returned only as the patient chose.

A secondary finding is a pathogenic or likely pathogenic variant in one of the 81 genes of
ACMG SF v3.2 (Miller et al. 2023) that is unrelated to why the patient was tested. The
patient decides, per category (cancer, cardiovascular, inborn error of metabolism,
miscellaneous), whether they want to hear about them. Two sources, both consent-gated:

* **the knowledge base** — :meth:`Session.findings <workbench.access.session.Session.findings>`
  returns the variants the clinical assertions call P/LP, already restricted to the chosen
  categories; it logs how many were withheld (never which);
* **computed** — for the *chosen* categories only, the SF genes are read through the same
  session and their variants classified with the computed ACMG criteria
  (:func:`~workbench.interpret.rank.classify_candidates`); P/LP ones are added (for a
  recessive gene, only a biallelic genotype is a finding). Genes of declined categories are
  never read.

Only a treating clinician gets an answer: a research or teaching session is refused with
:class:`~workbench.errors.ConsentDenied` (decided and audited by the session), which
:func:`secondary_findings` reports as ``status="refused"`` rather than raising.

References
----------
Miller DT et al. (2023) ACMG SF v3.2 list for reporting of secondary findings in clinical
exome and genome sequencing. Genet Med 25:100866.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..errors import AccessDenied, ConsentDenied, InputError
from .acmg import LIKELY_PATHOGENIC, PATHOGENIC
from .checks import genotypes_in_genes
from .criteria import Thresholds
from .filter import FilterSettings, filter_variants
from .panels import panel_min_an

__all__ = [
    "FINDING_COLUMNS",
    "STATUSES",
    "SecondaryFindings",
    "findings_sentence",
    "patients_by_choice",
    "secondary_findings",
]

#: Columns of :attr:`SecondaryFindings.table`.
FINDING_COLUMNS = (
    "gene",
    "sf_category",
    "variant_id",
    "contig",
    "position",
    "ref",
    "alt",
    "hgvs_c",
    "hgvs_p",
    "classification",
    "zygosity",
    "source",
    "criteria",
)

#: ``shown`` (at least one finding), ``none_found`` (categories chosen, nothing found),
#: ``declined`` (the patient chose no category), ``refused`` (not a treatment session).
STATUSES = ("shown", "none_found", "declined", "refused")

_PLP = (PATHOGENIC, LIKELY_PATHOGENIC)


@dataclass
class SecondaryFindings:
    """Secondary findings as the patient chose to hear them.

    Attributes
    ----------
    person
        The patient.
    status
        One of :data:`STATUSES`.
    table
        The findings that may be returned (:data:`FINDING_COLUMNS`); empty unless ``shown``.
    categories
        The SF categories the patient chose (``None`` when the session may not know).
    suppressed
        How many knowledge-base findings consent withheld, for the treating clinician (the
        session's ``attrs["suppressed"]``; never which). Not written into reports.
    message
        The refusal, for ``refused``.
    """

    person: str
    status: str
    table: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=FINDING_COLUMNS))
    categories: tuple[str, ...] | None = None
    suppressed: int = 0
    message: str = ""

    def __post_init__(self):
        if self.status not in STATUSES:
            raise InputError(f"expected status in {STATUSES}, got {self.status!r}")
        if self.status != "shown" and len(self.table):
            raise InputError(f"a {self.status!r} result cannot carry findings")

    @property
    def sentence(self) -> str:
        """What a report says about secondary findings (never naming a withheld one)."""
        return findings_sentence(self.status, self.categories, len(self.table))


def findings_sentence(status: str, categories, n: int = 0) -> str:
    """The report's sentence for a :class:`SecondaryFindings` status."""
    words = ", ".join(c.replace("_", " ") for c in (categories or ()))
    if status == "shown":
        return (
            f"The patient chose to receive secondary findings ({words}). {n} pathogenic or "
            "likely pathogenic variant(s) in ACMG SF v3.2 genes of these categories are "
            "reported below."
        )
    if status == "none_found":
        return (
            f"The patient chose to receive secondary findings ({words}). No pathogenic or "
            "likely pathogenic variant was found in the ACMG SF v3.2 genes of these "
            "categories."
        )
    if status == "declined":
        return (
            "The patient chose not to receive secondary findings; the ACMG SF v3.2 genes "
            "were not analysed for them and none are reported."
        )
    if status == "refused":
        return (
            "Secondary findings are returned only to the patient's treating clinician; "
            "none are included here."
        )
    raise InputError(f"expected status in {STATUSES}, got {status!r}")


def _chosen_categories(session, person: str) -> tuple[str, ...]:
    from ..access.explain import consent_history, consent_summary

    summary = consent_summary(consent_history(session, person))
    if summary["current"]["withdrawn"]:
        return ()
    return tuple(summary["current"]["secondary_findings"])


def secondary_findings(
    session,
    person: str,
    *,
    computed: bool = True,
    settings: FilterSettings | None = None,
    thresholds: Thresholds | None = None,
) -> SecondaryFindings:
    """Secondary findings of ``person``, as their consent allows, through ``session``.

    Parameters
    ----------
    session
        A treatment session (any other purpose gives ``status="refused"``).
    person
        The patient (their id in the session's view).
    computed
        Also classify the variants of the chosen categories' SF genes with the computed
        ACMG criteria (see the module docstring).
    settings, thresholds
        For the computed part; sized to the reference panel by default.

    Returns
    -------
    SecondaryFindings
    """
    if not isinstance(person, str) or not person:
        raise InputError(f"expected person as an id such as 'P00003', got {person!r}")
    try:
        known = session.findings(person)
    except ConsentDenied as e:
        return SecondaryFindings(person=person, status="refused", message=str(e))
    suppressed = int(known.attrs.get("suppressed", 0))
    try:
        categories = _chosen_categories(session, person)
    except AccessDenied as e:  # pragma: no cover - findings() was allowed, so is this
        return SecondaryFindings(person=person, status="refused", message=str(e))
    rows = [
        {
            "gene": r.gene,
            "sf_category": r.sf_category,
            "variant_id": f"{r.contig}:{int(r.position)}:{r.ref}>{r.alt}",
            "contig": r.contig,
            "position": int(r.position),
            "ref": r.ref,
            "alt": r.alt,
            "hgvs_c": r.hgvs_c,
            "hgvs_p": r.hgvs_p,
            "classification": r.classification,
            "zygosity": r.zygosity,
            "source": "knowledge base",
            "criteria": "",
        }
        for r in known.itertuples(index=False)
        if r.sf_category in categories
    ]
    if computed and categories:
        rows.extend(_computed(session, person, categories, settings, thresholds))
    table = _merge_rows(rows)
    if not categories:
        status = "declined"
        table = table.iloc[0:0]
    else:
        status = "shown" if len(table) else "none_found"
    return SecondaryFindings(
        person=person,
        status=status,
        table=table,
        categories=categories,
        suppressed=suppressed,
    )


def _merge_rows(rows: list[dict]) -> pd.DataFrame:
    merged: dict[str, dict] = {}
    for r in rows:
        prev = merged.get(r["variant_id"])
        if prev is None:
            merged[r["variant_id"]] = dict(r)
        elif r["source"] not in prev["source"]:
            prev["source"] = f"{prev['source']}; {r['source']}"
            prev["criteria"] = prev["criteria"] or r["criteria"]
    table = pd.DataFrame(list(merged.values()), columns=list(FINDING_COLUMNS))
    return table.sort_values(["gene", "position", "alt"], kind="stable").reset_index(drop=True)


def _computed(session, person, categories, settings, thresholds) -> list[dict]:
    from .rank import classify_candidates

    cohort = session.cohort
    knowledge = cohort.knowledge
    sf = knowledge.acmg_sf
    sf = sf[sf.category.isin(categories)]
    gd = knowledge.gene_disease
    gd = gd[gd.gene.isin(set(sf.gene))]
    models = []
    for g in sorted(gd.gene):
        try:
            models.append(cohort.reference.gene(g))
        except InputError:
            continue
    if not models:
        return []
    family = session.samples()
    reads = []
    for contig in sorted({m.contig for m in models}):
        mine = [m for m in models if m.contig == contig]
        reads.append(
            session.genotypes(region=(contig, min(m.start for m in mine), max(m.end for m in mine)))
        )
    freqs = knowledge.frequencies
    min_an = panel_min_an(freqs)
    result = filter_variants(
        [genotypes_in_genes(reads, models)],
        proband=person,
        family=family,
        reference=cohort.reference,
        gene_disease=gd,
        frequencies=freqs,
        settings=settings or FilterSettings(min_an=min_an),
    )
    kept = result.candidates
    if kept.empty:
        return []
    classified, _ = classify_candidates(
        kept,
        frequencies=freqs,
        parentage_confirmed=result.parentage_confirmed,
        thresholds=thresholds or Thresholds(min_an=min_an),
    )
    category = dict(zip(sf.gene, sf.category, strict=True))
    out = []
    for r in classified.itertuples(index=False):
        if r.classification not in _PLP:
            continue
        if r.mode == "AR" and r.inheritance not in ("homozygous", "compound_heterozygous"):
            continue  # a carrier of a recessive condition is no secondary finding
        out.append(
            {
                "gene": r.gene,
                "sf_category": category[r.gene],
                "variant_id": r.variant_id,
                "contig": r.contig,
                "position": int(r.position),
                "ref": r.ref,
                "alt": r.alt,
                "hgvs_c": r.hgvs_c,
                "hgvs_p": r.hgvs_p,
                "classification": r.classification,
                "zygosity": "homozygous"
                if r.proband_count == 2
                else ("hemizygous" if "|" not in str(r.proband_gt) else "heterozygous"),
                "source": "computed",
                "criteria": r.criteria,
            }
        )
    return out


def patients_by_choice(cohort, *, clinician: str) -> dict[str, str | None]:
    """A patient of ``clinician`` who chose secondary findings and one who declined them.

    For demonstrations: the clinician reads their own patients' current consents, each in a
    treatment session (decided and audited, in process or through the data-access service),
    to pick *whom* to show. Returns ``{"accepted": id or None, "declined": id or None}``, the
    first of each by id; a withdrawn patient is neither.
    """
    from ..access.explain import consent_history, consent_summary, patients_of
    from ..access.policy import Treatment

    out: dict[str, str | None] = {"accepted": None, "declined": None}
    for pid in patients_of(cohort, user=clinician):
        with cohort.session(user=clinician, purpose=Treatment(patient=pid)) as session:
            current = consent_summary(consent_history(session, pid))["current"]
        if current["withdrawn"]:
            continue
        kind = "accepted" if current["secondary_findings"] else "declined"
        if out[kind] is None:
            out[kind] = pid
        if None not in out.values():
            break
    return out
