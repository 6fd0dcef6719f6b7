"""The ACMG criteria panel, driven without a browser: set `.value`, read the shown result."""

from __future__ import annotations

import pytest

from workbench.errors import InputError
from workbench.interpret.acmg import CRITERIA, Evidence, classify
from workbench.widgets.acmg import AcmgPanel, classification_html


def _table5(panel) -> str:
    """The Table 5 class as shown (the text between the label and the dash)."""
    text = panel.result.value
    return text.split("<b>Table 5:</b> ", 1)[1].split(" &mdash;", 1)[0]


def test_one_checkbox_and_strength_per_criterion_grouped_by_direction():
    panel = AcmgPanel()
    assert set(panel.checkboxes) == set(panel.strengths) == set(CRITERIA)
    columns = panel.children[0].children
    pathogenic = [row.children[0].description for row in columns[0].children[1:]]
    benign = [row.children[0].description for row in columns[1].children[1:]]
    assert pathogenic == [c for c in CRITERIA if c.startswith("P")]
    assert benign == [c for c in CRITERIA if c.startswith("B")]
    assert not any(box.value for box in panel.checkboxes.values())
    assert "No criteria ticked" in panel.result.value
    assert panel.classification is None
    assert panel.strengths["BA1"].disabled  # stand-alone only
    assert not panel.strengths["PM2"].disabled


def test_computed_criteria_are_preticked_with_their_notes():
    note = "stop_gained is a null variant"
    panel = AcmgPanel([Evidence("PVS1", note=note), Evidence("PM2", "supporting", note="absent")])
    assert panel.checkboxes["PVS1"].value and panel.checkboxes["PM2"].value
    assert panel.strengths["PM2"].value == "supporting"
    assert note in panel.notes["PVS1"].value
    assert note in panel.checkboxes["PVS1"].tooltip
    assert "computed" in panel.notes["PM2"].value
    assert [e.source for e in panel.evidence] == ["computed", "computed"]
    assert _table5(panel) == "Uncertain significance"
    assert "9 &rarr; Likely pathogenic" in panel.result.value


def test_ticking_boxes_updates_the_shown_class():
    panel = AcmgPanel(["PVS1"])
    assert _table5(panel) == "Uncertain significance"
    panel.checkboxes["PP3"].value = True
    assert _table5(panel) == "Uncertain significance"
    assert "The two views differ" in panel.result.value
    assert "Likely pathogenic" in panel.result.value
    panel.checkboxes["PS2"].value = True
    assert _table5(panel) == "Pathogenic"
    assert "rule i-a" in panel.result.value
    panel.checkboxes["BA1"].value = True
    assert _table5(panel) == "Uncertain significance"
    assert "contradictory" in panel.result.value
    panel.checkboxes["BA1"].value = False
    panel.checkboxes["PS2"].value = False
    panel.checkboxes["PP3"].value = False
    panel.checkboxes["PVS1"].value = False
    assert "No criteria ticked" in panel.result.value


def test_strength_dropdown_applies_a_modifier():
    panel = AcmgPanel([Evidence("PVS1", note="null"), "PM2"])
    assert _table5(panel) == "Likely pathogenic"
    panel.strengths["PM2"].value = "supporting"
    assert _table5(panel) == "Uncertain significance"
    assert [e.label for e in panel.evidence] == ["PVS1", "PM2_Supporting"]
    panel.strengths["PVS1"].value = "strong"
    pvs1 = panel.evidence[0]
    assert (pvs1.label, pvs1.source) == ("PVS1_Strong", "user")
    assert "set by the user" in pvs1.note
    assert panel.classification == classify(panel.evidence)


def test_set_evidence_resets_the_panel():
    panel = AcmgPanel(["PVS1", "PS2", "PM2"])
    assert _table5(panel) == "Pathogenic"
    panel.set_evidence([Evidence("BS1", "supporting"), "BP4"])
    assert [e.label for e in panel.evidence] == ["BS1_Supporting", "BP4"]
    assert _table5(panel) == "Likely benign"
    assert not panel.checkboxes["PVS1"].value
    assert panel.strengths["PM2"].value == "moderate"


def test_panel_rejects_bad_evidence():
    with pytest.raises(InputError):
        AcmgPanel(["PVS1", "PVS1_Strong"])
    with pytest.raises(InputError):
        classification_html("Pathogenic")


def test_classification_html_escapes_and_omits_agreement():
    shown = classification_html(classify(["PVS1", "PS2", "PM2"]))
    assert "Pathogenic" in shown
    assert "differ" not in shown
    assert "≥1 strong" in shown
