"""The clinical report draft: HTML (and PDF when a renderer is installed), and the Phenopacket.

:func:`report_html` writes one self-contained HTML page per proband — no scripts, no network,
styles inline — from a :class:`~workbench.interpret.case.CaseInterpretation` and the
:class:`~workbench.interpret.secondary.SecondaryFindings` the patient consented to:

1. indication (the phenopacket's referral text) and phenotype (observed and excluded HPO
   terms with their labels);
2. primary findings: the filtering funnel (variants and genes left after each step), the
   ranked candidates, and for the top ones each variant's ACMG/AMP
   criteria with their notes, the Table 5 class and rule and the points view beside it;
3. secondary findings exactly as consented — a table, or one sentence saying the patient
   declined or that none were found; a withheld finding is never named or counted;
4. methods and limitations.

:func:`to_phenopacket` writes the interpretation back into the patient's Phenopacket as an
``Interpretation`` with one ``GenomicInterpretation`` per reported variant
(``VariantInterpretation.acmg_pathogenicity_classification`` and a ``VariationDescriptor``
carrying the VCF record, HGVS expressions, gene and allelic state). :func:`write_report`
writes the HTML, the Phenopacket JSON and, when :func:`pdf_renderer` finds Chromium or
WeasyPrint offline, a PDF.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import jinja2
from google.protobuf import json_format

from ..errors import InputError
from ..io import atomic_file, write_json
from .acmg import ACMG_ENUM, CLASSES, LIKELY_PATHOGENIC, PATHOGENIC
from .case import CaseInterpretation
from .secondary import SecondaryFindings

__all__ = [
    "GENOME_ASSEMBLY",
    "pdf_renderer",
    "report_context",
    "report_html",
    "to_phenopacket",
    "write_report",
]

#: The assembly name written into VCF records: the synthetic reference of the cohort.
GENOME_ASSEMBLY = "workbench-synthetic"

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Genome report draft — {{ proband }}</title>
<style>
body { font-family: sans-serif; max-width: 60em; margin: 2em auto; line-height: 1.4; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #999; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
caption { text-align: left; font-weight: bold; }
.draft { border: 2px solid #a00; padding: 0.5em; }
</style>
</head>
<body>
<p class="draft"><strong>DRAFT for clinical review — synthetic data, not for clinical
use.</strong></p>
<h1>Genome sequencing report (draft)</h1>
<table>
<tr><th scope="row">Patient</th><td>{{ proband }}</td></tr>
<tr><th scope="row">Family</th><td>{{ family_id or "—" }}</td></tr>
<tr><th scope="row">Sex</th><td>{{ sex }}</td></tr>
<tr><th scope="row">Analysis</th><td>{{ analysis }}</td></tr>
</table>

<h2>Indication</h2>
<p>{{ indication or "No indication was recorded in the phenopacket." }}</p>

<h2>Phenotype</h2>
{% if terms %}
<ul>{% for t in terms %}<li>{{ t.label }} ({{ t.id }})</li>{% endfor %}</ul>
{% else %}<p>No usable observed HPO term.</p>{% endif %}
{% if excluded %}<p>Recorded as absent:
{% for t in excluded %}{{ t.label }} ({{ t.id }}){% if not loop.last %}; {% endif %}
{% endfor %}.</p>{% endif %}

<h2>Primary findings</h2>
<p>{{ conclusion }}</p>
<table>
<caption>Filtering: what was left after each step</caption>
<tr><th scope="col">Step</th><th scope="col">Variants</th><th scope="col">Genes</th></tr>
{% for f in funnel %}<tr><td>{{ f.step }}</td><td>{{ "{:,}".format(f.variants) }}</td>
<td>{{ "{:,}".format(f.genes) }}</td></tr>
{% endfor %}</table>
{% if ranking %}
<table>
<caption>Candidate genes, ranked by phenotype, variant evidence and inheritance</caption>
<tr><th scope="col">Rank</th><th scope="col">Gene</th><th scope="col">Disease</th>
<th scope="col">Inheritance</th><th scope="col">Variant(s)</th>
<th scope="col">ACMG class (Table 5)</th><th scope="col">Points</th>
<th scope="col">Phenotype similarity</th></tr>
{% for r in ranking %}<tr><td>{{ r.rank }}</td><td>{{ r.gene }}</td>
<td>{{ r.disease_name }} ({{ r.disease_id }}, {{ r.mode }})</td>
<td>{{ r.inheritance }} ({{ r.inheritance_fit }} fit)</td><td>{{ r.hgvs }}</td>
<td>{{ r.classification }}</td><td>{{ r.points }} ({{ r.points_class }})</td>
<td>{{ r.phenotype_score }}</td></tr>
{% endfor %}</table>
{% for v in details %}
<h3>{{ v.gene }} {{ v.hgvs_c }}{% if v.hgvs_p %} {{ v.hgvs_p }}{% endif %}</h3>
<p>{{ v.variant_id }} · {{ v.consequence }} · proband {{ v.proband_gt }}{% if v.family %} · family:
{% for who, gt in v.family %}{{ who }} {{ gt }}{% if not loop.last %}, {% endif %}
{% endfor %}{% endif %}
· inheritance: {{ v.inheritance }} — {{ v.reason }}{% if v.assertion %}
· knowledge base: {{ v.assertion }}{% endif %}</p>
<table>
<caption>ACMG/AMP criteria</caption>
<tr><th scope="col">Criterion</th><th scope="col">Strength</th><th scope="col">Points</th>
<th scope="col">Source</th><th scope="col">Why</th></tr>
{% for e in v.evidence %}<tr><td>{{ e.label }}</td><td>{{ e.strength }}</td><td>{{ e.points }}</td>
<td>{{ e.source }}</td><td>{{ e.note }}</td></tr>
{% else %}<tr><td colspan="5">No criterion applies.</td></tr>{% endfor %}
</table>
<p><strong>Table 5 view:</strong> {{ v.classification }} — {{ v.rule }}<br>
<strong>Points view:</strong> {{ v.points }} points — {{ v.points_class }}
{% if v.disagreement %}<br><strong>The views differ:</strong> {{ v.disagreement }}{% endif %}</p>
{% endfor %}
{% endif %}

<h2>Secondary findings</h2>
<p>{{ secondary_sentence }}</p>
{% if secondary %}
<table>
<caption>Secondary findings (ACMG SF v3.2), as consented</caption>
<tr><th scope="col">Gene</th><th scope="col">Category</th><th scope="col">Variant</th>
<th scope="col">Classification</th><th scope="col">Zygosity</th><th scope="col">Source</th></tr>
{% for f in secondary %}<tr><td>{{ f.gene }}</td><td>{{ f.sf_category }}</td>
<td>{{ f.hgvs_c }}{% if f.hgvs_p %} {{ f.hgvs_p }}{% endif %} ({{ f.variant_id }})</td>
<td>{{ f.classification }}</td><td>{{ f.zygosity }}</td><td>{{ f.source }}</td></tr>
{% endfor %}</table>
{% endif %}

<h2>Methods</h2>
<ul>{% for m in methods %}<li>{{ m }}</li>{% endfor %}</ul>

<h2>Limitations</h2>
<ul>{% for m in limitations %}<li>{{ m }}</li>{% endfor %}</ul>
{% if messages %}<h2>Analysis notes</h2>
<ul>{% for m in messages %}<li>{{ m }}</li>{% endfor %}</ul>{% endif %}
</body>
</html>
"""

