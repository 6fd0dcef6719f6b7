"""Tests for workbench.synth.registry, workbench.access.schema and workbench.access.store."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import stat

import numpy as np
import pandas as pd
import pytest

from workbench.access.schema import (
    AUDIT_GENESIS_MAC,
    SCHEMA_VERSION,
    SECONDARY_FINDING_CATEGORIES,
    connect,
    read_meta,
    transaction,
)
from workbench.access.store import (
    load_consent_history,
    load_consents,
    load_datasets,
    load_pseudonym_key,
)
from workbench.errors import CohortFormatError, InputError, KeyMissingError
from workbench.synth.model import HOSPITALS, PEOPLE_COLUMNS, REGIONS
from workbench.synth.registry import (
    IDENTITY_FILE,
    NATIONAL_ID_PATTERN,
    write_keyholder,
    write_registry,
)

REF = "2026-01-01"
INDICATIONS = (
    "developmental and epileptic encephalopathy",
    "hypertrophic cardiomyopathy",
    "intellectual disability",
)


def make_people(n_unrelated: int = 51) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Three trios (proband, father, mother) plus unrelated people: 60 by default."""
    rows, families, phenotypes = [], [], []
    pid = 0

    def add(**kw):
        nonlocal pid
        pid += 1
        region = REGIONS[pid % len(REGIONS)]
        row = {
            "person_id": f"P{pid:05d}",
            "family_id": None,
            "father_id": None,
            "mother_id": None,
            "population": ("NOR", "MEN", "SAS")[pid % 3],
            "affected": False,
            "region": region,
            "hospital": HOSPITALS[region][0],
        }
        row.update(kw)
        rows.append(row)
        return row["person_id"]

    for f, indication in enumerate(INDICATIONS, 1):
        fam = f"F{f:04d}"
        father = add(family_id=fam, sex="male", role="father", birth_year=1984 + f)
        mother = add(family_id=fam, sex="female", role="mother", birth_year=1986 + f)
        proband = add(
            family_id=fam,
            father_id=father,
            mother_id=mother,
            sex=("female", "male")[f % 2],
            role="proband",
            affected=True,
            birth_year=2014 + f,
        )
        families.append({"family_id": fam, "proband_id": proband, "indication": indication})
        phenotypes += [
            {"person_id": proband, "hpo_id": "HP:0001250", "label": "Seizure", "excluded": f != 1},
            {"person_id": proband, "hpo_id": "HP:0001263", "label": "Global developmental delay",
             "excluded": False},
        ]  # fmt: skip
    for i in range(n_unrelated):
        add(sex=("female", "male")[i % 2], role="unrelated", birth_year=1940 + i % 66)
    people = pd.DataFrame(rows)[list(PEOPLE_COLUMNS)]
    return people, pd.DataFrame(phenotypes), pd.DataFrame(families)


@pytest.fixture(scope="module")
def tables():
    return make_people()


@pytest.fixture(scope="module")
def cohort(tmp_path_factory, tables):
    people, phenotypes, families = tables
    folder = tmp_path_factory.mktemp("cohort")
    rng = np.random.default_rng(7)
    write_registry(
        folder / "registry.sqlite",
        people=people,
        phenotypes=phenotypes,
        families=families,
        reference_date=REF,
        rng=rng,
    )
    write_keyholder(folder / "keyholder", people=people, rng=rng)
    return folder


@pytest.fixture
def conn(cohort):
    c = connect(cohort / "registry.sqlite", readonly=True)
    yield c
    c.close()


@pytest.fixture
def writable(cohort, tmp_path):
    """A private copy of the registry opened for writing."""
    copy = tmp_path / "registry.sqlite"
    copy.write_bytes((cohort / "registry.sqlite").read_bytes())
    c = connect(copy)
    yield c
    c.close()


# -- consents -------------------------------------------------------------------------------


def test_every_person_has_a_current_consent(conn, tables):
    people = tables[0]
    current = load_consents(conn)
    assert list(current["person_id"]) == sorted(people["person_id"])
    assert current["person_id"].is_unique
    history = load_consent_history(conn)
    for pid, versions in history.groupby("person_id")["version"]:
        assert list(versions) == list(range(1, len(versions) + 1)), pid
    # The current row is each person's highest version.
    assert dict(zip(current["person_id"], current["version"], strict=True)) == (
        history.groupby("person_id")["version"].max().to_dict()
    )


