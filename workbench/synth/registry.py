"""Write a synthetic cohort's registry and its separate keyholder store.

:func:`write_registry` produces ``registry.sqlite``, the genome centre's pseudonymised view
(schema in :mod:`workbench.access.schema`): samples, families, phenotypes, a versioned consent
history for every person, datasets with DUO codes, principals, care relationships, projects
and grants, and an empty audit log. :func:`write_keyholder` produces ``keyholder/`` — the
hospital side: ``identity.sqlite`` (synthetic national ids ↔ internal person ids) and the
pseudonym HMAC key. The registry never contains a national id.

What the generator plants (so exercises and tests can rely on it)
-----------------------------------------------------------------
Consents (modelled on the Danish National Genome Center's written, dated, versioned form):
every person has version 1, signed by a guardian when the person was under 18 that year;
family members sign on the same day. About 12 % of people are given 1–2 later changes
(secondary-findings choice, recontact choice). Secondary findings at version 1: about 75 %
choose all four ACMG SF categories, 13 % a subset, 12 % none. About 85 % accept recontact.
About 6 % (at least one) end up registered with a research opt-out, half of them from the
start and half as a later version; about 1 % (at least one in cohorts of 10 or more) later
withdraw. The first proband under a clinician's care is always opted out and the second has
chosen no secondary findings, so care-versus-research and secondary-finding rules always have
a case to show.

Datasets (:data:`DATASETS`), one per line of the DUO matching rules: ``NGC-RD`` (HMB + NCU,
all family members), ``NGC-REF`` (GRU, unrelated people), ``EPI-DS`` (DS for epilepsy
MONDO:0005027, families whose indication mentions epilepsy or seizures, else the first
family), ``POP-ORIGINS`` (POA, unrelated people), ``NORDIC-COLLAB`` (HMB with IRB, COL, PUB and
a publication moratorium: a committee must decide) and ``LEGACY-BIOBANK`` (the obsolete
DUO:0000005, which must fail closed).

Principals (:data:`PRINCIPALS`), projects (:data:`PROJECTS`) and grants: see those tables.
All names are invented.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import re
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd

from ..access.schema import (
    SECONDARY_FINDING_CATEGORIES,
    connect,
    create_schema,
    parse_date,
)
from ..access.store import PSEUDONYM_KEY_FILE
from ..errors import InputError
from ..io import write_json
from .model import PEOPLE_COLUMNS

__all__ = [
    "DATASETS",
    "IDENTITY_FILE",
    "NATIONAL_ID_PATTERN",
    "PRINCIPALS",
    "PROJECTS",
    "write_keyholder",
    "write_registry",
]

#: File name of the identity database inside ``keyholder/``.
IDENTITY_FILE = "identity.sqlite"

#: A CPR-shaped string (``DDMMYY-SSSS``, dash optional). Anything matching it must never
#: appear in the registry.
NATIONAL_ID_PATTERN = re.compile(r"(?<!\d)\d{6}-?\d{4}(?!\d)")

_STEWARD = "steward.larsen"

#: The principals every synthetic registry contains:
#: (user_id, display_name, role, affiliation, for-profit organisation, accepted terms,
#: researcher status asserted by, hospital of a clinician).
PRINCIPALS: tuple[tuple, ...] = (
    ("dr.jensen", "Dr. Ane Jensen", "clinician", "member@rigshospitalet.dk", False,
     None, None, "Rigshospitalet"),
    ("dr.nielsen", "Dr. Bo Nielsen", "clinician", "member@auh.dk", False,
     None, None, "Aarhus Universitetshospital"),
    ("dr.hansen", "Dr. Cai Hansen", "clinician", "member@ouh.dk", False,
     None, None, "Odense Universitetshospital"),
    ("lab.researcher", "Dana Holm", "researcher", "member@ku.dk", False,
     "ngc-research-terms-v2", "so", None),
    ("meth.researcher", "Emil Dahl", "researcher", "member@dtu.dk", False,
     "ngc-research-terms-v2", "so", None),
    ("anc.researcher", "Freja Lund", "researcher", "member@au.dk", False,
     "ngc-research-terms-v2", "so", None),
    ("industry.researcher", "Gustav Berg", "researcher", "member@nordbiotek.example", True,
     "ngc-research-terms-v2", "so", None),
    ("new.researcher", "Hanne Krog", "researcher", "member@sdu.dk", False,
     None, None, None),
    ("teacher.berg", "Ida Berg", "trainer", "faculty@ku.dk", False,
     "workbench-teaching-terms-v1", None, None),
    ("student.ali", "Jonas Ali", "student", "student@ku.dk", False,
     "workbench-teaching-terms-v1", None, None),
    ("student.mette", "Mette Vang", "student", "student@ku.dk", False,
     None, None, None),
    (_STEWARD, "Karen Larsen", "steward", "member@ngc.dk", False,
     "ngc-staff-terms-v1", None, None),
)  # fmt: skip

_HMB, _GRU, _DS, _POA = "DUO:0000006", "DUO:0000042", "DUO:0000007", "DUO:0000011"
_NCU, _IRB, _COL, _PUB, _MOR = (
    "DUO:0000046",
    "DUO:0000021",
    "DUO:0000020",
    "DUO:0000019",
    "DUO:0000024",
)
_OBSOLETE_GRU_CC = "DUO:0000005"
_EPILEPSY = "MONDO:0005027"

#: Datasets: (dataset_id, title, permission, disease term, modifiers, custodian).
DATASETS: tuple[tuple, ...] = (
    ("NGC-RD", "Rare-disease families, whole genomes", _HMB, None, (_NCU,),
     "Nationalt Genom Center (synthetic)"),
    ("NGC-REF", "Population reference genomes, unrelated people", _GRU, None, (),
     "Nationalt Genom Center (synthetic)"),
    ("EPI-DS", "Epilepsy families", _DS, _EPILEPSY, (),
     "Nationalt Genom Center (synthetic)"),
    ("POP-ORIGINS", "Population origins panel", _POA, None, (),
     "Nationalt Genom Center (synthetic)"),
    ("NORDIC-COLLAB", "Nordic collaborative cohort", _HMB, None, (_IRB, _COL, _PUB, _MOR),
     "Nordic rare-disease consortium (synthetic)"),
    ("LEGACY-BIOBANK", "Legacy biobank collection (pre-DUO consent wording)", _OBSOLETE_GRU_CC,
     None, (), "Regional biobank (synthetic)"),
)  # fmt: skip

#: Projects: (project_id, title, purpose, commercial, ethics approval id, lead user,
#: approved days before the reference date).
PROJECTS: tuple[tuple, ...] = (
    ("EPI-7", "Genetic architecture of childhood epilepsy",
     {"kind": "disease", "disease": _EPILEPSY}, False, "H-25000117", "lab.researcher", 300),
    ("METH-2", "Benchmarking small-variant callers", {"kind": "methods"}, False,
     "H-23000452", "meth.researcher", 820),
    ("PHARMA-1", "Drug-target discovery with an industry partner", {"kind": "hmb"}, True,
     "H-25000683", "industry.researcher", 200),
    ("ANC-3", "Population structure of Denmark", {"kind": "ancestry"}, False, None,
     "anc.researcher", 150),
)  # fmt: skip

#: Grants: (project, dataset, user, granted / expires / revoked as days relative to the
#: reference date, revoked None when in force).
_GRANTS: tuple[tuple, ...] = (
    ("EPI-7", "EPI-DS", "lab.researcher", -290, 440, None),
    ("EPI-7", "NGC-RD", "lab.researcher", -290, 440, None),
    ("EPI-7", "NORDIC-COLLAB", "lab.researcher", -120, 610, None),
    ("EPI-7", "LEGACY-BIOBANK", "lab.researcher", -120, 610, None),
    ("METH-2", "NGC-REF", "meth.researcher", -800, -70, None),
    ("PHARMA-1", "NGC-RD", "industry.researcher", -190, 540, None),
    ("PHARMA-1", "NGC-REF", "industry.researcher", -190, 540, None),
    ("ANC-3", "POP-ORIGINS", "anc.researcher", -140, 590, None),
    ("ANC-3", "NGC-RD", "anc.researcher", -140, 590, None),
    ("ANC-3", "NGC-REF", "anc.researcher", -140, 590, -20),
)

# Consent form versions by the date they came into use (the form a version was signed on).
_FORMS = (
    ("0001-01-01", "NGC-WGS-1.0"),
    ("2022-07-01", "NGC-WGS-1.1"),
    ("2024-03-01", "NGC-WGS-2.0"),
)

_CONSENT_WINDOW_DAYS = 4 * 365  # version 1 falls in the four years before the reference date
_RECENT_DAYS = 30  # … and at least this long before it, leaving room for later versions
_P_SF_NONE, _P_SF_SUBSET, _P_RECONTACT = 0.12, 0.13, 0.85
_P_OPT_OUT, _P_WITHDRAWN, _P_CHANGED = 0.06, 0.01, 0.12

_NOTES = {
    "initial": "initial written consent",
    "sf": "changed secondary-findings choice",
    "recontact": "changed recontact choice",
    "opt_out": "registered research opt-out (own treatment only) in the tissue-use register",
    "withdraw": "withdrew consent",
}


# -- input checks ---------------------------------------------------------------------------


def _check_rng(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise InputError(
            f"rng must be a numpy.random.Generator, got {type(rng).__name__}; "
            "pass numpy.random.default_rng(seed)"
        )
    return rng


def _require_columns(df, columns, *, name: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            f"{name} needs columns {list(columns)}; missing {missing}; "
            "see workbench.synth.model for the table contract"
        )


def _none_if_missing(value):
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


def _check_people(people) -> pd.DataFrame:
    _require_columns(people, PEOPLE_COLUMNS, name="people")
    if len(people) == 0:
        raise InputError("people has no rows; a registry needs at least one person")
    ids = people["person_id"]
    if ids.duplicated().any():
        dup = sorted(set(ids[ids.duplicated()]))[:5]
        raise InputError(f"people.person_id must be unique; repeated: {dup}")
    bad_sex = sorted(set(people["sex"]) - {"female", "male"})
    if bad_sex:
        raise InputError(f"people.sex must be 'female' or 'male', found {bad_sex}")
    return people.reset_index(drop=True)


def _check_families(families, people: pd.DataFrame) -> pd.DataFrame:
    _require_columns(families, ("family_id", "proband_id", "indication"), name="families")
    if families["family_id"].duplicated().any():
        raise InputError("families.family_id must be unique")
    person_family = dict(zip(people["person_id"], people["family_id"], strict=True))
    for fam, proband in zip(families["family_id"], families["proband_id"], strict=True):
        if person_family.get(proband, object()) != fam:
            raise InputError(
                f"family {fam} names proband {proband!r}, who is not a member of it in "
                "people; make families.proband_id a person whose family_id is that family"
            )
    known = set(families["family_id"])
    used = {f for f in people["family_id"] if _none_if_missing(f) is not None}
    if used - known:
        raise InputError(
            f"people refers to families missing from families: {sorted(used - known)[:5]}"
        )
    return families.reset_index(drop=True)


def _check_phenotypes(phenotypes, people: pd.DataFrame) -> pd.DataFrame:
    _require_columns(phenotypes, ("person_id", "hpo_id", "label", "excluded"), name="phenotypes")
    unknown = set(phenotypes["person_id"]) - set(people["person_id"])
    if unknown:
        raise InputError(f"phenotypes refer to people not in people: {sorted(unknown)[:5]}")
    if phenotypes.duplicated(["person_id", "hpo_id"]).any():
        raise InputError("phenotypes has repeated (person_id, hpo_id) rows; keep one per term")
    return phenotypes.reset_index(drop=True)


# -- consents -------------------------------------------------------------------------------


def _form_version(day: _dt.date) -> str:
    iso = day.isoformat()
    return [name for start, name in _FORMS if start <= iso][-1]


def _pick(candidates: list[str], k: int, rng, *, first=()) -> list[str]:
    """``k`` of ``candidates``: the ``first`` ones (when candidates), then a random draw."""
    pool = set(candidates)
    chosen = [c for c in first if c in pool][:k]
    taken = set(chosen)
    rest = [c for c in candidates if c not in taken]
    order = rng.permutation(len(rest))
    chosen += [rest[i] for i in order[: max(0, k - len(chosen))]]
    return chosen


def _random_subset(rng) -> list[str]:
    size = int(rng.integers(1, len(SECONDARY_FINDING_CATEGORIES)))
    idx = sorted(rng.choice(len(SECONDARY_FINDING_CATEGORIES), size=size, replace=False))
    return [SECONDARY_FINDING_CATEGORIES[i] for i in idx]


def _first_signing_dates(people, families, ref: _dt.date, rng) -> dict[str, _dt.date]:
    """Version-1 dates: one day per family (members sign together), one per other person."""
    window_start = ref - _dt.timedelta(days=_CONSENT_WINDOW_DAYS)
    latest = ref - _dt.timedelta(days=_RECENT_DAYS)

    def earliest(birth_year: int) -> _dt.date:
        # Signed at the earliest the year after birth (the registry keeps only birth years),
        # but never later than `latest`: a baby born last year still has a version 1.
        born = _dt.date(min(int(birth_year) + 1, latest.year), 1, 1)
        return min(max(window_start, born), latest)

    def draw(lo: _dt.date) -> _dt.date:
        return lo + _dt.timedelta(days=int(rng.integers(0, (latest - lo).days + 1)))

    birth = dict(zip(people["person_id"], people["birth_year"], strict=True))
    members: dict[str, list[str]] = {}
    for pid, fam in zip(people["person_id"], people["family_id"], strict=True):
        if _none_if_missing(fam) is not None:
            members.setdefault(fam, []).append(pid)
    dates: dict[str, _dt.date] = {}
    for fam in families["family_id"]:
        day = draw(max(earliest(birth[p]) for p in members[fam]))
        dates.update(dict.fromkeys(members[fam], day))
    for pid in people["person_id"]:
        if pid not in dates:
            dates[pid] = draw(earliest(birth[pid]))
    return dates


def _consent_rows(people, first_dates, care_probands, recorder, ref: _dt.date, rng) -> list:
    """Every consent version of every person, in people order then version order."""
    ids = list(people["person_id"])
    n = len(ids)
    # Exact counts rather than coin flips: small cohorts still show every kind of choice.
    sf_none = set(_pick(ids, round(_P_SF_NONE * n), rng, first=care_probands[1:2]))
    sf_subset = set(_pick([i for i in ids if i not in sf_none], round(_P_SF_SUBSET * n), rng))
    opt_out = _pick(ids, max(1, round(_P_OPT_OUT * n)), rng, first=care_probands[:1])
    opt_out_late, opt_out_first = set(opt_out[1::2]), set(opt_out[::2])
    n_withdrawn = max(1, round(_P_WITHDRAWN * n)) if n >= 10 else 0
    excluded = opt_out_late | opt_out_first | set(care_probands)
    spare = [i for i in ids if i not in excluded]
    withdrawn = set(_pick(spare, n_withdrawn, rng))
    # The showcase probands keep their planted choice: no later change undoes it.
    showcase = set(care_probands[:2])
    changed = set(_pick([i for i in ids if i not in showcase], round(_P_CHANGED * n), rng))
    recontact = rng.random(n) < _P_RECONTACT
    birth = dict(zip(people["person_id"], people["birth_year"], strict=True))

    rows = []
    for i, pid in enumerate(ids):
        if pid in sf_none:
            sf = []
        elif pid in sf_subset:
            sf = _random_subset(rng)
        else:
            sf = list(SECONDARY_FINDING_CATEGORIES)
        state = {
            "sf": sf,
            "recontact": int(recontact[i]),
            "opt_out": int(pid in opt_out_first),
            "withdrawn": 0,
        }
        events = []
        if pid in changed:
            kinds = ("sf", "recontact")
            n_changes = 1 if (pid in opt_out_late or pid in withdrawn) else int(rng.integers(1, 3))
            events += [kinds[int(k)] for k in rng.integers(0, 2, size=n_changes)]
        if pid in opt_out_late:
            events.append("opt_out")
        if pid in withdrawn:
            events.append("withdraw")
        first = first_dates[pid]
        span = (ref - first).days - 1  # later versions fall strictly between v1 and ref
        offsets = sorted(rng.choice(np.arange(1, span + 1), size=len(events), replace=False))
        days = [first] + [first + _dt.timedelta(days=int(o)) for o in offsets]
        for version, (kind, day) in enumerate(zip(["initial", *events], days, strict=True), 1):
            if kind == "sf":
                if len(state["sf"]) == len(SECONDARY_FINDING_CATEGORIES):
                    state["sf"] = [] if rng.random() < 0.5 else _random_subset(rng)
                else:
                    state["sf"] = list(SECONDARY_FINDING_CATEGORIES)
            elif kind == "recontact":
                state["recontact"] = 1 - state["recontact"]
            elif kind == "opt_out":
                state["opt_out"] = 1
            elif kind == "withdraw":
                state["withdrawn"], state["recontact"] = 1, 0
            rows.append(
                (
                    pid,
                    version,
                    day.isoformat(),
                    _form_version(day),
                    "guardian" if day.year - int(birth[pid]) < 18 else "self",
                    json.dumps(state["sf"]),
                    state["recontact"],
                    state["opt_out"],
                    state["withdrawn"],
                    recorder(pid, day) if version == 1 else _STEWARD,
                    _NOTES[kind],
                )
            )
    return rows


# -- care, datasets, grants -----------------------------------------------------------------


def _care_relationships(people, families, first_dates) -> list[tuple]:
    """Clinicians care for three families in four (the clinician of the proband's hospital
    when there is one, else in turn), from a month before the family's first consent.
    ``dr.jensen`` also had an ended referral to the first family someone else cares for."""
    clinicians = [(p[0], p[7]) for p in PRINCIPALS if p[2] == "clinician"]
    hospital = dict(zip(people["person_id"], people["hospital"], strict=True))
    members: dict[str, list[str]] = {}
    for pid, fam in zip(people["person_id"], people["family_id"], strict=True):
        if _none_if_missing(fam) is not None:
            members.setdefault(fam, []).append(pid)
    rows, referral_done = [], False
    pairs = zip(families["family_id"], families["proband_id"], strict=True)
    for i, (fam, proband) in enumerate(pairs):
        if i % 4 == 3:
            continue
        local = [c for c, h in clinicians if h == hospital[proband]]
        clinician = local[0] if local else clinicians[i % len(clinicians)][0]
        start = first_dates[proband] - _dt.timedelta(days=30)
        rows += [(clinician, pid, start.isoformat(), None) for pid in members[fam]]
        if clinician != "dr.jensen" and not referral_done:
            referral_done = True
            rows.append(
                (
                    "dr.jensen",
                    proband,
                    (start - _dt.timedelta(days=60)).isoformat(),
                    (start - _dt.timedelta(days=1)).isoformat(),
                )
            )
    return rows


def _dataset_members(people, families) -> dict[str, list[str]]:
    ids = list(people["person_id"])
    in_family = [p for p, f in zip(ids, people["family_id"], strict=True) if _none_if_missing(f)]
    unrelated = [p for p, r in zip(ids, people["role"], strict=True) if r == "unrelated"]
    epi = [
        f
        for f, ind in zip(families["family_id"], families["indication"], strict=True)
        if re.search(r"epilep|seizure", str(ind), re.IGNORECASE)
    ]
    if not epi and len(families):
        epi = [families["family_id"].iloc[0]]
    epi_set = set(epi)
    return {
        "NGC-RD": in_family,
        "NGC-REF": unrelated,
        "EPI-DS": [p for p, f in zip(ids, people["family_id"], strict=True) if f in epi_set],
        "POP-ORIGINS": unrelated,
        "NORDIC-COLLAB": unrelated[::2],
        "LEGACY-BIOBANK": unrelated[::3],
    }


def _days(ref: _dt.date, offset: int | None) -> str | None:
    return None if offset is None else (ref + _dt.timedelta(days=offset)).isoformat()


# -- writing ---------------------------------------------------------------------------------


def _remove_sqlite_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{path}{suffix}")


def _finish_sqlite(conn: sqlite3.Connection) -> None:
    """Leave one self-contained, canonical file: no WAL, pages rewritten in order."""
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("VACUUM")
    conn.close()


def write_registry(
    path: str | os.PathLike,
    *,
    people: pd.DataFrame,
    phenotypes: pd.DataFrame,
    families: pd.DataFrame,
    reference_date: str = "2026-01-01",
    rng: np.random.Generator,
) -> None:
    """Write ``registry.sqlite`` for a synthetic cohort (see the module docstring).

    Parameters
    ----------
    path
        The database file to write; replaced atomically (written beside it, then renamed).
    people
        One row per person with :data:`workbench.synth.model.PEOPLE_COLUMNS`.
    phenotypes
        Columns ``person_id``, ``hpo_id``, ``label``, ``excluded`` (bool: the feature was
        looked for and is absent).
    families
        Columns ``family_id``, ``proband_id``, ``indication``, optionally ``consanguineous``
        (bool; stored as unknown when absent).
    reference_date
        The cohort's "today" (ISO date). Every generated date lies on or before it, except
        grant expiries and a publication moratorium, which lie after it.
    rng
        The only source of randomness: the same inputs and generator state give a
        byte-identical file.

    Raises
    ------
    InputError
        If a table misses columns or refers to people or families that do not exist.
    """
    rng = _check_rng(rng)
    ref = _dt.date.fromisoformat(parse_date(reference_date, name="reference_date"))
    people = _check_people(people)
    families = _check_families(families, people)
    phenotypes = _check_phenotypes(phenotypes, people)
    late = people.loc[people["birth_year"].astype(int) >= ref.year, "person_id"]
    if len(late):
        raise InputError(
            f"people must be born before the reference date's year ({ref.year}); "
            f"{list(late[:5])} are not; move reference_date later"
        )

    first_dates = _first_signing_dates(people, families, ref, rng)
    care = _care_relationships(people, families, first_dates)
    proband_set = set(families["proband_id"])
    care_probands = list(
        dict.fromkeys(p for _, p, _, until in care if until is None and p in proband_set)
    )
    carer = {p: (u, since) for u, p, since, until in care if until is None}

    def recorder(pid: str, day: _dt.date) -> str:
        # The treating clinician records a cared-for patient's first form; otherwise NGC.
        if pid in carer and carer[pid][1] <= day.isoformat():
            return carer[pid][0]
        return _STEWARD

    consents = _consent_rows(people, first_dates, care_probands, recorder, ref, rng)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    _remove_sqlite_files(tmp)
    try:
        conn = connect(tmp, create=True)
        try:
            create_schema(conn, reference_date=ref.isoformat())
            _insert_all(conn, people, families, phenotypes, consents, care, ref)
            _finish_sqlite(conn)
        except BaseException:
            conn.close()
            raise
        os.replace(tmp, path)
    finally:
        _remove_sqlite_files(tmp)


def _insert_all(conn, people, families, phenotypes, consents, care, ref: _dt.date) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [("cohort_kind", "synthetic"), ("generator", "workbench.synth.registry")],
        )
        consang = (
            families["consanguineous"]
            if "consanguineous" in families.columns
            else [None] * len(families)
        )
        conn.executemany(
            "INSERT INTO families (family_id, proband_id, consanguineous, indication) "
            "VALUES (?, ?, ?, ?)",
            [
                (str(f), str(p), None if _none_if_missing(c) is None else int(bool(c)), str(i))
                for f, p, c, i in zip(
                    families["family_id"],
                    families["proband_id"],
                    consang,
                    families["indication"],
                    strict=True,
                )
            ],
        )
        conn.executemany(
            "INSERT INTO samples (person_id, family_id, father_id, mother_id, sex, birth_year, "
            "region, hospital, population, role, affected) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    str(r.person_id),
                    _none_if_missing(r.family_id),
                    _none_if_missing(r.father_id),
                    _none_if_missing(r.mother_id),
                    str(r.sex),
                    int(r.birth_year),
                    str(r.region),
                    str(r.hospital),
                    str(r.population),
                    str(r.role),
                    int(bool(r.affected)),
                )
                for r in people.itertuples(index=False)
            ],
        )
        conn.executemany(
            "INSERT INTO phenotypes (person_id, hpo_id, label, excluded) VALUES (?, ?, ?, ?)",
            [
                (str(p), str(h), str(lab), int(bool(x)))
                for p, h, lab, x in zip(
                    phenotypes["person_id"],
                    phenotypes["hpo_id"],
                    phenotypes["label"],
                    phenotypes["excluded"],
                    strict=True,
                )
            ],
        )
        terms_on = (ref - _dt.timedelta(days=400)).isoformat()
        conn.executemany(
            "INSERT INTO principals (user_id, display_name, role, affiliation, "
            "organisation_for_profit, accepted_terms, accepted_terms_by, accepted_terms_on, "
            "researcher_status_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (u, name, role, aff, int(profit), terms, "self" if terms else None,
                 terms_on if terms else None, status)
                for u, name, role, aff, profit, terms, status, _ in PRINCIPALS
            ],
        )  # fmt: skip
        conn.executemany(
            "INSERT INTO consents (person_id, version, signed_on, form_version, signed_by, "
            "secondary_findings, recontact, research_opt_out, withdrawn, recorded_by, note) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            consents,
        )
        conn.executemany(
            "INSERT INTO care_relationships (user_id, person_id, since, until) VALUES (?, ?, ?, ?)",
            care,
        )
        members = _dataset_members(people, families)
        moratorium = _days(ref, 182)
        conn.executemany(
            "INSERT INTO datasets (dataset_id, title, duo_permission, disease_term, modifiers, "
            "moratorium_until, time_limit_months, custodian) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (d, title, perm, disease, json.dumps(list(mods)),
                 moratorium if _MOR in mods else None, None, custodian)
                for d, title, perm, disease, mods, custodian in DATASETS
            ],
        )  # fmt: skip
        conn.executemany(
            "INSERT INTO dataset_members (dataset_id, person_id) VALUES (?, ?)",
            [(d[0], p) for d in DATASETS for p in members[d[0]]],
        )
        conn.executemany(
            "INSERT INTO projects (project_id, title, purpose, commercial, ethics_approval_id, "
            "lead_user_id, approved_on) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (pid, title, json.dumps(purpose, sort_keys=True), int(commercial), ethics, lead,
                 _days(ref, -approved))
                for pid, title, purpose, commercial, ethics, lead, approved in PROJECTS
            ],
        )  # fmt: skip
        conn.executemany(
            "INSERT INTO project_grants (project_id, dataset_id, user_id, granted_on, "
            "expires_on, revoked_on, granted_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (proj, ds, user, _days(ref, g), _days(ref, e), _days(ref, r), _STEWARD)
                for proj, ds, user, g, e, r in _GRANTS
            ],
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


# -- keyholder --------------------------------------------------------------------------------

_IDENTITY_SCHEMA = (
    """CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT, WITHOUT ROWID""",
    """CREATE TABLE identities (
        person_id TEXT PRIMARY KEY,
        national_id TEXT NOT NULL UNIQUE
            CHECK (national_id GLOB '[6-9][0-9][0-1][0-9][0-9][0-9]-[0-9][0-9][0-9][0-9]'
                   AND CAST(substr(national_id, 1, 2) AS INTEGER) BETWEEN 61 AND 91),
        birth_date TEXT NOT NULL CHECK (date(birth_date) IS birth_date),
        sex TEXT NOT NULL CHECK (sex IN ('female', 'male')),
        synthetic INTEGER NOT NULL CHECK (synthetic = 1)
    ) STRICT, WITHOUT ROWID""",
)


def _century_digit(year: int, rng) -> int:
    """First serial digit that places a two-digit year in ``year``'s century (CPR rules)."""
    if 1900 <= year <= 1999:
        return int(rng.integers(0, 4))
    if 2000 <= year <= 2036:
        return int(rng.integers(4, 10))
    if 2037 <= year <= 2057 or 1858 <= year <= 1899:
        return int(rng.integers(5, 9))
    raise InputError(
        f"birth_year must lie in 1858–2057 to be written as a CPR-shaped number, got {year}"
    )