_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)


def _check(case, secondary):
    if not isinstance(case, CaseInterpretation):
        raise InputError(
            f"expected a CaseInterpretation from interpret_case(), got {type(case).__name__}"
        )
    if secondary is not None and not isinstance(secondary, SecondaryFindings):
        raise InputError(
            "expected secondary as SecondaryFindings from secondary_findings() or None, got "
            f"{type(secondary).__name__}"
        )
    if secondary is not None and secondary.person != case.proband:
        raise InputError(
            f"the secondary findings are of {secondary.person}, the case is {case.proband}"
        )


def _reported(case: CaseInterpretation, top: int) -> list[str]:
    """Variant ids of the top ``top`` ranked genes' units."""
    out = []
    for r in case.ranking.head(top).itertuples(index=False):
        out.extend(v for v in str(r.variants).split(",") if v)
    return out


def report_context(case: CaseInterpretation, secondary: SecondaryFindings | None, *, top: int = 3):
    """The values the report template shows (plain dicts and lists), for tests and widgets."""
    _check(case, secondary)
    cand = case.candidates.set_index("variant_id") if len(case.candidates) else None
    details = []
    for vid in _reported(case, top):
        r = cand.loc[vid]
        c = case.classifications[vid]
        details.append(
            {
                "variant_id": vid,
                "gene": r.gene,
                "hgvs_c": r.hgvs_c,
                "hgvs_p": r.hgvs_p if isinstance(r.hgvs_p, str) else "",
                "consequence": r.consequence,
                "proband_gt": r.proband_gt,
                "family": sorted(
                    (p, g) for p, g in case.genotypes.get(vid, {}).items() if p != case.proband
                ),
                "inheritance": r.inheritance,
                "reason": r.reason,
                "assertion": r.get("assertion", ""),
                "evidence": [
                    {
                        "label": e.label,
                        "strength": e.strength.replace("_", " "),
                        "points": e.points,
                        "source": e.source,
                        "note": e.note,
                    }
                    for e in c.evidence
                ],
                "classification": c.classification,
                "rule": c.rule,
                "points": c.points,
                "points_class": c.points_class,
                "disagreement": c.disagreement,
            }
        )
    if case.ranking.empty:
        conclusion = (
            "No candidate variant passed the filters in the analysed genes: no primary "
            "finding is reported (unsolved)."
        )
    else:
        t = case.ranking.iloc[0]
        if t.classification in (PATHOGENIC, LIKELY_PATHOGENIC):
            conclusion = (
                f"The top candidate, {t.gene} ({t.disease_name}), carries a variant classified "
                f"{t.classification.lower()} that fits the inheritance ({t.inheritance}); a "
                "likely molecular diagnosis for review."
            )
        else:
            conclusion = (
                f"No pathogenic or likely pathogenic candidate: the top candidate, {t.gene}, "
                f"is classified {t.classification.lower()}. The case is not solved; the "
                "candidates below are for review and reanalysis."
            )
    shown = secondary.table if secondary is not None and secondary.status == "shown" else None
    sentence = (
        secondary.sentence
        if secondary is not None
        else "Secondary findings were not requested for this report; none are included."
    )
    return {
        "proband": case.proband,
        "family_id": case.family_id,
        "sex": case.sex,
        "analysis": case.filtered.analysis,
        "indication": case.indication,
        "terms": [{"id": t, "label": case.labels.get(t, "")} for t in case.terms],
        "excluded": [{"id": t, "label": case.labels.get(t, "")} for t in case.excluded_terms],
        "conclusion": conclusion,
        "funnel": case.funnel.to_dict("records"),
        "ranking": case.ranking.to_dict("records"),
        "details": details,
        "secondary_sentence": sentence,
        "secondary": [] if shown is None else shown.to_dict("records"),
        "methods": _methods(case),
        "limitations": LIMITATIONS,
        "messages": list(case.messages),
    }


