"""The data-access service's own state: its keys, its users' tokens and entitlements.

``workbench service init COHORT --state DIR`` creates, outside the cohort folder::

    DIR/                      0700, owned by the service's OS account
      service.json            which cohort it serves; when it was set up
      secrets/                0700: the keys the sessions use, never inside the cohort
        project-pseudonym.key   fresh from the OS random source (not derivable from the seed)
        audit.key               the cohort's audit key ring plus a fresh current version
        audit-checkpoints.jsonl the chain's heads, written by the service only
        registry.seal           keyed digest of the registry (see workbench.access.integrity)
        checkpoint-signing.key  Ed25519: signs each checkpoint copied to the witness
        keyholder.token         the token the keyholder answers (with --keyholder only)
        releases-*.jsonl        disclosure history, for everyone who asks; each line chained
                                to the one before, and held under the audit chain
      tokens.sqlite           0600: token digests (SHA-256, never the token), expiry,
                              revocation; entitlements a steward granted

Tokens are random 256-bit strings shown once at issue: only their SHA-256 digest is kept (a
token has the entropy of a key, so a slow password hash adds nothing; JupyterHub stores its API
tokens the same way). Every token expires, and a revoked or expired one stops working on the
next request. The cohort's own files stay reproducible from its seed; nothing here is.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import (
    AuthenticationError,
    ConfigurationError,
    InputError,
    KeyMissingError,
    OutputExistsError,
)
from ..io import atomic_dir, write_json
from .hubauth import HubIdentities

__all__ = [
    "ENTITLEMENTS",
    "ServiceState",
    "init_state",
    "open_state",
]

#: What a steward may grant beyond a role.
ENTITLEMENTS = ("teaching.sandbox",)
SECRETS_DIR = "secrets"
CONFIG_FILE = "service.json"
TOKENS_FILE = "tokens.sqlite"
TOKEN_PREFIX = "cgw_"
KEYHOLDER_TOKEN_FILE = "keyholder.token"
_MAX_DAYS = 366

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS tokens (
        token_id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        digest TEXT NOT NULL UNIQUE,
        note TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        revoked_at TEXT
    ) STRICT""",
    """CREATE TABLE IF NOT EXISTS entitlements (
        user_id TEXT NOT NULL,
        entitlement TEXT NOT NULL,
        granted_at TEXT NOT NULL,
        PRIMARY KEY (user_id, entitlement)
    ) STRICT""",
)


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0)


