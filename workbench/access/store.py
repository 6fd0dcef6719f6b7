"""Small read helpers over the registry and the keyholder's pseudonym key.

These return plain values (pandas DataFrames, dicts, bytes) and make no access decision: the
consent-aware session layer decides who may call them for what.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pandas as pd

from ..errors import KeyMissingError
from .schema import parse_date

__all__ = [
    "CONSENT_COLUMNS",
    "PSEUDONYM_KEY_FILE",
    "load_consent_history",
    "load_consents",
    "load_datasets",
    "load_pseudonym_key",
    "registry_query",
    "registry_samples",
]

#: Columns of :func:`load_consents` and :func:`load_consent_history`, in order.
CONSENT_COLUMNS = (
    "person_id",
    "version",
    "signed_on",
    "form_version",
    "signed_by",
    "secondary_findings",
    "recontact",
    "research_opt_out",
    "withdrawn",
    "recorded_by",
    "note",
)

#: File name of the pseudonym key inside a cohort's ``keyholder/`` folder.
PSEUDONYM_KEY_FILE = "pseudonym.key"

_BOOL_COLUMNS = ("recontact", "research_opt_out", "withdrawn")


def _consent_frame(rows: list[tuple]) -> pd.DataFrame:
    df = pd.DataFrame.from_records(rows, columns=list(CONSENT_COLUMNS))
    df["version"] = df["version"].astype("int64")
    for column in _BOOL_COLUMNS:
        df[column] = df[column].astype(bool)
    df["secondary_findings"] = [tuple(json.loads(s)) for s in df["secondary_findings"]]
    return df


def load_consents(conn: sqlite3.Connection, *, as_of=None) -> pd.DataFrame:
    """Each person's current consent: the highest version signed on or before ``as_of``.

    Parameters
    ----------
    conn
        A registry connection (:func:`workbench.access.schema.connect`).
    as_of
        An ISO date string or :class:`datetime.date`; ``None`` means the latest version.
        People with no consent signed by that date are absent from the result.

    Returns
    -------
    pandas.DataFrame
        One row per person, sorted by ``person_id``, with :data:`CONSENT_COLUMNS`;
        ``secondary_findings`` is a tuple of ACMG SF categories (empty = none chosen) and
        ``recontact``, ``research_opt_out`` and ``withdrawn`` are bools.
    """
    where, params = "", ()
    if as_of is not None:
        where, params = "WHERE signed_on <= ?", (parse_date(as_of, name="as_of"),)
    columns = ", ".join(CONSENT_COLUMNS)
    rows = conn.execute(
        f"""SELECT {columns} FROM consents
        WHERE (person_id, version) IN (
            SELECT person_id, max(version) FROM consents {where} GROUP BY person_id)
        ORDER BY person_id""",
        params,
    ).fetchall()
    return _consent_frame(rows)


def load_consent_history(conn: sqlite3.Connection, *, person_id: str | None = None) -> pd.DataFrame:
    """Every consent version (of one person, or of everyone), oldest first.

    Same columns as :func:`load_consents`, sorted by ``person_id`` then ``version``.
    """
    columns = ", ".join(CONSENT_COLUMNS)
    if person_id is None:
        rows = conn.execute(f"SELECT {columns} FROM consents ORDER BY person_id, version")
    else:
        rows = conn.execute(
            f"SELECT {columns} FROM consents WHERE person_id = ? ORDER BY version", (person_id,)
        )
    return _consent_frame(rows.fetchall())


def load_datasets(conn: sqlite3.Connection) -> pd.DataFrame:
    """The datasets with their DUO codes and member counts, sorted by ``dataset_id``.

    ``modifiers`` is a tuple of DUO codes; ``obsolete_codes`` lists the dataset's codes that
    the ``duo_terms`` table flags obsolete and ``unknown_codes`` those it does not list — an
    access decision must fail closed on either.
    """
    terms = dict(conn.execute("SELECT code, obsolete FROM duo_terms"))
    df = pd.read_sql_query(
        """SELECT d.dataset_id, d.title, d.duo_permission, d.disease_term, d.modifiers,
                  d.moratorium_until, d.time_limit_months, d.custodian,
                  (SELECT count(*) FROM dataset_members m WHERE m.dataset_id = d.dataset_id)
                      AS n_members
        FROM datasets d ORDER BY d.dataset_id""",
        conn,
    )
    df["modifiers"] = [tuple(json.loads(s)) for s in df["modifiers"]]
    codes = [(p, *m) for p, m in zip(df["duo_permission"], df["modifiers"], strict=True)]
    df["obsolete_codes"] = [tuple(c for c in cs if terms.get(c) == 1) for cs in codes]
    df["unknown_codes"] = [tuple(c for c in cs if c not in terms) for cs in codes]
    return df


def load_pseudonym_key(keyholder: str | os.PathLike) -> tuple[int, bytes]:
    """Read the versioned pseudonym HMAC key from a keyholder folder.

    Returns
    -------
    (version, key)
        The key version (for rotation) and the raw key bytes.

    Raises
    ------
    KeyMissingError
        When the file is absent or malformed: refuse to pseudonymise rather than guess.
        The message never contains key material.
    """
    path = Path(keyholder) / PSEUDONYM_KEY_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise KeyMissingError(
            f"expected the pseudonym key at {path}, found none; the keyholder folder must "
            "come with the cohort (regenerate it with `workbench generate`)"
        ) from e
    except (OSError, ValueError) as e:
        raise KeyMissingError(
            f"expected a JSON pseudonym key at {path}, could not read it ({type(e).__name__}); "
            "restore the keyholder folder"
        ) from None
    try:
        version = record["version"]
        algorithm = record["algorithm"]
        key = bytes.fromhex(record["key"])
    except (KeyError, TypeError, ValueError):
        raise KeyMissingError(
            f"expected version, algorithm and a hex key in {path}, found a malformed record; "
            "restore the keyholder folder"
        ) from None
    if algorithm != "HMAC-SHA256" or not isinstance(version, int) or version < 1 or len(key) < 32:
        raise KeyMissingError(
            f"expected an HMAC-SHA256 key of at least 32 bytes with version >= 1 in {path}, "
            f"found algorithm {algorithm!r}, version {version!r}, {len(key)} bytes; "
            "restore the keyholder folder"
        )
    return version, key


def registry_query(conn: sqlite3.Connection, sql: str, people) -> pd.DataFrame:
    """Run ``sql`` with ``{}`` standing for the ids of ``people`` (bound, never pasted)."""
    people = list(people)
    # Bind every value: person ids go in through a temporary table, never into the SQL text.
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS _in_view (person_id TEXT PRIMARY KEY)")
    conn.execute("DELETE FROM _in_view")
    conn.executemany("INSERT INTO _in_view VALUES (?)", [(p,) for p in people])
    return pd.read_sql_query(sql.format("SELECT person_id FROM _in_view"), conn)


def registry_samples(conn: sqlite3.Connection, people) -> pd.DataFrame:
    """The registry's record of each of ``people`` (internal ids), sorted by id."""
    return registry_query(
        conn,
        "SELECT person_id, family_id, father_id, mother_id, sex, birth_year, region, hospital, "
        "population, role, affected FROM samples WHERE person_id IN ({}) ORDER BY person_id",
        people,
    )