def test_consent_mix_has_every_kind_of_choice(conn, tables):
    current = load_consents(conn)
    history = load_consent_history(conn)
    n = len(current)
    sf = current["secondary_findings"]
    assert 1 <= (sf.map(len) == 0).sum() <= 0.2 * n  # some chose none
    assert (sf.map(len) == len(SECONDARY_FINDING_CATEGORIES)).sum() >= 0.6 * n
    assert ((sf.map(len) > 0) & (sf.map(len) < 4)).any()  # and some a subset
    assert all(set(s) <= set(SECONDARY_FINDING_CATEGORIES) for s in sf)
    assert 1 <= current["research_opt_out"].sum() <= 0.1 * n
    assert current["withdrawn"].sum() >= 1
    assert current["recontact"].any() and not current["recontact"].all()
    versions = history.groupby("person_id").size()
    assert (versions >= 2).any() and (versions == 1).mean() > 0.7
    assert history["signed_on"].max() <= REF


def test_children_sign_through_guardians(conn, tables):
    people = tables[0]
    birth = dict(zip(people["person_id"], people["birth_year"], strict=True))
    history = load_consent_history(conn)
    for row in history.itertuples():
        minor = int(row.signed_on[:4]) - birth[row.person_id] < 18
        assert row.signed_by == ("guardian" if minor else "self")
    assert (history["signed_by"] == "guardian").any()


def test_family_members_sign_together_and_form_version_follows_date(conn, tables):
    people = tables[0]
    v1 = load_consent_history(conn).query("version == 1").set_index("person_id")
    for _fam, members in people.dropna(subset=["family_id"]).groupby("family_id"):
        assert v1.loc[members["person_id"], "signed_on"].nunique() == 1
    assert set(v1.loc[v1["signed_on"] >= "2024-03-01", "form_version"]) <= {"NGC-WGS-2.0"}


def test_consents_are_append_only(writable):
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        writable.execute("UPDATE consents SET research_opt_out = 0")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        writable.execute("DELETE FROM consents WHERE person_id = 'P00001'")
    current = load_consents(writable).set_index("person_id").loc["P00001"]
    # A change is a new version; skipping or back-dating a version is refused.
    row = ("P00001", int(current["version"]) + 1, "2026-01-01", "NGC-WGS-2.0", "self", "[]",
           0, 1, 0, "steward.larsen", "registered research opt-out")  # fmt: skip
    sql = "INSERT INTO consents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    with pytest.raises(sqlite3.IntegrityError, match="previous version"):
        writable.execute(sql, (row[0], row[1] + 1, *row[2:]))
    with pytest.raises(sqlite3.IntegrityError, match="previous version"):
        writable.execute(sql, (*row[:2], "2000-01-01", *row[3:]))
    with pytest.raises(sqlite3.IntegrityError, match="ACMG SF"):
        writable.execute(sql, (*row[:5], '["eyes"]', *row[6:]))
    with transaction(writable):
        writable.execute(sql, row)
    now = load_consents(writable).set_index("person_id").loc["P00001"]
    assert now["version"] == row[1] and now["research_opt_out"]
    before = load_consents(writable, as_of="2025-12-31").set_index("person_id").loc["P00001"]
    assert before["version"] == current["version"]


