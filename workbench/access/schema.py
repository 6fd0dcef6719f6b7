"""The registry database: the genome centre's pseudonymised tables, in SQLite.

``registry.sqlite`` in a cohort folder holds who is in the cohort (by internal person id only),
their families and phenotypes, their consents as an append-only history, the datasets with
their GA4GH Data Use Ontology (DUO) codes, the principals who may ask for data, their care
relationships and project grants, and the audit log of every access. National identifiers are
never stored here; they live in the keyholder store (``keyholder/identity.sqlite``).

Design notes
------------
* Every table is ``STRICT`` (SQLite >= 3.37), so a wrong type is an error rather than a silent
  conversion. Enumerated values carry ``CHECK`` constraints; JSON columns must be valid JSON of
  the documented shape.
* History tables are append-only *in the database*: triggers abort every ``UPDATE`` and
  ``DELETE`` on ``consents``, ``audit_log`` and ``audit_checkpoints``, and an insert trigger
  keeps each person's consent versions contiguous (1, 2, 3 …, dates never going backwards).
  The audit-log insert trigger enforces the chain's shape (``seq`` = previous + 1, ``prev_mac``
  = the previous entry's ``mac``); computing and verifying the HMACs is the access layer's job,
  with a key kept outside the database. Triggers guard against mistakes, not against the file's
  owner, who can drop them: real enforcement needs a process boundary or database roles.
* ``datasets.duo_permission`` and ``datasets.modifiers`` accept any well-formed ``DUO:`` code,
  including obsolete and unknown ones: the registry records what a data custodian wrote, and the
  access layer must fail closed on codes it does not accept. :data:`DUO_TERMS` (seeded into the
  ``duo_terms`` table) names the codes the workbench knows, with obsolete ones flagged.
* Dates are ISO-8601 ``YYYY-MM-DD`` text; audit timestamps are ISO-8601 UTC text.

References
----------
GA4GH Data Use Ontology, https://github.com/EBISPOT/DUO (CC BY 4.0); the term labels below are
the workbench's own short wording, not copied from ``duo.csv``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from ..errors import CohortFormatError, InputError

__all__ = [
    "APPLICATION_ID",
    "AUDIT_DECISIONS",
    "AUDIT_GENESIS_MAC",
    "DUO_TERMS",
    "PRINCIPAL_ROLES",
    "PURPOSE_KINDS",
    "SCHEMA_SQL",
    "SCHEMA_VERSION",
    "SECONDARY_FINDING_CATEGORIES",
    "connect",
    "create_schema",
    "parse_date",
    "read_meta",
    "transaction",
]

#: Bumped whenever a table, column, constraint or trigger changes; stored as ``PRAGMA
#: user_version`` and in the ``meta`` table, checked when a registry is opened read-only.
SCHEMA_VERSION = 1

#: ``PRAGMA application_id`` of a workbench registry (the ASCII bytes ``CGWR``), so ``file(1)``
#: and :func:`connect` can tell it from any other SQLite file.
APPLICATION_ID = 0x43475752

#: ACMG secondary-findings categories a person may choose to hear about (ACMG SF v3.2 groups).
SECONDARY_FINDING_CATEGORIES = (
    "cancer",
    "cardiovascular",
    "inborn_error_of_metabolism",
    "miscellaneous",
)

#: Roles a principal can hold (see the role table in DESIGN.md / the access reference).
PRINCIPAL_ROLES = ("clinician", "researcher", "trainer", "student", "steward")

#: Kinds of research purpose a project can declare (``projects.purpose["kind"]``); a
#: ``"disease"`` purpose also names a MONDO term under ``"disease"``.
PURPOSE_KINDS = ("disease", "hmb", "methods", "ancestry")

#: Decisions an audit entry can record.
AUDIT_DECISIONS = ("approve", "deny", "abstain")

#: ``prev_mac`` of the first audit entry: 64 zero hex digits.
AUDIT_GENESIS_MAC = "0" * 64

#: DUO terms the workbench knows: code -> (abbreviation, short label, kind, obsolete).
#: ``kind`` is ``"permission"`` (exactly one per dataset) or ``"modifier"`` (zero or more).
#: Obsolete terms are listed so that a registry can carry them and the access layer can
#: recognise and reject them (fail closed).
DUO_TERMS: dict[str, tuple[str | None, str, str, bool]] = {
    "DUO:0000004": ("NRES", "no restriction", "permission", False),
    "DUO:0000042": ("GRU", "general research use", "permission", False),
    "DUO:0000006": ("HMB", "health, medical or biomedical research", "permission", False),
    "DUO:0000007": ("DS", "disease-specific research", "permission", False),
    "DUO:0000011": ("POA", "population origins or ancestry research only", "permission", False),
    "DUO:0000043": ("CC", "clinical care use", "modifier", False),
    "DUO:0000016": ("GSO", "genetic studies only", "modifier", False),
    "DUO:0000015": ("NMDS", "no general methods research", "modifier", False),
    "DUO:0000044": ("NPOA", "no population origins or ancestry research", "modifier", False),
    "DUO:0000046": ("NCU", "non-commercial use only", "modifier", False),
    "DUO:0000045": ("NPU", "not-for-profit organisation use only", "modifier", False),
    "DUO:0000018": ("NPUNCU", "not-for-profit, non-commercial use only", "modifier", False),
    "DUO:0000012": ("RS", "research-specific restrictions", "modifier", False),
    "DUO:0000021": ("IRB", "ethics approval required", "modifier", False),
    "DUO:0000020": ("COL", "collaboration required", "modifier", False),
    "DUO:0000019": ("PUB", "publication required", "modifier", False),
    "DUO:0000024": ("MOR", "publication moratorium", "modifier", False),
    "DUO:0000025": ("TS", "time limit on use", "modifier", False),
    "DUO:0000026": ("US", "user-specific restriction", "modifier", False),
    "DUO:0000027": ("PS", "project-specific restriction", "modifier", False),
    "DUO:0000028": ("IS", "institution-specific restriction", "modifier", False),
    "DUO:0000022": ("GS", "geographical restriction", "modifier", False),
    "DUO:0000029": ("RTN", "return derived or enriched data", "modifier", False),
    "DUO:0000005": (
        "GRU-CC",
        "obsolete: general research use and clinical care",
        "permission",
        True,
    ),
    "DUO:0000014": (None, "obsolete term", "permission", True),
}


def _enum(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


def _date(column: str, *, nullable: bool = False) -> str:
    # A well-formed calendar date: shape and a round trip through date() (rejects 2025-02-30).
    check = (
        f"({column} GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]' "
        f"AND date({column}) IS {column})"
    )
    return f"({column} IS NULL OR {check})" if nullable else check


def _bool(column: str) -> str:
    return f"{column} IN (0, 1)"


def _hex64(column: str) -> str:
    return f"(length({column}) = 64 AND {column} NOT GLOB '*[^0-9a-f]*')"


def _one_line(column: str) -> str:
    # No control characters (newline, carriage return, escape …): guards the audit log and
    # anything printed from it against log injection.
    return f"({column} NOT GLOB ('*[' || char(1) || '-' || char(31) || char(127) || ']*'))"


def _json_array(column: str) -> str:
    return f"(json_valid({column}) AND json_type({column}) = 'array')"


def _raise(message: str) -> str:
    # RAISE takes one string literal: no concatenation, quotes doubled.
    return "SELECT RAISE(ABORT, '" + message.replace("'", "''") + "');"


def _duo(column: str) -> str:
    return f"({column} GLOB 'DUO:[0-9][0-9][0-9][0-9][0-9][0-9][0-9]')"


_DEFERRED = "DEFERRABLE INITIALLY DEFERRED"
_SF_LIST = ", ".join(f"'{c}'" for c in SECONDARY_FINDING_CATEGORIES)

#: The complete DDL, in creation order. Applied by :func:`create_schema`.
SCHEMA_SQL: tuple[str, ...] = (
    # -- cohort-level facts ----------------------------------------------------------------
    """CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) STRICT, WITHOUT ROWID""",
    f"""CREATE TABLE duo_terms (
        code TEXT PRIMARY KEY CHECK {_duo("code")},
        abbreviation TEXT,
        label TEXT NOT NULL,
        kind TEXT NOT NULL CHECK ({_enum("kind", ("permission", "modifier"))}),
        obsolete INTEGER NOT NULL CHECK ({_bool("obsolete")})
    ) STRICT, WITHOUT ROWID""",
    # -- people ------------------------------------------------------------------------------
    f"""CREATE TABLE samples (
        person_id TEXT PRIMARY KEY CHECK (person_id GLOB 'P[0-9]*'),
        family_id TEXT REFERENCES families(family_id) {_DEFERRED},
        father_id TEXT REFERENCES samples(person_id) {_DEFERRED},
        mother_id TEXT REFERENCES samples(person_id) {_DEFERRED},
        sex TEXT NOT NULL CHECK ({_enum("sex", ("female", "male"))}),
        birth_year INTEGER NOT NULL CHECK (birth_year BETWEEN 1870 AND 2100),
        region TEXT NOT NULL,
        hospital TEXT NOT NULL,
        population TEXT NOT NULL,
        role TEXT NOT NULL
            CHECK ({_enum("role", ("proband", "father", "mother", "sibling", "unrelated"))}),
        affected INTEGER NOT NULL CHECK ({_bool("affected")}),
        CHECK (father_id IS NULL OR father_id <> person_id),
        CHECK (mother_id IS NULL OR mother_id <> person_id)
    ) STRICT""",
    "CREATE INDEX samples_family ON samples(family_id)",
    f"""CREATE TABLE families (
        family_id TEXT PRIMARY KEY CHECK (family_id GLOB 'F[0-9]*'),
        proband_id TEXT NOT NULL UNIQUE REFERENCES samples(person_id) {_DEFERRED},
        consanguineous INTEGER CHECK (consanguineous IS NULL OR {_bool("consanguineous")}),
        indication TEXT NOT NULL
    ) STRICT""",
    f"""CREATE TABLE phenotypes (
        person_id TEXT NOT NULL REFERENCES samples(person_id),
        hpo_id TEXT NOT NULL CHECK (hpo_id GLOB 'HP:[0-9][0-9][0-9][0-9][0-9][0-9][0-9]'),
        label TEXT NOT NULL,
        excluded INTEGER NOT NULL CHECK ({_bool("excluded")}),
        PRIMARY KEY (person_id, hpo_id)
    ) STRICT, WITHOUT ROWID""",
    "CREATE INDEX phenotypes_hpo ON phenotypes(hpo_id)",
    # -- consent: one row per signed (or registered) change; current = highest version -------
    f"""CREATE TABLE consents (
        person_id TEXT NOT NULL REFERENCES samples(person_id),
        version INTEGER NOT NULL CHECK (version >= 1),
        signed_on TEXT NOT NULL CHECK {_date("signed_on")},
        form_version TEXT NOT NULL,
        signed_by TEXT NOT NULL CHECK ({_enum("signed_by", ("self", "guardian"))}),
        secondary_findings TEXT NOT NULL CHECK {_json_array("secondary_findings")},
        recontact INTEGER NOT NULL CHECK ({_bool("recontact")}),
        research_opt_out INTEGER NOT NULL CHECK ({_bool("research_opt_out")}),
        withdrawn INTEGER NOT NULL CHECK ({_bool("withdrawn")}),
        recorded_by TEXT NOT NULL REFERENCES principals(user_id),
        note TEXT NOT NULL CHECK {_one_line("note")},
        PRIMARY KEY (person_id, version)
    ) STRICT, WITHOUT ROWID""",
    f"""CREATE TRIGGER consents_sf_categories BEFORE INSERT ON consents
    WHEN EXISTS (SELECT 1 FROM json_each(NEW.secondary_findings)
                 WHERE type <> 'text' OR value NOT IN ({_SF_LIST}))
      OR (SELECT count(*) FROM json_each(NEW.secondary_findings))
         <> (SELECT count(DISTINCT value) FROM json_each(NEW.secondary_findings))
    BEGIN
        {
        _raise(
            "consents.secondary_findings must be a list of distinct ACMG SF categories: "
            + ", ".join(SECONDARY_FINDING_CATEGORIES)
        )
    }
    END""",
    f"""CREATE TRIGGER consents_contiguous BEFORE INSERT ON consents
    WHEN NEW.version <> coalesce(
             (SELECT max(version) FROM consents WHERE person_id = NEW.person_id), 0) + 1
      OR NEW.signed_on < coalesce(
             (SELECT max(signed_on) FROM consents WHERE person_id = NEW.person_id), '')
    BEGIN
        {
        _raise(
            "consents: a new version must be the previous version + 1 and "
            "must not be dated before it; append a new version instead"
        )
    }
    END""",
    f"""CREATE TRIGGER consents_no_update BEFORE UPDATE ON consents
    BEGIN
        {_raise("consents is append-only: record a change as a new version")}
    END""",
    f"""CREATE TRIGGER consents_no_delete BEFORE DELETE ON consents
    BEGIN
        {_raise("consents is append-only: record a withdrawal as a new version")}
    END""",
    # -- datasets and their DUO codes ---------------------------------------------------------
    f"""CREATE TABLE datasets (
        dataset_id TEXT PRIMARY KEY CHECK {_one_line("dataset_id")},
        title TEXT NOT NULL,
        duo_permission TEXT NOT NULL CHECK {_duo("duo_permission")},
        disease_term TEXT CHECK (disease_term IS NULL
                                 OR disease_term GLOB 'MONDO:[0-9][0-9][0-9][0-9][0-9][0-9][0-9]'),
        modifiers TEXT NOT NULL CHECK {_json_array("modifiers")},
        moratorium_until TEXT CHECK {_date("moratorium_until", nullable=True)},
        time_limit_months INTEGER CHECK (time_limit_months IS NULL OR time_limit_months > 0),
        custodian TEXT NOT NULL,
        CHECK ((duo_permission = 'DUO:0000007') = (disease_term IS NOT NULL)),
        CHECK ((moratorium_until IS NOT NULL) = (instr(modifiers, '"DUO:0000024"') > 0)),
        CHECK ((time_limit_months IS NOT NULL) = (instr(modifiers, '"DUO:0000025"') > 0))
    ) STRICT""",
    f"""CREATE TRIGGER datasets_modifier_codes BEFORE INSERT ON datasets
    WHEN EXISTS (SELECT 1 FROM json_each(NEW.modifiers)
                 WHERE type <> 'text'
                    OR value NOT GLOB 'DUO:[0-9][0-9][0-9][0-9][0-9][0-9][0-9]')
    BEGIN
        {_raise("datasets.modifiers must be a JSON list of DUO:nnnnnnn codes")}
    END""",
    """CREATE TABLE dataset_members (
        dataset_id TEXT NOT NULL REFERENCES datasets(dataset_id),
        person_id TEXT NOT NULL REFERENCES samples(person_id),
        PRIMARY KEY (dataset_id, person_id)
    ) STRICT, WITHOUT ROWID""",
    "CREATE INDEX dataset_members_person ON dataset_members(person_id)",
    # -- who may ask ----------------------------------------------------------------------------
    f"""CREATE TABLE principals (
        user_id TEXT PRIMARY KEY
            CHECK (user_id GLOB '[a-z]*' AND user_id NOT GLOB '*[^a-z0-9._-]*'),
        display_name TEXT NOT NULL CHECK {_one_line("display_name")},
        role TEXT NOT NULL CHECK ({_enum("role", PRINCIPAL_ROLES)}),
        affiliation TEXT NOT NULL CHECK (affiliation GLOB '?*@?*' AND {_one_line("affiliation")}),
        organisation_for_profit INTEGER NOT NULL CHECK ({_bool("organisation_for_profit")}),
        accepted_terms TEXT,
        accepted_terms_by TEXT,
        accepted_terms_on TEXT CHECK {_date("accepted_terms_on", nullable=True)},
        researcher_status_by TEXT
            CHECK (researcher_status_by IS NULL
                   OR {_enum("researcher_status_by", ("so", "system", "peer", "dac"))}),
        CHECK ((accepted_terms IS NULL) = (accepted_terms_by IS NULL)
               AND (accepted_terms IS NULL) = (accepted_terms_on IS NULL))
    ) STRICT""",
    f"""CREATE TABLE care_relationships (
        user_id TEXT NOT NULL REFERENCES principals(user_id),
        person_id TEXT NOT NULL REFERENCES samples(person_id),
        since TEXT NOT NULL CHECK {_date("since")},
        until TEXT CHECK {_date("until", nullable=True)},
        PRIMARY KEY (user_id, person_id, since),
        CHECK (until IS NULL OR until >= since)
    ) STRICT, WITHOUT ROWID""",
    "CREATE INDEX care_relationships_person ON care_relationships(person_id)",
    f"""CREATE TRIGGER care_relationships_clinician BEFORE INSERT ON care_relationships
    WHEN (SELECT role FROM principals WHERE user_id = NEW.user_id) IS NOT 'clinician'
    BEGIN
        {
        _raise(
            "care_relationships: only a principal with role clinician can have a care relationship"
        )
    }
    END""",
    # -- research projects and grants -------------------------------------------------------------
    f"""CREATE TABLE projects (
        project_id TEXT PRIMARY KEY CHECK {_one_line("project_id")},
        title TEXT NOT NULL,
        purpose TEXT NOT NULL CHECK (
            json_valid(purpose) AND json_type(purpose) = 'object'
            AND {_enum("json_extract(purpose, '$.kind')", PURPOSE_KINDS)}
            AND (json_extract(purpose, '$.kind') <> 'disease'
                 OR json_extract(purpose, '$.disease')
                    GLOB 'MONDO:[0-9][0-9][0-9][0-9][0-9][0-9][0-9]')),
        commercial INTEGER NOT NULL CHECK ({_bool("commercial")}),
        ethics_approval_id TEXT,
        lead_user_id TEXT NOT NULL REFERENCES principals(user_id),
        approved_on TEXT NOT NULL CHECK {_date("approved_on")}
    ) STRICT""",
    f"""CREATE TABLE project_grants (
        project_id TEXT NOT NULL REFERENCES projects(project_id),
        dataset_id TEXT NOT NULL REFERENCES datasets(dataset_id),
        user_id TEXT NOT NULL REFERENCES principals(user_id),
        granted_on TEXT NOT NULL CHECK {_date("granted_on")},
        expires_on TEXT NOT NULL CHECK {_date("expires_on")},
        revoked_on TEXT CHECK {_date("revoked_on", nullable=True)},
        granted_by TEXT NOT NULL REFERENCES principals(user_id),
        PRIMARY KEY (project_id, dataset_id, user_id, granted_on),
        CHECK (expires_on > granted_on),
        CHECK (revoked_on IS NULL OR revoked_on >= granted_on)
    ) STRICT, WITHOUT ROWID""",
    "CREATE INDEX project_grants_user ON project_grants(user_id)",
    "CREATE INDEX project_grants_dataset ON project_grants(dataset_id)",
    f"""CREATE TRIGGER project_grants_only_revoke BEFORE UPDATE ON project_grants
    WHEN OLD.revoked_on IS NOT NULL OR NEW.revoked_on IS NULL
      OR NEW.project_id IS NOT OLD.project_id OR NEW.dataset_id IS NOT OLD.dataset_id
      OR NEW.user_id IS NOT OLD.user_id OR NEW.granted_on IS NOT OLD.granted_on
      OR NEW.expires_on IS NOT OLD.expires_on OR NEW.granted_by IS NOT OLD.granted_by
    BEGIN
        {
        _raise(
            "project_grants: the only change allowed is setting revoked_on "
            "once; grant again with a new row instead"
        )
    }
    END""",
    f"""CREATE TRIGGER project_grants_no_delete BEFORE DELETE ON project_grants
    BEGIN
        {_raise("project_grants is kept as history: set revoked_on instead")}
    END""",
    # -- audit: an HMAC chain, appended to in the same transaction as the access it records ----
    f"""CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY CHECK (seq >= 1),
        at TEXT NOT NULL CHECK {_one_line("at")},
        user_id TEXT NOT NULL CHECK {_one_line("user_id")},
        purpose TEXT NOT NULL CHECK (json_valid(purpose)),
        action TEXT NOT NULL CHECK {_one_line("action")},
        query TEXT NOT NULL CHECK (json_valid(query)),
        decision TEXT NOT NULL CHECK ({_enum("decision", AUDIT_DECISIONS)}),
        basis TEXT NOT NULL CHECK {_json_array("basis")},
        n_excluded INTEGER CHECK (n_excluded IS NULL OR n_excluded >= 0),
        result_size INTEGER CHECK (result_size IS NULL OR result_size >= 0),
        key_version INTEGER NOT NULL CHECK (key_version >= 1),
        prev_mac TEXT NOT NULL CHECK {_hex64("prev_mac")},
        mac TEXT NOT NULL UNIQUE CHECK {_hex64("mac")}
    ) STRICT""",
    "CREATE INDEX audit_log_user ON audit_log(user_id)",
    f"""CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
    WHEN NEW.seq IS NOT coalesce((SELECT max(seq) FROM audit_log), 0) + 1
      OR NEW.prev_mac IS NOT coalesce(
             (SELECT mac FROM audit_log WHERE seq = NEW.seq - 1), '{AUDIT_GENESIS_MAC}')
    BEGIN
        {
        _raise("audit_log: seq must be the previous seq + 1 and prev_mac the previous entry's mac")
    }
    END""",
    f"""CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN
        {_raise("audit_log is append-only")}
    END""",
    f"""CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN
        {_raise("audit_log is append-only")}
    END""",
    f"""CREATE TABLE audit_checkpoints (
        checkpoint_id INTEGER PRIMARY KEY CHECK (checkpoint_id >= 1),
        at TEXT NOT NULL CHECK {_one_line("at")},
        head_seq INTEGER NOT NULL REFERENCES audit_log(seq),
        head_mac TEXT NOT NULL CHECK {_hex64("head_mac")},
        key_version INTEGER NOT NULL CHECK (key_version >= 1),
        mac TEXT NOT NULL CHECK {_hex64("mac")}
    ) STRICT""",
    f"""CREATE TRIGGER audit_checkpoints_head BEFORE INSERT ON audit_checkpoints
    WHEN NEW.head_mac IS NOT (SELECT mac FROM audit_log WHERE seq = NEW.head_seq)
      OR NEW.head_seq < coalesce((SELECT max(head_seq) FROM audit_checkpoints), 0)
    BEGIN
        {
        _raise(
            "audit_checkpoints: head_mac must be the mac of entry head_seq, "
            "and checkpoints must not move backwards"
        )
    }
    END""",
    f"""CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
    BEGIN
        {_raise("audit_checkpoints is append-only")}
    END""",
    f"""CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
    BEGIN
        {_raise("audit_checkpoints is append-only")}
    END""",
)

_BUSY_TIMEOUT_MS = 5000


def parse_date(value, *, name: str) -> str:
    """Return ``value`` (an ISO date string or :class:`datetime.date`) as ``YYYY-MM-DD``.

    Raises
    ------
    InputError
        If ``value`` is neither, or not a real calendar date.
    """
    if isinstance(value, _dt.datetime):
        raise InputError(f"{name} must be a date, got the datetime {value!r}; pass value.date()")
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise InputError(
        f"{name} must be an ISO date such as '2026-01-01' or a datetime.date, got {value!r}"
    )


def connect(
    path: str | os.PathLike,
    *,
    readonly: bool = False,
    create: bool = False,
    busy_timeout_ms: int = _BUSY_TIMEOUT_MS,
) -> sqlite3.Connection:
    """Open a registry database with the workbench's connection settings.

    Every connection enforces foreign keys, waits up to ``busy_timeout_ms`` for a lock and
    uses ``synchronous=FULL``. A writer (``readonly=False``) switches the file to WAL mode so
    readers are not blocked; a reader opens the file with ``mode=ro`` and checks that it is a
    workbench registry of this :data:`SCHEMA_VERSION`.

    The connection is in autocommit mode (``isolation_level=None``): group writes with
    :func:`transaction`, which takes the write lock up front (``BEGIN IMMEDIATE``).

    Parameters
    ----------
    path
        The ``registry.sqlite`` file. For writing it is created when missing (then empty:
        call :func:`create_schema`).
    readonly
        Open for reading only; the file must exist and carry the current schema.
    create
        For writing: create the file when it is missing (the generator). Otherwise a writer
        too refuses a missing file, or one that is not a registry of this version, rather
        than make an empty database where the registry should be.
    busy_timeout_ms
        How long to wait for another writer's lock before failing.

    Raises
    ------
    CohortFormatError
        When a read-only open finds no file, or a file that is not a registry of this version.
    """
    path = Path(path)
    if not isinstance(busy_timeout_ms, int) or busy_timeout_ms < 0:
        raise InputError(f"busy_timeout_ms must be a non-negative int, got {busy_timeout_ms!r}")
    if readonly:
        if not path.is_file():
            raise CohortFormatError(
                f"expected a registry database at {path}, found none; "
                "regenerate the cohort with `workbench generate`",
                path=path,
            )
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    else:
        if not create and not path.is_file():
            raise CohortFormatError(
                f"expected a registry database at {path}, found none; "
                "regenerate the cohort with `workbench generate`",
                path=path,
            )
        conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = FULL")
        if readonly or not create:
            _check_version(conn, path)
        if not readonly:
            conn.execute("PRAGMA journal_mode = WAL")
    except sqlite3.DatabaseError as e:
        conn.close()
        raise CohortFormatError(
            f"expected a registry database at {path}, found an unreadable file ({e}); "
            "restore it or regenerate the cohort",
            path=path,
        ) from e
    except BaseException:
        conn.close()
        raise
    return conn


def _check_version(conn: sqlite3.Connection, path: Path) -> None:
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as e:
        raise CohortFormatError(
            f"expected a registry database at {path}, found an unreadable file ({e}); "
            "regenerate the cohort",
            path=path,
        ) from e
    if app_id != APPLICATION_ID:
        raise CohortFormatError(
            f"expected a workbench registry at {path}, found another SQLite file "
            f"(application_id {app_id:#x}); point at the cohort's registry.sqlite",
            path=path,
        )
    if version != SCHEMA_VERSION:
        raise CohortFormatError(
            f"expected registry schema version {SCHEMA_VERSION} at {path}, found {version}; "
            "regenerate the cohort with this version of the workbench",
            path=path,
        )


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, rolling back if the block raises.

    Taking the write lock at the start means two writers queue (up to the busy timeout)
    instead of failing halfway; an access and its audit entry written inside one block
    either both land or neither does.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def create_schema(conn: sqlite3.Connection, *, reference_date: str) -> None:
    """Create every table, index and trigger in an empty database and fill ``meta``.

    ``meta`` receives ``schema_version`` and ``reference_date`` (the cohort's "today", used
    instead of the wall clock so generated cohorts are reproducible); ``duo_terms`` receives
    :data:`DUO_TERMS`. Runs in one transaction.

    Raises
    ------
    InputError
        If the database already has tables, or ``reference_date`` is not an ISO date.
    """
    reference_date = parse_date(reference_date, name="reference_date")
    n = conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]
    if n:
        raise InputError(
            f"create_schema expects an empty database, found {n} schema objects; "
            "write to a new file"
        )
    with transaction(conn):
        for statement in SCHEMA_SQL:
            conn.execute(statement)
        conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [("schema_version", str(SCHEMA_VERSION)), ("reference_date", reference_date)],
        )
        conn.executemany(
            "INSERT INTO duo_terms (code, abbreviation, label, kind, obsolete) "
            "VALUES (?, ?, ?, ?, ?)",
            [(code, *fields) for code, fields in sorted(DUO_TERMS.items())],
        )
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def read_meta(conn: sqlite3.Connection) -> dict[str, str]:
    """The ``meta`` table as a dict (``schema_version``, ``reference_date`` …)."""
    return dict(conn.execute("SELECT key, value FROM meta ORDER BY key"))
