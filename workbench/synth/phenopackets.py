"""Phenopacket v2 files for the probands and families of a synthetic cohort.

One ``<person_id>.json`` Phenopacket per proband and one ``family_<family_id>.json`` Family
per family, written with the GA4GH ``phenopackets`` package (protobuf) and its canonical JSON
mapping (lowerCamelCase field names). The files carry what a referral carries — the subject
(by pseudonymous person id, never a national id), sex, age, observed and excluded HPO terms,
the indication for testing and the pedigree — and leave the diagnosis out: finding it is the
exercise. The indication goes into an ``Interpretation`` whose progress status is
``IN_PROGRESS`` and which has no diagnosis (Phenopacket has no free-text description field).

The ``phenopackets`` package does not check HPO ids or labels; :func:`write_phenopackets` and
the readers do, against the HPO release ``hpo3`` ships.

References
----------
Jacobsen et al., "The GA4GH Phenopacket schema defines a computable representation of
clinical data", Nat Biotechnol 2022;40:817–820.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp

from .. import hpo
from ..errors import InputError
from ..io import write_json

__all__ = [
    "SCHEMA_VERSION",
    "read_family",
    "read_phenopacket",
    "write_phenopackets",
]

SCHEMA_VERSION = "2.0"
_CREATED_BY = "workbench.synth (synthetic cohort generator)"


def _pp():
    import phenopackets

    return phenopackets


def _parse_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as e:
        raise InputError(f"expected reference_date as 'YYYY-MM-DD', got {value!r}") from e


def _meta_data(created: dt.date):
    pp = _pp()
    stamp = Timestamp()
    stamp.FromDatetime(dt.datetime(created.year, created.month, created.day, tzinfo=dt.UTC))
    return pp.MetaData(
        created=stamp,
        created_by=_CREATED_BY,
        phenopacket_schema_version=SCHEMA_VERSION,
        resources=[
            pp.Resource(
                id="hp",
                name="human phenotype ontology",
                url="http://purl.obolibrary.org/obo/hp.owl",
                version=hpo.version(),
                namespace_prefix="HP",
                iri_prefix="http://purl.obolibrary.org/obo/HP_",
            ),
        ],
    )


def _sex(value):
    pp = _pp()
    return {"male": pp.MALE, "female": pp.FEMALE}.get(str(value), pp.UNKNOWN_SEX)


def _individual(person, reference: dt.date):
    pp = _pp()
    age = reference.year - int(person["birth_year"])
    if age < 0:
        raise InputError(
            f"person {person['person_id']} is born in {person['birth_year']}, after the "
            f"reference date {reference}; use a later reference_date"
        )
    return pp.Individual(
        id=str(person["person_id"]),
        sex=_sex(person["sex"]),
        time_at_last_encounter=pp.TimeElement(age=pp.Age(iso8601duration=f"P{age}Y")),
    )


def _features(rows: pd.DataFrame):
    pp = _pp()
    return [
        pp.PhenotypicFeature(
            type=pp.OntologyClass(id=str(r.hpo_id), label=str(r.label)),
            excluded=bool(r.excluded),
        )
        for r in rows.itertuples(index=False)
    ]


def _opt(value) -> str:
    return "" if value is None or pd.isna(value) else str(value)


def write_phenopackets(
    folder,
    *,
    people: pd.DataFrame,
    phenotypes: pd.DataFrame,
    cases: pd.DataFrame,
    families: pd.DataFrame,
    reference_date: dt.date | str,
) -> None:
    """Write one Phenopacket per proband and one Family per family into ``folder``.

    Parameters
    ----------
    folder
        Usually ``<cohort>/phenopackets`` (created if missing).
    people
        The people table (:data:`workbench.synth.model.PEOPLE_COLUMNS`).
    phenotypes
        ``person_id, hpo_id, label, excluded`` (from ``ClinicalPlan.phenotypes``).
    cases
        ``family_id, mode`` (from ``ClinicalPlan.cases``); recessive homozygous cases are
        recorded as having consanguineous parents, as a clinician would note it.
    families
        ``family_id, proband_id, indication`` (from ``ClinicalPlan.families``).
    reference_date
        The date of the files' ``created`` stamp and of the ages; no wall-clock time is used,
        so equal inputs give byte-identical files.

    Raises
    ------
    InputError
        An HPO term does not exist or its label is not the ontology's, a proband is not in
        ``people``, or a column is missing.
    """
    for name, df, cols in (
        ("people", people, ("person_id", "family_id", "father_id", "mother_id", "sex")),
        ("phenotypes", phenotypes, ("person_id", "hpo_id", "label", "excluded")),
        ("cases", cases, ("family_id", "mode")),
        ("families", families, ("family_id", "proband_id", "indication")),
    ):
        if not isinstance(df, pd.DataFrame):
            raise InputError(f"expected {name} as a pandas DataFrame, got {type(df).__name__}")
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise InputError(f"{name} lacks columns {missing}")
    if "birth_year" not in people.columns or "affected" not in people.columns:
        raise InputError("people lacks birth_year or affected; use the full people table")
    hpo.validate_terms(zip(phenotypes["hpo_id"], phenotypes["label"], strict=True))
    reference = _parse_date(reference_date)
    pp = _pp()
    folder = Path(folder)
    meta = _meta_data(reference)
    by_id = people.set_index("person_id", drop=False)
    consanguineous = set(cases.loc[cases["mode"] == "recessive_homozygous", "family_id"])
    features_of = {pid: rows for pid, rows in phenotypes.groupby("person_id", sort=False)}

    for fam in families.sort_values("family_id").itertuples(index=False):
        if fam.proband_id not in by_id.index:
            raise InputError(
                f"family {fam.family_id} names proband {fam.proband_id}, who is not in people"
            )
        proband = by_id.loc[fam.proband_id]
        packet = pp.Phenopacket(
            id=str(fam.proband_id),
            subject=_individual(proband, reference),
            phenotypic_features=_features(features_of.get(fam.proband_id, phenotypes.iloc[0:0])),
            interpretations=[
                pp.Interpretation(
                    id=f"{fam.proband_id}-referral",
                    progress_status=pp.Interpretation.ProgressStatus.IN_PROGRESS,
                    summary=str(fam.indication),
                )
            ],
            meta_data=meta,
        )
        write_json(folder / f"{fam.proband_id}.json", _to_dict(packet))

        members = people[people["family_id"] == fam.family_id].sort_values("person_id")
        relatives = [
            pp.Phenopacket(
                id=str(r["person_id"]),
                subject=_individual(r, reference),
                phenotypic_features=_features(
                    features_of.get(r["person_id"], phenotypes.iloc[0:0])
                ),
                meta_data=meta,
            )
            for _, r in members.iterrows()
            if r["person_id"] != fam.proband_id
        ]
        status = pp.Pedigree.Person.AffectedStatus
        pedigree = pp.Pedigree(
            persons=[
                pp.Pedigree.Person(
                    family_id=str(fam.family_id),
                    individual_id=str(r["person_id"]),
                    paternal_id=_opt(r["father_id"]),
                    maternal_id=_opt(r["mother_id"]),
                    sex=_sex(r["sex"]),
                    affected_status=status.AFFECTED if bool(r["affected"]) else status.UNAFFECTED,
                )
                for _, r in members.iterrows()
            ]
        )
        family = pp.Family(
            id=str(fam.family_id),
            proband=packet,
            relatives=relatives,
            consanguinous_parents=fam.family_id in consanguineous,
            pedigree=pedigree,
            meta_data=meta,
        )
        write_json(folder / f"family_{fam.family_id}.json", _to_dict(family))


def _to_dict(message) -> dict:
    return json_format.MessageToDict(message)


def _validate(packets) -> None:
    pairs = [(f.type.id, f.type.label) for p in packets for f in p.phenotypic_features]
    hpo.validate_terms(pairs)


def _parse(path, message):
    path = Path(path)
    kind = type(message).__name__
    try:
        text = path.read_text(encoding="utf-8")
        value = json.loads(text)
        if not isinstance(value, dict):  # json_format would take a list as an empty message
            raise InputError(
                f"{path} holds a JSON {type(value).__name__}, not an object; a {kind} v2 file "
                "is one JSON object"
            )
        json_format.Parse(text, message)
    except FileNotFoundError as e:
        raise InputError(f"{path} does not exist; give the path of a phenopacket JSON") from e
    except (json_format.ParseError, json.JSONDecodeError, UnicodeDecodeError) as e:
        detail = " ".join(str(e).split())
        raise InputError(f"{path} is not a valid {kind} v2 JSON: {detail}") from e
    return message


def read_phenopacket(path):
    """Read a Phenopacket v2 JSON file and check its HPO terms.

    Raises
    ------
    InputError
        The file is missing or not a Phenopacket, or an HPO term is unknown or mislabelled
        (the message names the term).
    """
    packet = _parse(path, _pp().Phenopacket())
    _validate([packet])
    return packet


def read_family(path):
    """Read a Family JSON file (proband and relatives) and check every HPO term in it."""
    family = _parse(path, _pp().Family())
    _validate([family.proband, *family.relatives])
    return family