def test_load_consents_as_of_drops_people_not_yet_consented(conn):
    first = load_consent_history(conn).query("version == 1")["signed_on"]
    cut = sorted(first)[len(first) // 2]
    assert len(load_consents(conn, as_of=dt.date.fromisoformat(cut))) == (first <= cut).sum()
    with pytest.raises(InputError, match="ISO date"):
        load_consents(conn, as_of="yesterday")


def test_first_cared_for_proband_is_opted_out(conn):
    care = pd.read_sql_query(
        "SELECT c.user_id, c.person_id, c.until, p.role AS user_role FROM care_relationships c "
        "JOIN principals p USING (user_id) JOIN families f ON f.proband_id = c.person_id "
        "ORDER BY f.family_id",
        conn,
    )
    assert set(care["user_role"]) == {"clinician"}
    assert care["until"].notna().any()  # an ended referral exists
    current = load_consents(conn).set_index("person_id")
    probands = list(dict.fromkeys(care.loc[care["until"].isna(), "person_id"]))
    assert current.loc[probands[0], "research_opt_out"]
    assert current.loc[probands[1], "secondary_findings"] == ()


# -- identities never reach the registry -------------------------------------------------------


def test_no_national_id_in_registry(cohort, conn):
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")]
    scanned = 0
    for table in tables:
        columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        for column in columns:
            for (value,) in conn.execute(f"SELECT {column} FROM {table}"):
                if isinstance(value, str):
                    scanned += 1
                    assert not NATIONAL_ID_PATTERN.search(value), (table, column, value)
    assert scanned > 500
    raw = (cohort / "registry.sqlite").read_bytes()
    ident = sqlite3.connect(cohort / "keyholder" / IDENTITY_FILE)
    for (nid,) in ident.execute("SELECT national_id FROM identities"):
        assert nid.encode() not in raw and nid.replace("-", "").encode() not in raw
    ident.close()


def _decode_cpr(nid: str) -> tuple[dt.date, str]:
    """Birth date and sex from a (substitute, day + 60) CPR number, by the published rules."""
    day, month, yy, century = int(nid[:2]) - 60, int(nid[2:4]), int(nid[4:6]), int(nid[7])
    if century <= 3:
        year = 1900 + yy
    elif century in (4, 9):
        year = 2000 + yy if yy <= 36 else 1900 + yy
    else:
        year = 2000 + yy if yy <= 57 else 1800 + yy
    return dt.date(year, month, day), ("male" if int(nid[-1]) % 2 else "female")


def test_identity_store_maps_everyone_with_synthetic_cpr(cohort, tables):
    people = tables[0].set_index("person_id")
    ident = sqlite3.connect(cohort / "keyholder" / IDENTITY_FILE)
    rows = ident.execute(
        "SELECT person_id, national_id, birth_date, sex, synthetic FROM identities"
    ).fetchall()
    ident.close()
    assert sorted(r[0] for r in rows) == sorted(people.index)
    assert len({r[1] for r in rows}) == len(rows)
    for pid, nid, birth_date, sex, synthetic in rows:
        assert NATIONAL_ID_PATTERN.fullmatch(nid) and nid[6] == "-"
        assert 61 <= int(nid[:2]) <= 91  # day + 60: never a real CPR number
        assert synthetic == 1
        born, parity_sex = _decode_cpr(nid)
        assert born.isoformat() == birth_date
        assert born.year == people.loc[pid, "birth_year"]
        assert sex == parity_sex == people.loc[pid, "sex"]


def test_keyholder_permissions_and_key(cohort):
    keyholder = cohort / "keyholder"
    assert stat.S_IMODE(os.stat(keyholder).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(keyholder / "pseudonym.key").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(keyholder / IDENTITY_FILE).st_mode) == 0o600
    record = json.loads((keyholder / "pseudonym.key").read_text())
    assert record["algorithm"] == "HMAC-SHA256" and record["version"] == 1
    version, key = load_pseudonym_key(keyholder)
    assert version == 1 and len(key) == 32 and key.hex() == record["key"]


def test_missing_or_malformed_key_refuses(tmp_path):
    with pytest.raises(KeyMissingError, match="found none"):
        load_pseudonym_key(tmp_path)
    secret = "5ec7e7c0ffee5ec7e7"  # a value no temporary path contains
    (tmp_path / "pseudonym.key").write_text(
        f'{{"version": 1, "algorithm": "MD5", "key": "{secret}"}}'
    )
    with pytest.raises(KeyMissingError, match="HMAC-SHA256") as info:
        load_pseudonym_key(tmp_path)
    assert secret not in str(info.value)  # a key is never echoed in an error


# -- files: determinism, integrity, no leftovers ----------------------------------------------


def _write(folder, tables, seed):
    people, phenotypes, families = tables
    rng = np.random.default_rng(seed)
    write_registry(
        folder / "registry.sqlite",
        people=people,
        phenotypes=phenotypes,
        families=families,
        reference_date=REF,
        rng=rng,
    )
    write_keyholder(folder / "keyholder", people=people, rng=rng)
    return [
        (folder / p).read_bytes()
        for p in ("registry.sqlite", "keyholder/identity.sqlite", "keyholder/pseudonym.key")
    ]


def test_same_seed_same_bytes(tmp_path, tables):
    a = _write(tmp_path / "a", tables, 11)
    b = _write(tmp_path / "b", tables, 11)
    c = _write(tmp_path / "c", tables, 12)
    assert a == b
    assert all(x != y for x, y in zip(a, c, strict=True))
    assert sorted(os.listdir(tmp_path / "a")) == ["keyholder", "registry.sqlite"]
    assert sorted(os.listdir(tmp_path / "a" / "keyholder")) == [IDENTITY_FILE, "pseudonym.key"]


def test_registry_is_consistent_and_closed_in_delete_mode(cohort, conn):
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    meta = read_meta(conn)
    assert meta["reference_date"] == REF and meta["schema_version"] == str(SCHEMA_VERSION)
    strict = conn.execute(
        "SELECT count(*) FROM pragma_table_list "
        "WHERE strict = 0 AND schema = 'main' AND name NOT LIKE 'sqlite_%'"
    ).fetchone()[0]
    assert strict == 0


def test_foreign_keys_are_enforced(writable):
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        writable.execute("INSERT INTO dataset_members VALUES ('NGC-RD', 'P99999')")
    with pytest.raises(sqlite3.IntegrityError):
        writable.execute(
            "INSERT INTO care_relationships VALUES ('lab.researcher', 'P00003', '2025-01-01', NULL)"
        )
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        writable.execute(
            "INSERT INTO principals VALUES ('x.y', 'X', 'admin', 'member@ku.dk', 0, "
            "NULL, NULL, NULL, NULL)"
        )
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        writable.execute(
            "INSERT INTO principals VALUES ('x.y', 'X', 'student', 'ku.dk', 0, "
            "NULL, NULL, NULL, NULL)"
        )


def test_readonly_connect_rejects_other_files(tmp_path, cohort):
    with pytest.raises(CohortFormatError, match="found none"):
        connect(tmp_path / "missing.sqlite", readonly=True)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(CohortFormatError, match="application_id"):
        connect(other, readonly=True)
    ro = connect(cohort / "registry.sqlite", readonly=True)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        ro.execute("INSERT INTO meta VALUES ('x', 'y')")
    ro.close()


# -- datasets, grants, audit -------------------------------------------------------------------


def test_datasets_cover_duo_rules_and_flag_obsolete(conn):
    ds = load_datasets(conn).set_index("dataset_id")
    permissions = set(ds["duo_permission"])
    assert {"DUO:0000006", "DUO:0000042", "DUO:0000007", "DUO:0000011"} <= permissions
    assert ds.loc["EPI-DS", "disease_term"] == "MONDO:0005027"
    assert "DUO:0000046" in ds.loc["NGC-RD", "modifiers"]
    assert {"DUO:0000021", "DUO:0000020"} <= set(ds.loc["NORDIC-COLLAB", "modifiers"])
    assert ds.loc["NORDIC-COLLAB", "moratorium_until"] > REF
    assert ds.loc["LEGACY-BIOBANK", "obsolete_codes"] == ("DUO:0000005",)
    assert (ds.drop(index="LEGACY-BIOBANK")["obsolete_codes"] == ()).all()
    assert (ds["unknown_codes"] == ()).all()
    assert (ds["n_members"] > 0).all()
    # EPI-DS holds exactly the family whose indication is epilepsy (the first trio).
    members = {r[0] for r in conn.execute(
        "SELECT person_id FROM dataset_members WHERE dataset_id = 'EPI-DS'")}  # fmt: skip
    assert members == {"P00001", "P00002", "P00003"}
    obsolete = dict(conn.execute("SELECT code, obsolete FROM duo_terms"))
    assert obsolete["DUO:0000005"] == 1 and obsolete["DUO:0000014"] == 1


def test_projects_and_grants_cover_the_cases(conn):
    projects = pd.read_sql_query("SELECT * FROM projects", conn).set_index("project_id")
    grants = pd.read_sql_query("SELECT * FROM project_grants", conn)
    assert projects["commercial"].sum() == 1
    ethics = projects["ethics_approval_id"]
    assert ethics.isna().any() and ethics.notna().any()
    purpose = json.loads(projects.loc["EPI-7", "purpose"])
    assert purpose == {"disease": "MONDO:0005027", "kind": "disease"}
    assert (grants["expires_on"] < REF).any()  # an expired grant
    assert (grants["revoked_on"].notna()).any()  # a revoked one
    assert ((grants["expires_on"] > REF) & grants["revoked_on"].isna()).any()


def test_grants_can_only_be_revoked(writable):
    with pytest.raises(sqlite3.IntegrityError, match="revoked_on"):
        writable.execute("UPDATE project_grants SET expires_on = '2099-01-01'")
    with pytest.raises(sqlite3.IntegrityError, match="history"):
        writable.execute("DELETE FROM project_grants")
    writable.execute(
        "UPDATE project_grants SET revoked_on = '2026-01-01' "
        "WHERE project_id = 'EPI-7' AND dataset_id = 'EPI-DS'"
    )


def test_audit_log_is_empty_chained_and_append_only(conn, writable):
    assert conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 0
    sql = "INSERT INTO audit_log VALUES (?, ?, ?, '{}', ?, '{}', 'deny', '[]', NULL, NULL, 1, ?, ?)"
    mac1, mac2 = "a" * 64, "b" * 64
    with pytest.raises(sqlite3.IntegrityError, match="prev_mac"):
        writable.execute(sql, (1, "2026-01-01T00:00:00Z", "u", "read", "c" * 64, mac1))
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):  # log injection
        writable.execute(sql, (1, "2026-01-01T00:00:00Z", "u\nforged", "read",
                               AUDIT_GENESIS_MAC, mac1))  # fmt: skip
    writable.execute(sql, (1, "2026-01-01T00:00:00Z", "u", "read", AUDIT_GENESIS_MAC, mac1))
    with pytest.raises(sqlite3.IntegrityError, match="seq"):
        writable.execute(sql, (3, "2026-01-01T00:00:01Z", "u", "read", mac1, mac2))
    writable.execute(sql, (2, "2026-01-01T00:00:01Z", "u", "read", mac1, mac2))
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        writable.execute("UPDATE audit_log SET decision = 'approve'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        writable.execute("DELETE FROM audit_log WHERE seq = 2")
    with pytest.raises(sqlite3.IntegrityError, match="head_mac"):
        writable.execute(
            "INSERT INTO audit_checkpoints VALUES (1, '2026-01-02', 2, ?, 1, ?)", (mac1, "d" * 64)
        )
    writable.execute(
        "INSERT INTO audit_checkpoints VALUES (1, '2026-01-02', 2, ?, 1, ?)", (mac2, "d" * 64)
    )


# -- input checks -------------------------------------------------------------------------------


def test_bad_inputs_are_rejected_with_clear_messages(tmp_path, tables):
    people, phenotypes, families = tables
    kw = {"people": people, "phenotypes": phenotypes, "families": families}
    out = tmp_path / "registry.sqlite"
    with pytest.raises(InputError, match=r"numpy\.random\.Generator"):
        write_registry(out, **kw, rng=7)
    with pytest.raises(InputError, match="missing"):
        write_registry(out, **{**kw, "people": people.drop(columns="sex")},
                       rng=np.random.default_rng(0))  # fmt: skip
    bad = families.assign(proband_id="P00004")
    with pytest.raises(InputError, match="not a member"):
        write_registry(out, **{**kw, "families": bad}, rng=np.random.default_rng(0))
    with pytest.raises(InputError, match="reference date"):
        write_registry(out, **kw, reference_date="2015-06-01", rng=np.random.default_rng(0))
    assert not out.exists() and os.listdir(tmp_path) == []
