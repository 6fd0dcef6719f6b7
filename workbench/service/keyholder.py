"""The keyholder: the hospital side that alone turns an internal id into a national id.

In a genome centre the pseudonymised data and the key back to people are kept apart: those who
analyse genomes never hold the identity table. The keyholder is that other side, a process of
its own (run it as an OS account of its own) with a state folder of its own:

    KDIR/                     0700
      keyholder.json          the cohort it holds the identities of; the hourly limit
      identity.sqlite         0600: internal id → national id, moved out of the cohort folder
      service-token.sha256    0600: the digest of the one token the data-access service uses
      ledger.jsonl            0600: every request, answered or refused (the hospital's record)

``workbench keyholder init COHORT --state KDIR --token-out FILE`` moves ``COHORT/keyholder/``
there and writes the data-access service's token to ``FILE`` once; ``workbench service init
… --keyholder URL --keyholder-token-file FILE`` tells the service where to ask;
``workbench keyholder run --state KDIR`` answers. The data-access service decides (a treating
clinician, their own patient, audited in its chain); the keyholder answers only the service,
one person per request, keeps its own ledger and refuses a clinician more than
``max_per_hour`` re-identifications an hour, so a compromised service cannot quietly read the
whole table: the hospital's ledger shows it, and the limit slows it.

Routes: ``GET /api/v1/health``; ``POST /api/v1/reidentify`` ``{"clinician", "person"}`` →
``{"national_id"}`` (``Authorization: token <the service's token>``).
"""

from __future__ import annotations

import collections
import contextlib
import datetime as _dt
import hashlib
import hmac
import json
import os
import secrets
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import requests
import tornado.web

from ..errors import (
    AccessDenied,
    ConfigurationError,
    InputError,
    KeyMissingError,
    OutputExistsError,
)
from ..io import atomic_dir, write_json

__all__ = [
    "Keyholder",
    "KeyholderClient",
    "init_keyholder",
    "make_keyholder_app",
    "open_keyholder",
]

CONFIG_FILE = "keyholder.json"
STORE_FILE = "identity.sqlite"
CALLER_FILE = "service-token.sha256"
LEDGER_FILE = "ledger.jsonl"
TOKEN_PREFIX = "cgk_"
#: Re-identifications one clinician may ask for in an hour, unless set at init.
MAX_PER_HOUR = 30