def _iso(t: _dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Identity:
    """Who a token belongs to, as the service decided it."""

    user: str
    token_id: str
    expires_at: str
    entitlements: frozenset[str]


class ServiceState:
    """An initialised state folder (see the module docstring); open with :func:`open_state`."""

    def __init__(self, path: Path, config: dict):
        self.path = path
        self.cohort_path = Path(config["cohort"])
        self.disclosure = config.get("disclosure_profile", "genomics-england")
        self.witness = Path(config["witness"]) if config.get("witness") else None
        self.public_key = config.get("checkpoint_public_key")
        self._config = config
        hub = config.get("hub_api_url")
        self._hub = HubIdentities(hub) if hub else None
        self.secrets = path / SECRETS_DIR
        self._tokens = path / TOKENS_FILE
        self._local = threading.local()

    @property
    def hub_api_url(self) -> str | None:
        """The JupyterHub API the service asks who a hub token belongs to (or ``None``)."""
        return self._config.get("hub_api_url")

    @functools.cached_property
    def cohort(self):
        """The cohort served, opened once: its manifest must be the one signed at set-up,
        and its files must match the manifest."""
        from ..access.witness import verify_signature
        from ..cohort import open_cohort
        from ..errors import CohortIntegrityError
        from ..io import file_sha256

        manifest = self.cohort_path / "manifest.json"
        digest = file_sha256(manifest) if manifest.is_file() else ""
        signed = self._config.get("manifest_signature", "")
        if not verify_signature(self.public_key, digest.encode(), signed):
            raise CohortIntegrityError(
                f"{manifest} is not the manifest signed when the service was set up: the "
                "cohort's files may have been replaced along with their checksums; restore the "
                "cohort, or set up the service again for a new one",
                path=manifest,
            )
        return open_cohort(self.cohort_path)

    def __repr__(self) -> str:
        return f"<ServiceState {self.path} serving {self.cohort_path.name}>"

    @contextlib.contextmanager
    def _db(self):
        # One connection per thread, kept open: the service authenticates every request (and
        # sessions, on their own threads, read entitlements). Autocommit, so a revocation by
        # `workbench service token revoke` in another process is seen on the next request.
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = sqlite3.connect(
                self._tokens, isolation_level=None, timeout=10
            )
        yield conn

    def session(self, *, user: str, purpose, today: str | None = None):
        """A session as the service opens it: its keys, seal, disclosure rules and clock.

        For the service itself and for a steward working on the service's machine (its OS
        account); clients use :func:`workbench.connect`, where the user is the token's.
        """
        from ..access.session import Session

        return Session(
            self.cohort,
            user=user,
            purpose=purpose,
            today=today,
            secrets=self.secrets,
            entitlements=self.authenticated_entitlements(user),
            disclosure=self.disclosure,
            witness=self.witness,
            keyholder=self.keyholder,
        )

    @functools.cached_property
    def keyholder(self):
        """The keyholder the service asks (``None``: the cohort's own ``keyholder/`` folder)."""
        url = self._config.get("keyholder_url")
        if not url:
            return None
        from .keyholder import KeyholderClient

        token = (self.secrets / KEYHOLDER_TOKEN_FILE).read_text(encoding="utf-8").strip()
        return KeyholderClient(url, token)

    def authenticated_entitlements(self, user: str) -> frozenset[str]:
        """What a steward granted ``user`` (for an identity the service has established)."""
        with self._db() as conn:
            rows = conn.execute(
                "SELECT entitlement FROM entitlements WHERE user_id = ?", (user,)
            ).fetchall()
        return frozenset(g for (g,) in rows)

    # -- tokens ---------------------------------------------------------------------------------
    def issue_token(self, user: str, *, days: int = 30, note: str = "") -> tuple[str, str]:
        """A new token for ``user`` (a principal of the cohort's registry): ``(token_id, token)``.

        The token itself is returned once and never stored.
        """
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= _MAX_DAYS:
            raise InputError(f"--days must be 1 to {_MAX_DAYS}, got {days!r}")
        if "\n" in note or len(note) > 200:
            raise InputError("--note must be one line of at most 200 characters")
        self._known_principal(user)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token_id = secrets.token_hex(4)
        now = _now()
        with self._db() as conn:
            conn.execute(
                "INSERT INTO tokens VALUES (?, ?, ?, ?, ?, ?, NULL)",
                (token_id, user, _digest(token), note, _iso(now),
                 _iso(now + _dt.timedelta(days=days))),
            )  # fmt: skip
        return token_id, token

    def revoke_token(self, token_id: str) -> None:
        """Revoke a token by its id (as ``token list`` shows it); it stops working at once."""
        with self._db() as conn:
            cur = conn.execute(
                "UPDATE tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL",
                (_iso(_now()), token_id),
            )
        if cur.rowcount != 1:
            raise InputError(f"no token {token_id!r} in force; see `workbench service token list`")

    def tokens(self) -> list[dict]:
        """Every token ever issued: id, user, note, created, expires, revoked (no secrets)."""
        with self._db() as conn:
            rows = conn.execute(
                "SELECT token_id, user_id, note, created_at, expires_at, revoked_at FROM tokens "
                "ORDER BY created_at, token_id"
            ).fetchall()
        keys = ("token_id", "user", "note", "created_at", "expires_at", "revoked_at")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def authenticate(self, token: str | None, *, ask_hub: bool = True) -> Identity | None:
        """The identity behind ``token``, or ``None`` (unknown, expired or revoked).

        A token the service issued is looked up by its digest; any other is, when the service
        was set up with a hub (``--hub-api``), a JupyterHub token whose user the hub named
        (when ``ask_hub`` is false, only as it did within the last minute: the hub is not asked).

        Raises
        ------
        AuthenticationError
            The hub named a user who is not a principal of the registry (``auth.not_enrolled``).
        """
        if not isinstance(token, str) or not token or len(token) > 200:
            return None
        if not token.startswith(TOKEN_PREFIX):
            return self._hub_identity(token, ask=ask_hub)
        if len(token) > 100:
            return None
        with self._db() as conn:
            row = conn.execute(
                "SELECT token_id, user_id, expires_at, revoked_at FROM tokens WHERE digest = ?",
                (_digest(token),),
            ).fetchone()
            if row is None or row[3] is not None or row[2] <= _iso(_now()):
                return None
        return Identity(row[1], row[0], row[2], self.authenticated_entitlements(row[1]))

    def _hub_identity(self, token: str, *, ask: bool = True) -> Identity | None:
        if self._hub is None:
            return None
        name = self._hub.name_of(token, ask=ask)
        if name is None:
            return None
        try:
            self._known_principal(name)
        except InputError:
            # The hub vouched for them, but the registry does not know them: no access, and
            # they are told what to ask for (it is their own name; nobody else's is revealed)
            raise AuthenticationError(
                f"your hub account {name} is not enrolled in the registry: ask a data steward "
                f"to enrol you (`workbench hub roster add {name} --enrol-with …`)",
                reasons=["auth.not_enrolled"],
            ) from None
        return Identity(name, "hub", "", self.authenticated_entitlements(name))

    # -- entitlements -----------------------------------------------------------------------------
    def entitle(self, user: str, entitlement: str, *, revoke: bool = False) -> None:
        """Grant (or with ``revoke``, withdraw) an entitlement such as ``teaching.sandbox``."""
        if entitlement not in ENTITLEMENTS:
            raise InputError(
                f"unknown entitlement {entitlement!r}; one of {', '.join(ENTITLEMENTS)}"
            )
        self._known_principal(user)
        with self._db() as conn:
            if revoke:
                conn.execute(
                    "DELETE FROM entitlements WHERE user_id = ? AND entitlement = ?",
                    (user, entitlement),
                )
            else:
                conn.execute(
                    "INSERT OR IGNORE INTO entitlements VALUES (?, ?, ?)",
                    (user, entitlement, _iso(_now())),
                )

    def _known_principal(self, user: str) -> None:
        from ..access.policy import load_principal
        from ..access.schema import connect

        if not isinstance(user, str) or not user:
            raise InputError("give a user id such as 'dr.jensen'")
        with contextlib.closing(connect(self.cohort_path / "registry.sqlite", readonly=True)) as c:
            if load_principal(c, user) is None:
                raise InputError(
                    f"{user!r} is not a principal of the cohort's registry; add them first"
                )


def init_state(
    state: str | os.PathLike,
    cohort: str | os.PathLike,
    *,
    disclosure: str = "genomics-england",
    witness: str | os.PathLike | None = None,
    hub_api_url: str | None = None,
    keyholder_url: str | None = None,
    keyholder_token: str | None = None,
) -> ServiceState:
    """Create a service state folder for ``cohort`` (see the module docstring).

    Refuses a state folder inside the cohort folder (a copy of the cohort would carry the
    keys) and one that exists already. Written to a temporary folder, then renamed.

    ``hub_api_url`` (``http://127.0.0.1:8081/hub/api``) lets users sign in with their
    JupyterHub identity too (:mod:`workbench.service.hubauth`).

    ``keyholder_url`` and ``keyholder_token`` name the keyholder (a process of its own, see
    :mod:`workbench.service.keyholder`) that re-identifies a clinician's patient; without them
    the service reads the cohort's own ``keyholder/`` folder, if it has one.

    ``witness`` names a file outside both folders to which every checkpoint is appended,
    signed (see :mod:`workbench.access.witness`); the public key is kept in ``service.json``.

    The cohort folder is then closed to everyone but its owner (0700, protected files 0600):
    run ``init`` and the service as the service's own OS account, which owns the cohort, and
    analysts reach the data through the service only.
    """
    from ..access.audit import load_audit_key
    from ..access.disclosure import profile
    from ..access.integrity import SEAL_FILE, Seal
    from ..access.pseudonyms import rotate_key, write_service_key
    from ..access.schema import connect
    from ..access.session import AUDIT_KEY_FILE, CHECKPOINT_FILE, PSEUDONYM_KEY_FILE, SERVICE_DIR
    from ..access.witness import SIGNING_KEY_FILE, sign, write_signing_key
    from ..io import file_sha256

    disclosure = profile(disclosure).name
    state, cohort = Path(state).absolute(), Path(cohort).absolute()
    if not (cohort / "registry.sqlite").is_file():
        raise InputError(
            f"{cohort} is not a cohort folder (no registry.sqlite); give the folder "
            "`workbench generate` wrote"
        )
    if state.resolve().is_relative_to(cohort.resolve()):
        raise InputError(
            f"the service state {state} lies inside the cohort folder; keep it outside, where "
            "no copy of the cohort carries its keys"
        )
    if witness is not None:
        witness = Path(witness).absolute()
        inside = [f for f in (cohort, state) if witness.resolve().is_relative_to(f.resolve())]
        if inside or not witness.parent.is_dir():
            raise InputError(
                f"the witness {witness} must be a file in an existing folder outside the cohort "
                "and the state folder (other storage, or another account's)"
            )
    if state.exists():
        raise OutputExistsError(
            f"{state} exists; a service state is created once: choose a new --state folder"
        )
    if (keyholder_url is None) != (keyholder_token is None):
        raise InputError("--keyholder and --keyholder-token-file go together: give both")
    if keyholder_url is not None and not keyholder_url.startswith(("http://", "https://")):
        raise InputError(f"--keyholder must be http(s)://host:port, got {keyholder_url!r}")
    cohort_audit_key = cohort / SERVICE_DIR / AUDIT_KEY_FILE
    if not cohort_audit_key.is_file():
        raise KeyMissingError(f"{cohort_audit_key} is missing; regenerate the cohort")
    with atomic_dir(state) as tmp:
        os.chmod(tmp, 0o700)
        keys = tmp / SECRETS_DIR
        keys.mkdir(mode=0o700)
        write_service_key(
            keys / PSEUDONYM_KEY_FILE, rng=None, created_for="data-access service pseudonyms"
        )
        # Earlier entries of the audit chain verify with the cohort's key; every entry the
        # service writes uses a fresh version only the service holds.
        shutil.copyfile(cohort_audit_key, keys / AUDIT_KEY_FILE)
        os.chmod(keys / AUDIT_KEY_FILE, 0o600)
        rotate_key(keys / AUDIT_KEY_FILE, rng=None)
        # The chain's heads so far come along, so the earlier entries stay anchored.
        checkpoints = cohort / SERVICE_DIR / CHECKPOINT_FILE
        if checkpoints.is_file():
            shutil.copyfile(checkpoints, keys / CHECKPOINT_FILE)
        else:
            (keys / CHECKPOINT_FILE).touch()
        os.chmod(keys / CHECKPOINT_FILE, 0o600)
        # The registry as it is now is what the service vouches for (see access.integrity).
        audit_key = load_audit_key(keys / AUDIT_KEY_FILE)
        with contextlib.closing(connect(cohort / "registry.sqlite", readonly=True)) as conn:
            Seal(keys / SEAL_FILE, audit_key.key).write(conn)
        if keyholder_token is not None:
            (keys / KEYHOLDER_TOKEN_FILE).write_text(keyholder_token.strip() + "\n")
            os.chmod(keys / KEYHOLDER_TOKEN_FILE, 0o600)
        public_key = write_signing_key(keys / SIGNING_KEY_FILE)
        # The manifest as set up is signed: files replaced with matching checksums are found.
        manifest_digest = file_sha256(cohort / "manifest.json").encode()
        manifest_signature = sign(keys / SIGNING_KEY_FILE, manifest_digest)
        write_json(
            tmp / CONFIG_FILE,
            {
                "cohort": str(cohort),
                "created_at": _iso(_now()),
                "disclosure_profile": disclosure,
                "checkpoint_public_key": public_key,
                "manifest_signature": manifest_signature,
                "witness": None if witness is None else str(witness),
                "hub_api_url": hub_api_url,
                "keyholder_url": keyholder_url,
            },
        )
        with contextlib.closing(sqlite3.connect(tmp / TOKENS_FILE, isolation_level=None)) as c:
            for statement in _SCHEMA:
                c.execute(statement)
        os.chmod(tmp / TOKENS_FILE, 0o600)
    _close_to_others(cohort)
    return open_state(state)


#: The parts of a cohort only the service may open (reference and knowledge are public).
PROTECTED = (
    "registry.sqlite",
    "genotypes.vcz",
    "genotypes.vcf.gz",
    "genotypes.vcf.gz.tbi",
    "pedigree.ped",
    "phenopackets",
    "reads",
    "truth",
    "keyholder",
    "service",
)


def _close_to_others(cohort: Path) -> None:
    os.chmod(cohort, 0o700)
    for part in PROTECTED:
        top = cohort / part
        if top.is_symlink() or not top.exists():
            continue
        paths = [top] if top.is_file() else [top, *top.rglob("*")]
        for p in paths:
            if not p.is_symlink():
                os.chmod(p, 0o700 if p.is_dir() else 0o600)


def open_state(state: str | os.PathLike) -> ServiceState:
    """Open a state folder made by :func:`init_state`; one-line errors when it is not one."""
    state = Path(state)
    config_path = state / CONFIG_FILE
    if not config_path.is_file():
        raise ConfigurationError(
            f"{state} is not a service state folder (no {CONFIG_FILE}); create one with "
            "`workbench service init COHORT --state DIR`"
        )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        Path(config["cohort"])
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigurationError(
            f"{config_path} is damaged ({e}); restore it from backup"
        ) from None
    parts = [SECRETS_DIR, TOKENS_FILE, f"{SECRETS_DIR}/registry.seal"]
    if config.get("keyholder_url"):
        parts.append(f"{SECRETS_DIR}/{KEYHOLDER_TOKEN_FILE}")
    for part in parts:
        if not (state / part).exists():
            raise ConfigurationError(f"{state / part} is missing; restore the state folder")
    return ServiceState(state, config)