LIMITATIONS = (
    "All data are synthetic: the genomes, people, phenotypes and knowledge bases are simulated "
    "for research and teaching and describe nobody.",
    "The in-silico score behind PP3/BP4 is synthetic (a hash of the variant in a range set by "
    "its consequence), not a prediction.",
    "Criteria needing literature, functional studies or clinical judgement (PS1, PS3, PS4, PM1, "
    "PM5, PP2, PP4, PP5, BS3, BS4, BP1–BP3, BP5, BP6) are not computed; a reviewer adds them.",
    "Only the genes of the gene–disease table were analysed, on their canonical transcripts; "
    "structural and copy-number variants, repeat expansions and mitochondrial DNA were not.",
    "Access checks are cooperative: a Python kernel is no security boundary, and the consent "
    "rules are applied by the workbench's session layer, not enforced by a separate service.",
    "This is a draft: every finding must be reviewed and confirmed before it is reported.",
)


def _methods(case: CaseInterpretation) -> list[str]:
    s = case.filtered.settings
    t = case.thresholds
    panels = ", ".join(case.panels) if case.panels else "every gene of the gene–disease table"
    return [
        f"Genes analysed: {panels}; ACMG SF v3.2 genes only when their disease is among the "
        "panel diseases most similar to the phenotype (others are secondary findings).",
        "Variants annotated on each gene's canonical transcript with the workbench annotator "
        "(Sequence Ontology terms, VEP impact order, HGVS).",
        f"Filters: consequence classes {', '.join(sorted(s.consequences))}; population "
        f"allele frequency at most {s.dominant_max_af:g} (dominant, X-linked) or "
        f"{s.recessive_max_af:g} (recessive), pooled and in populations with at least "
        f"{s.min_an} alleles.",
        f"Inheritance analysis: {case.filtered.analysis}; parentage checked by opposing "
        f"homozygotes (at most {s.max_mendel_error_rate:.0%}), sex against X genotypes.",
        "ACMG/AMP 2015 criteria computed from the data (PVS1, PS2/PM6, PM2, PM3, PM4, PP1, "
        f"PP3/BP4, BA1, BS1, BS2, BP7; BA1 and popmax over populations with ≥{t.min_an} "
        "alleles), classified by Richards et al. 2015 Table 5 with the Tavtigian 2020 points "
        "beside it.",
        "Phenotype ranking: HPO semantic similarity (hpo3, graph-based information coefficient,"
        " best-match average) between the patient's terms and each disease's annotations, "
        "combined as phenotype × variant evidence × inheritance fit.",
        "Secondary findings: ACMG SF v3.2, pathogenic or likely pathogenic by the knowledge "
        "base or the computed criteria, returned only in the categories the patient chose.",
    ]