def init_keyholder(state, cohort, *, max_per_hour: int = MAX_PER_HOUR) -> str:
    """Move ``cohort``'s identity store into a new keyholder state folder; the service's token.

    The token is returned once (only its digest is kept). The cohort folder is left without
    ``keyholder/``, which its manifest allows (the hospital side may be held elsewhere).

    Raises
    ------
    InputError
        No identity store in the cohort, a state folder inside the cohort, a bad limit.
    OutputExistsError
        The state folder exists.
    """
    state, cohort = Path(state).absolute(), Path(cohort).absolute()
    store = cohort / "keyholder" / STORE_FILE
    if isinstance(max_per_hour, bool) or not isinstance(max_per_hour, int) or max_per_hour < 1:
        raise InputError(f"--max-per-hour must be a positive integer, got {max_per_hour!r}")
    if not store.is_file() or store.is_symlink():
        raise InputError(
            f"{store} is missing: the cohort's identity store is not there to hold (already "
            "moved to a keyholder, or not a cohort written by `workbench generate`)"
        )
    if state.resolve().is_relative_to(cohort.resolve()):
        raise InputError(f"the keyholder's state {state} must be outside the cohort folder")
    if state.exists():
        raise OutputExistsError(
            f"{state} exists; a keyholder state is created once: choose a new --state folder"
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with atomic_dir(state) as tmp:
        os.chmod(tmp, 0o700)
        shutil.copyfile(store, tmp / STORE_FILE)
        (tmp / CALLER_FILE).write_text(_digest(token) + "\n", encoding="utf-8")
        (tmp / LEDGER_FILE).touch()
        for name in (STORE_FILE, CALLER_FILE, LEDGER_FILE):
            os.chmod(tmp / name, 0o600)
        write_json(
            tmp / CONFIG_FILE,
            {"cohort": cohort.name, "created_at": _now(), "max_per_hour": max_per_hour},
        )
    shutil.rmtree(cohort / "keyholder")  # held by the keyholder now, and nowhere else
    return token


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class Keyholder:
    """An opened keyholder state: answers the service, keeps the ledger, applies the limit."""

    def __init__(self, path: Path, config: dict):
        self.path = path
        self.max_per_hour = int(config["max_per_hour"])
        self._caller = (path / CALLER_FILE).read_text(encoding="utf-8").strip()
        self._recent: dict[str, collections.deque] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Keyholder {self.path}>"

    def is_the_service(self, token: str) -> bool:
        return isinstance(token, str) and hmac.compare_digest(_digest(token), self._caller)

    def national_id(self, *, clinician: str, person: str) -> str:
        """The national id of ``person`` for ``clinician``, recorded in the ledger.

        Raises :class:`AccessDenied` past the hourly limit and :class:`KeyMissingError` when
        the store holds no identity for the person; both are recorded too.
        """
        for name, value in (("clinician", clinician), ("person", person)):
            if not isinstance(value, str) or not value or len(value) > 64 or "\n" in value:
                raise InputError(f"{name} must be one short line of text")
        with self._lock:
            recent = self._recent.setdefault(clinician, collections.deque())
            now = time.monotonic()
            while recent and now - recent[0] > 3600.0:
                recent.popleft()
            if len(recent) >= self.max_per_hour:
                self._record(clinician, person, "refused: hourly limit")
                raise AccessDenied(
                    f"{clinician} has asked for {self.max_per_hour} re-identifications within "
                    "the hour, the keyholder's limit; the hospital side reviews its ledger",
                    reasons=("reidentify.rate_limited",),
                )
            recent.append(now)
            uri = f"{(self.path / STORE_FILE).resolve().as_uri()}?mode=ro"
            with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
                row = conn.execute(
                    "SELECT national_id FROM identities WHERE person_id = ?", (person,)
                ).fetchone()
            self._record(clinician, person, "answered" if row else "refused: no identity")
        if row is None:
            raise KeyMissingError("the keyholder store has no identity for this person")
        return row[0]

    def _record(self, clinician: str, person: str, outcome: str) -> None:
        line = json.dumps(
            {"at": _now(), "clinician": clinician, "person": person, "outcome": outcome},
            sort_keys=True,
        )
        with open(self.path / LEDGER_FILE, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())


def open_keyholder(state) -> Keyholder:
    """Open a folder made by :func:`init_keyholder`; a one-line error when it is not one."""
    state = Path(state)
    try:
        config = json.loads((state / CONFIG_FILE).read_text(encoding="utf-8"))
        int(config["max_per_hour"])
    except (OSError, ValueError, KeyError, TypeError):
        raise ConfigurationError(
            f"{state} is not a keyholder state folder (no readable {CONFIG_FILE}); create one "
            "with `workbench keyholder init COHORT --state DIR --token-out FILE`"
        ) from None
    for name in (STORE_FILE, CALLER_FILE):
        if not (state / name).is_file():
            raise ConfigurationError(f"{state / name} is missing; restore the keyholder state")
    return Keyholder(state, config)


# -- the keyholder's service ------------------------------------------------------------------
class _Handler(tornado.web.RequestHandler):
    def initialize(self, keyholder: Keyholder):
        self.keyholder = keyholder

    def _json(self, status: int, obj) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.write(json.dumps(obj))

    def log_exception(self, typ, value, tb):  # never a message: it may carry a person's id
        return


class _Health(_Handler):
    def get(self):
        self._json(200, {"ok": True})


class _Reidentify(_Handler):
    def post(self):
        scheme, _, token = self.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "token" or not self.keyholder.is_the_service(token.strip()):
            return self._json(401, {"error": "the keyholder answers the data-access service only"})
        try:
            body = json.loads(self.request.body)
            clinician, person = body["clinician"], body["person"]
        except (ValueError, KeyError, TypeError):
            return self._json(400, {"error": 'expected {"clinician": …, "person": …}'})
        try:
            answer = self.keyholder.national_id(clinician=clinician, person=person)
        except AccessDenied as e:
            return self._json(429, {"error": str(e), "reasons": list(e.reasons)})
        except (InputError, KeyMissingError) as e:
            return self._json(404 if isinstance(e, KeyMissingError) else 400, {"error": str(e)})
        self._json(200, {"national_id": answer})


def make_keyholder_app(keyholder: Keyholder) -> tornado.web.Application:
    """The keyholder's application; its access log names routes and statuses only."""
    args = {"keyholder": keyholder}
    return tornado.web.Application(
        [(r"/api/v1/health", _Health, args), (r"/api/v1/reidentify", _Reidentify, args)],
        log_function=_quiet_log,
    )


def _quiet_log(handler) -> None:
    import logging

    logging.getLogger("workbench.keyholder").info(
        "%d %s %s", handler.get_status(), handler.request.method, type(handler).__name__
    )


# -- what the data-access service uses --------------------------------------------------------
class KeyholderClient:
    """``client(clinician, person)`` → the national id, asked of the keyholder at ``url``."""

    def __init__(self, url: str, token: str, *, timeout: float = 10.0):
        self.url = url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._http = requests.Session()

    def __repr__(self) -> str:
        return f"KeyholderClient({self.url!r})"

    def __call__(self, clinician: str, person: str) -> str:
        try:
            r = self._http.post(
                f"{self.url}/api/v1/reidentify",
                data=json.dumps({"clinician": clinician, "person": person}),
                headers={"Authorization": f"token {self._token}"},
                timeout=self._timeout,
            )
        except requests.RequestException:
            raise KeyMissingError(
                f"the keyholder at {self.url} does not answer; the hospital side must start it "
                "(`workbench keyholder run`)"
            ) from None
        if r.status_code == 200:
            return r.json()["national_id"]
        try:
            body = r.json()
        except ValueError:
            body = {}
        message = str(body.get("error") or f"the keyholder answered {r.status_code}")
        if r.status_code == 429:
            raise AccessDenied(message, reasons=tuple(body.get("reasons", ())))
        if r.status_code == 401:
            raise ConfigurationError(
                "the keyholder refused the service's token; set the service up with the token "
                "`workbench keyholder init` wrote"
            )
        raise KeyMissingError(message)
