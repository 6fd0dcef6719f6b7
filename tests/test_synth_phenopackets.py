"""Tests for workbench.synth.phenopackets and the HPO checks in workbench.hpo."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from google.protobuf import json_format

from workbench import hpo
from workbench.errors import InputError
from workbench.io import file_sha256
from workbench.synth import clinical, genes, phenopackets

REFERENCE_DATE = "2026-01-01"


def _people():
    """Three trios and a quad, plus two unrelated adults."""
    rows = []
    for i in range(4):
        fid, base = f"F{i + 1:04d}", 10 * i
        fa, mo, pr = f"P{base + 1:05d}", f"P{base + 2:05d}", f"P{base + 3:05d}"
        rows += [
            (fa, fid, None, None, "male", "father", False, 1980),
            (mo, fid, None, None, "female", "mother", False, 1982),
            (pr, fid, fa, mo, ("male", "female")[i % 2], "proband", True, 2016 + i),
        ]
        if i == 3:
            rows.append((f"P{base + 4:05d}", fid, fa, mo, "male", "sibling", False, 2012))
    rows += [("P00100", None, None, None, "female", "unrelated", False, 1960)]
    rows += [("P00101", None, None, None, "male", "unrelated", False, 1955)]
    people = pd.DataFrame(
        rows,
        columns=["person_id", "family_id", "father_id", "mother_id", "sex", "role", "affected",
                 "birth_year"],
    )  # fmt: skip
    return people.assign(population="NOR", region="Hovedstaden", hospital="Rigshospitalet")


@pytest.fixture(scope="module")
def cohort():
    people = _people()
    catalogue = genes.gene_catalogue(preset="tiny", rng=np.random.default_rng(3))
    plan = clinical.plan_cases(
        people=people, catalogue=catalogue, rng=np.random.default_rng(4), reference_year=2026
    )
    return people, plan


def _write(folder, cohort, **overrides):
    people, plan = cohort
    kwargs = dict(
        people=people,
        phenotypes=plan.phenotypes,
        cases=plan.cases,
        families=plan.families,
        reference_date=REFERENCE_DATE,
    )
    kwargs.update(overrides)
    phenopackets.write_phenopackets(folder, **kwargs)


@pytest.fixture(scope="module")
def folder(tmp_path_factory, cohort):
    out = tmp_path_factory.mktemp("phenopackets")
    _write(out, cohort)
    return out


def test_one_phenopacket_per_proband_and_one_family_file_per_family(folder, cohort):
    _, plan = cohort
    names = sorted(p.name for p in folder.iterdir())
    expected = sorted(
        [f"{p}.json" for p in plan.families.proband_id]
        + [f"family_{f}.json" for f in plan.families.family_id]
    )
    assert names == expected


def test_phenopacket_round_trip(folder, cohort):
    people, plan = cohort
    for fam in plan.families.itertuples(index=False):
        path = folder / f"{fam.proband_id}.json"
        packet = phenopackets.read_phenopacket(path)
        # write → read → equal: the parsed message serialises back to the file's JSON
        assert json_format.MessageToDict(packet) == json.loads(path.read_text(encoding="utf-8"))
        person = people.set_index("person_id").loc[fam.proband_id]
        assert packet.id == packet.subject.id == fam.proband_id
        assert packet.subject.sex == (1 if person.sex == "female" else 2)  # FEMALE=1, MALE=2
        age = 2026 - int(person.birth_year)
        assert packet.subject.time_at_last_encounter.age.iso8601duration == f"P{age}Y"
        expected = plan.phenotypes[plan.phenotypes.person_id == fam.proband_id]
        got = [(f.type.id, f.type.label, f.excluded) for f in packet.phenotypic_features]
        assert got == list(zip(expected.hpo_id, expected.label, expected.excluded, strict=True))
        (interp,) = packet.interpretations
        assert interp.summary == fam.indication and not interp.HasField("diagnosis")
        assert len(packet.diseases) == 0
        meta = packet.meta_data
        assert meta.phenopacket_schema_version == "2.0"
        assert meta.created.ToJsonString() == "2026-01-01T00:00:00Z"
        assert [(r.id, r.version) for r in meta.resources] == [("hp", hpo.version())]


def test_files_never_reveal_the_diagnosis(folder, cohort):
    _, plan = cohort
    for case in plan.cases.itertuples(index=False):
        for path in (folder / f"{case.proband_id}.json", folder / f"family_{case.family_id}.json"):
            text = path.read_text(encoding="utf-8")
            for secret in (case.gene, case.disease_id, case.disease_name):
                if isinstance(secret, str):
                    assert secret not in text, (path.name, secret)


def test_family_file_holds_the_pedigree(folder, cohort):
    people, plan = cohort
    assert "recessive_homozygous" in set(plan.cases["mode"])
    for case in plan.cases.itertuples(index=False):
        family = phenopackets.read_family(folder / f"family_{case.family_id}.json")
        members = people[people.family_id == case.family_id]
        assert family.id == case.family_id and family.proband.id == case.proband_id
        assert sorted(r.id for r in family.relatives) == sorted(
            set(members.person_id) - {case.proband_id}
        )
        persons = {p.individual_id: p for p in family.pedigree.persons}
        assert set(persons) == set(members.person_id)
        proband = persons[case.proband_id]
        assert proband.affected_status == proband.AFFECTED
        row = members.set_index("person_id").loc[case.proband_id]
        assert (proband.paternal_id, proband.maternal_id) == (row.father_id, row.mother_id)
        assert family.consanguinous_parents == (case.mode == "recessive_homozygous")


def test_output_is_byte_identical(tmp_path, folder, cohort):
    _write(tmp_path, cohort)
    for path in folder.iterdir():
        assert file_sha256(path) == file_sha256(tmp_path / path.name), path.name


def test_reading_a_mislabelled_term_names_it(tmp_path, folder, cohort):
    _, plan = cohort
    proband = plan.families.proband_id.iloc[0]
    data = json.loads((folder / f"{proband}.json").read_text(encoding="utf-8"))
    bad_id = data["phenotypicFeatures"][0]["type"]["id"]
    data["phenotypicFeatures"][0]["type"]["label"] = "Something else"
    (tmp_path / "bad.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(InputError, match=bad_id):
        phenopackets.read_phenopacket(tmp_path / "bad.json")
    data["phenotypicFeatures"][0]["type"] = {"id": "HP:9999999", "label": "Nothing"}
    (tmp_path / "bad.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(InputError, match="HP:9999999"):
        phenopackets.read_phenopacket(tmp_path / "bad.json")


def test_reading_something_else_is_an_input_error(tmp_path):
    (tmp_path / "x.json").write_text('{"subject": 3}', encoding="utf-8")
    with pytest.raises(InputError, match="not a valid Phenopacket"):
        phenopackets.read_phenopacket(tmp_path / "x.json")
    with pytest.raises(InputError, match="does not exist"):
        phenopackets.read_phenopacket(tmp_path / "missing.json")


def test_writing_refuses_bad_terms(tmp_path, cohort):
    _, plan = cohort
    bad = plan.phenotypes.copy()
    bad.loc[bad.index[0], "label"] = "Seizures!"
    with pytest.raises(InputError, match=bad.hpo_id.iloc[0]):
        _write(tmp_path, cohort, phenotypes=bad)
    assert not list(tmp_path.iterdir())


def test_hpo_term_checks():
    assert hpo.label("HP:0001250") == "Seizure"
    hpo.validate_terms([("HP:0001250", "Seizure"), ("HP:0001249", "Intellectual disability")])
    with pytest.raises(InputError, match="seven digits"):
        hpo.term("HP:1250")
    with pytest.raises(InputError, match="does not exist"):
        hpo.term("HP:9999999")
    with pytest.raises(InputError, match="OMIM"):
        hpo.disease("607208")
    assert hpo.is_a("HP:0002069", "HP:0001250")  # a tonic-clonic seizure is a seizure
    assert not hpo.is_a("HP:0001250", "HP:0002069")
    assert hpo.gene_has_disease("SCN1A", "OMIM:607208")
    assert not hpo.gene_has_disease("SCN1A", "OMIM:219700")  # cystic fibrosis