def _national_ids(people: pd.DataFrame, rng) -> list[tuple]:
    seen: set[str] = set()
    rows = []
    triples = zip(people["person_id"], people["sex"], people["birth_year"], strict=True)
    for pid, sex, year in triples:
        year = int(year)
        start = _dt.date(year, 1, 1)
        n_days = (_dt.date(year + 1, 1, 1) - start).days
        born = start + _dt.timedelta(days=int(rng.integers(0, n_days)))
        while True:
            serial = [_century_digit(year, rng), *rng.integers(0, 10, size=2)]
            last = 2 * int(rng.integers(0, 5)) + (1 if sex == "male" else 0)
            # Day + 60: the substitute-number convention, so no real CPR can collide.
            nid = (
                f"{born.day + 60:02d}{born.month:02d}{born.year % 100:02d}-"
                f"{''.join(str(int(d)) for d in serial)}{last}"
            )
            if nid not in seen:
                seen.add(nid)
                break
        rows.append((str(pid), nid, born.isoformat(), str(sex), 1))
    return rows


def write_keyholder(folder: str | os.PathLike, *, people: pd.DataFrame, rng) -> None:
    """Write the hospital-side keyholder store: identities and the pseudonym key.

    ``folder`` (mode 0700) receives

    ``identity.sqlite`` (mode 0600)
        Table ``identities(person_id, national_id, birth_date, sex, synthetic)``. National ids
        are CPR-shaped ``DDMMYY-SSSS`` with 60 added to the day (the substitute-number
        convention, so they can never be a real person's CPR number); the first serial digit
        places the year in its century and the last digit is odd for men, even for women, as
        in real CPR numbers. The birth date lies in the person's ``birth_year``.
    ``pseudonym.key`` (mode 0600)
        ``{"version": 1, "algorithm": "HMAC-SHA256", "key": <64 hex digits>, "note": …}``.
        For a synthetic cohort the key is drawn from ``rng``, so anyone with the cohort's seed
        can reproduce it: fine for teaching, never for real data. A real deployment draws the
        key from :func:`os.urandom` and keeps it on the hospital side.

    Raises
    ------
    InputError
        If ``people`` misses columns, repeats ids, or has a birth year outside 1858–2057.
    """
    rng = _check_rng(rng)
    people = _check_people(people)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    rows = _national_ids(people, rng)
    key = rng.bytes(32)

    path = folder / IDENTITY_FILE
    tmp = folder / f".{IDENTITY_FILE}.{os.getpid()}.tmp"
    _remove_sqlite_files(tmp)
    try:
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.execute("BEGIN")
            for statement in _IDENTITY_SCHEMA:
                conn.execute(statement)
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [
                    ("national_id_convention", "CPR-shaped, day + 60 (never a real CPR)"),
                    ("schema_version", "1"),
                ],
            )
            conn.executemany(
                "INSERT INTO identities (person_id, national_id, birth_date, sex, synthetic) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            conn.execute("COMMIT")
            _finish_sqlite(conn)
        except BaseException:
            conn.close()
            raise
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    finally:
        _remove_sqlite_files(tmp)

    key_path = folder / PSEUDONYM_KEY_FILE
    write_json(
        key_path,
        {
            "version": 1,
            "algorithm": "HMAC-SHA256",
            "key": key.hex(),
            "note": (
                "synthetic cohort: this key is derived from the cohort seed and reproducible; "
                "a real deployment draws it from os.urandom and keeps it on the hospital side"
            ),
        },
    )
    os.chmod(key_path, 0o600)