def report_html(
    case: CaseInterpretation, secondary: SecondaryFindings | None = None, *, top: int = 3
) -> str:
    """The report draft as one self-contained HTML page (no scripts, no external links).

    Parameters
    ----------
    case
        From :func:`~workbench.interpret.case.interpret_case`.
    secondary
        From :func:`~workbench.interpret.secondary.secondary_findings` (``None``: not
        requested, and the report says so).
    top
        How many ranked genes get the criteria-by-criteria detail.
    """
    if isinstance(top, bool) or not isinstance(top, int) or top < 0:
        raise InputError(f"expected top as a non-negative integer, got {top!r}")
    return _ENV.from_string(_TEMPLATE).render(**report_context(case, secondary, top=top))


def pdf_renderer() -> str | None:
    """``"chromium"`` or ``"weasyprint"`` when one is installed (no download), else ``None``."""
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return name
    try:
        import weasyprint  # noqa: F401
    except ImportError:
        return None
    return "weasyprint"


def _pdf(html_text: str, out: Path, renderer: str) -> None:
    if renderer == "weasyprint":
        import weasyprint

        weasyprint.HTML(string=html_text).write_pdf(str(out))
        return
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html_text, encoding="utf-8")
        subprocess.run(
            [
                shutil.which(renderer),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-pdf-header-footer",
                f"--print-to-pdf={out}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


# -- phenopacket ----------------------------------------------------------------------------


def to_phenopacket(
    case: CaseInterpretation,
    secondary: SecondaryFindings | None = None,
    *,
    packet: dict | None = None,
    top: int = 1,
):
    """The patient's Phenopacket with this interpretation added.

    Parameters
    ----------
    case, secondary
        As for :func:`report_html`; only consented secondary findings are written (as
        ``CONTRIBUTORY``-free ``UNKNOWN_STATUS`` genomic interpretations of a separate
        ``Interpretation`` with id ``<proband>-secondary-findings``).
    packet
        The phenopacket as a dict (``session.phenopacket(proband)``); ``None`` builds a
        minimal one (id and subject).
    top
        How many ranked genes to write (their variants).

    Returns
    -------
    phenopackets.Phenopacket
        With ``Interpretation`` ``<proband>-genome-analysis``: progress ``SOLVED`` when the
        top candidate is P/LP, else ``UNSOLVED``; a ``Diagnosis`` naming the top gene's
        disease when solved; one ``GenomicInterpretation`` per variant with its ACMG class.
    """
    import phenopackets as pp

    _check(case, secondary)
    message = pp.Phenopacket()
    if packet:
        json_format.ParseDict(packet, message)
    else:
        message.id = case.proband
        message.subject.id = case.proband
    keep = [i for i in message.interpretations if not i.id.startswith(f"{case.proband}-genome")]
    keep = [i for i in keep if i.id != f"{case.proband}-secondary-findings"]
    del message.interpretations[:]
    message.interpretations.extend(keep)

    cand = case.candidates.set_index("variant_id") if len(case.candidates) else None
    solved = case.solved
    interp = pp.Interpretation(
        id=f"{case.proband}-genome-analysis",
        progress_status=pp.Interpretation.ProgressStatus.Value("SOLVED" if solved else "UNSOLVED"),
        summary=report_context(case, secondary, top=0)["conclusion"],
    )
    genomic = []
    for rank_row in case.ranking.head(top).itertuples(index=False):
        for vid in str(rank_row.variants).split(","):
            r = cand.loc[vid]
            status = "CAUSATIVE" if solved and rank_row.rank == 1 else "CANDIDATE"
            genomic.append(
                _genomic(
                    pp,
                    case.proband,
                    vid,
                    gene=r.gene,
                    hgvs_c=r.hgvs_c,
                    hgvs_p=r.hgvs_p,
                    zygosity=_zygosity(r),
                    classification=case.classifications[vid].classification,
                    status=status,
                )
            )
    if genomic:
        if solved:
            top_row = case.ranking.iloc[0]
            interp.diagnosis.disease.id = str(top_row.disease_id)
            interp.diagnosis.disease.label = str(top_row.disease_name)
        interp.diagnosis.genomic_interpretations.extend(genomic)
    message.interpretations.append(interp)

    if secondary is not None and secondary.status == "shown":
        sf = pp.Interpretation(
            id=f"{case.proband}-secondary-findings",
            progress_status=pp.Interpretation.ProgressStatus.Value("COMPLETED"),
            summary=secondary.sentence,
        )
        sf.diagnosis.genomic_interpretations.extend(
            _genomic(
                pp,
                case.proband,
                f.variant_id,
                gene=f.gene,
                hgvs_c=f.hgvs_c,
                hgvs_p=f.hgvs_p,
                zygosity=f.zygosity,
                classification=f.classification,
                status="UNKNOWN_STATUS",
            )
            for f in secondary.table.itertuples(index=False)
        )
        message.interpretations.append(sf)
    return message


_ALLELIC_STATE = {
    "heterozygous": ("GENO:0000135", "heterozygous"),
    "homozygous": ("GENO:0000136", "homozygous"),
    "hemizygous": ("GENO:0000134", "hemizygous"),
}


def _zygosity(r) -> str:
    if "|" not in str(r.proband_gt):
        return "hemizygous"
    return "homozygous" if int(r.proband_count) == 2 else "heterozygous"


def _genomic(pp, subject, vid, *, gene, hgvs_c, hgvs_p, zygosity, classification, status):
    if classification not in CLASSES:
        raise InputError(f"expected an ACMG class, got {classification!r}")
    contig, pos, change = vid.split(":")
    ref, alt = change.split(">")
    descriptor = pp.VariationDescriptor(
        id=vid,
        label=f"{gene} {hgvs_c}" if isinstance(hgvs_c, str) and hgvs_c else vid,
        gene_context=pp.GeneDescriptor(value_id=f"symbol:{gene}", symbol=gene),
        vcf_record=pp.VcfRecord(
            genome_assembly=GENOME_ASSEMBLY, chrom=contig, pos=int(pos), ref=ref, alt=alt
        ),
        molecule_context=pp.MoleculeContext.Value("genomic"),
    )
    for syntax, value in (("hgvs.c", hgvs_c), ("hgvs.p", hgvs_p)):
        if isinstance(value, str) and value:
            descriptor.expressions.append(pp.Expression(syntax=syntax, value=value))
    state = _ALLELIC_STATE.get(zygosity)
    if state:
        descriptor.allelic_state.id, descriptor.allelic_state.label = state
    return pp.GenomicInterpretation(
        subject_or_biosample_id=subject,
        interpretation_status=pp.GenomicInterpretation.InterpretationStatus.Value(status),
        variant_interpretation=pp.VariantInterpretation(
            acmg_pathogenicity_classification=pp.AcmgPathogenicityClassification.Value(
                ACMG_ENUM[classification]
            ),
            variation_descriptor=descriptor,
        ),
    )


def write_report(
    case: CaseInterpretation,
    secondary: SecondaryFindings | None,
    folder,
    *,
    packet: dict | None = None,
    pdf: bool = True,
    top: int = 3,
) -> dict:
    """Write ``<proband>_report.html``, ``<proband>_phenopacket.json`` and maybe a PDF.

    Returns
    -------
    dict
        ``html``, ``phenopacket`` and ``pdf`` paths (``pdf`` is ``None`` when not made) and
        ``pdf_note``: why there is no PDF (no renderer installed offline), or ``""``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    text = report_html(case, secondary, top=top)
    html_path = folder / f"{case.proband}_report.html"
    with atomic_file(html_path, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    packet_path = folder / f"{case.proband}_phenopacket.json"
    message = to_phenopacket(case, secondary, packet=packet)
    write_json(packet_path, json_format.MessageToDict(message))
    pdf_path, note = None, ""
    if pdf:
        renderer = pdf_renderer()
        if renderer is None:
            note = (
                "no PDF: neither Chromium nor WeasyPrint is installed; print the HTML from a "
                "browser, or install Debian's chromium to get PDFs"
            )
        else:
            pdf_path = folder / f"{case.proband}_report.pdf"
            _pdf(text, pdf_path, renderer)
    return {"html": html_path, "phenopacket": packet_path, "pdf": pdf_path, "pdf_note": note}
