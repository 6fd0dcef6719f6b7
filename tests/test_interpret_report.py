"""The report draft (HTML, PDF when possible) and the Phenopacket interpretation round trip."""

from __future__ import annotations

import json
import shutil

import phenopackets as pp
import pytest
from google.protobuf import json_format

import workbench
from workbench.errors import InputError
from workbench.interpret import interpret_case
from workbench.interpret import report as report_module
from workbench.interpret.report import (
    pdf_renderer,
    report_context,
    report_html,
    to_phenopacket,
    write_report,
)
from workbench.interpret.secondary import secondary_findings
from workbench.synth.phenopackets import read_phenopacket


@pytest.fixture(scope="module")
def world(tiny_cohort_path, tmp_path_factory):
    dest = tmp_path_factory.mktemp("report") / "cohort"
    shutil.copytree(tiny_cohort_path, dest)
    cohort = workbench.open_cohort(dest, verify=False)
    cases = cohort.truth()["cases"]
    case = cases[cases["mode"] == "x_linked"].iloc[0]  # dr.jensen's first patient
    s = cohort.session(user="dr.jensen", purpose=workbench.Treatment(patient=case.proband_id))
    result = interpret_case(s, case.proband_id)
    found = secondary_findings(s, case.proband_id)
    packet = s.phenopacket(case.proband_id)
    s.close()
    return {"case": case, "result": result, "secondary": found, "packet": packet}


def test_report_has_every_section_and_both_views(world):
    r = world["result"]
    text = report_html(r, world["secondary"])
    for heading in (
        "Indication",
        "Phenotype",
        "Primary findings",
        "Secondary findings",
        "Methods",
        "Limitations",
    ):
        assert f"<h2>{heading}</h2>" in text
    assert r.indication.split(";")[0] in text
    assert r.labels[r.terms[0]] in text
    top = r.ranking.iloc[0]
    assert top.gene == world["case"].gene
    assert "Table 5 view:" in text and "Points view:" in text
    assert "PVS1" in text or "PS2" in text or "PM2" in text
    assert "synthetic" in text.lower() and "cooperative" in text
    assert "<script" not in text.lower() and "http" not in text.lower()


def test_secondary_sentence_follows_the_consent(world):
    text = report_html(world["result"], world["secondary"])
    assert world["secondary"].sentence in text.replace("&#39;", "'")
    unrequested = report_html(world["result"], None)
    assert "not requested" in unrequested


def test_context_is_plain_values(world):
    ctx = report_context(world["result"], world["secondary"])
    json.dumps(ctx, default=str)
    assert ctx["details"][0]["evidence"]
    assert ctx["analysis"] in ("trio", "family")


def test_phenopacket_round_trip(world, tmp_path):
    r = world["result"]
    message = to_phenopacket(r, world["secondary"], packet=world["packet"])
    path = tmp_path / "p.json"
    path.write_text(json_format.MessageToJson(message), encoding="utf-8")
    back = read_phenopacket(path)  # parses and checks the HPO terms
    assert back == message
    interp = next(i for i in back.interpretations if i.id.endswith("genome-analysis"))
    assert interp.progress_status == pp.Interpretation.ProgressStatus.Value("SOLVED")
    assert interp.diagnosis.disease.id == world["case"].disease_id
    gi = interp.diagnosis.genomic_interpretations[0]
    vi = gi.variant_interpretation
    vid = r.ranking.variants.iat[0].split(",")[0]
    assert pp.AcmgPathogenicityClassification.Name(vi.acmg_pathogenicity_classification) == (
        r.classifications[vid].acmg_enum
    )
    contig, pos, change = vid.split(":")
    vcf = vi.variation_descriptor.vcf_record
    assert (vcf.chrom, vcf.pos, f"{vcf.ref}>{vcf.alt}") == (contig, int(pos), change)
    assert vi.variation_descriptor.gene_context.symbol == world["case"].gene
    assert vi.variation_descriptor.allelic_state.label == "hemizygous"
    # the referral interpretation of the generator is kept beside the new one
    assert any(i.id.endswith("-referral") for i in back.interpretations)
    again = to_phenopacket(r, world["secondary"], packet=json_format.MessageToDict(back))
    assert len(again.interpretations) == len(back.interpretations)


def test_write_report_without_a_pdf_renderer_says_so(world, tmp_path, monkeypatch):
    monkeypatch.setattr(report_module, "pdf_renderer", lambda: None)
    out = write_report(world["result"], world["secondary"], tmp_path, packet=world["packet"])
    assert out["html"].is_file() and out["phenopacket"].is_file()
    assert out["pdf"] is None and "no PDF" in out["pdf_note"]
    first = out["html"].read_bytes()
    write_report(world["result"], world["secondary"], tmp_path, packet=world["packet"])
    assert out["html"].read_bytes() == first  # deterministic


@pytest.mark.skipif(pdf_renderer() is None, reason="no chromium or weasyprint installed")
def test_pdf_when_a_renderer_is_installed(world, tmp_path):
    out = write_report(world["result"], world["secondary"], tmp_path)
    assert out["pdf"].read_bytes()[:4] == b"%PDF"


def test_bad_inputs(world):
    with pytest.raises(InputError, match="CaseInterpretation"):
        report_html({"not": "a case"})
    with pytest.raises(InputError, match="top"):
        report_html(world["result"], top=-1)
    other = world["secondary"].__class__(person="P99999", status="declined")
    with pytest.raises(InputError, match="secondary findings are of P99999"):
        report_html(world["result"], other)


def test_a_real_case_narrows_to_its_candidates(world):
    case = world["result"]
    steps = case.funnel
    assert (steps.variants.diff().dropna() <= 0).all()
    assert (steps.genes.diff().dropna() <= 0).all()
    last = steps.iloc[-1]
    assert last.genes == case.candidates.gene.nunique() > 0
    assert last.variants == case.candidates.variant_id.nunique()
    assert steps.variants.iloc[0] == case.filtered.table.variant_id.nunique()


def test_the_report_and_the_case_review_show_the_funnel(world):
    from workbench.widgets.dashboards import funnel_html

    case = world["result"]
    steps = case.funnel
    assert report_context(case, None)["funnel"] == steps.to_dict("records")
    text = report_html(case, None)
    assert "Filtering: what was left after each step" in text
    html = funnel_html(case)
    for r in steps.itertuples(index=False):
        assert f"<td>{r.step}</td>" in text and f"<td>{r.step}</td>" in html
        assert f"{r.variants:,}</td>" in html
