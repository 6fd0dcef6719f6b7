"""The client of the data-access service: ``workbench.connect(url)`` → a remote cohort.

>>> cohort = workbench.connect("http://127.0.0.1:8765")            # doctest: +SKIP
>>> s = cohort.session(purpose=workbench.Research(project="EPI-7"))  # doctest: +SKIP
>>> s.allele_counts(gene="SCN1A")                                    # doctest: +SKIP

A :class:`RemoteSession` has the methods of :class:`workbench.access.session.Session`, with the
same arguments, results and errors (``AccessDenied``, ``DisclosureRefused`` …), so notebooks
run unchanged against either. The difference is where the work happens: the service decides,
filters, computes and audits; the client sends a purpose and arguments and receives plain
values. Who asks is the token's user. The token comes from ``token=`` or the environment
(``WORKBENCH_TOKEN``; a data steward issues it with ``workbench service token issue``), or, in
a JupyterHub server, is the hub's ``JUPYTERHUB_API_TOKEN``, whose user the hub names.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
import urllib.parse
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import requests

from .. import errors as _errors
from ..access.policy import purpose_to_dict
from ..access.session import Session
from ..errors import (
    AccessDenied,
    AuthenticationError,
    ConfigurationError,
    InputError,
    WorkbenchError,
)
from ..io import cache_root
from . import wire
from .app import SESSION_METHODS

__all__ = [
    "AuthenticationError",
    "RemoteCohort",
    "RemoteProgress",
    "RemoteSession",
    "connect",
    "reach",
]

TOKEN_ENV = "WORKBENCH_TOKEN"
#: On JupyterHub, a user's server holds its hub API token here; the service asks the hub whose.
HUB_TOKEN_ENV = "JUPYTERHUB_API_TOKEN"
_TIMEOUT = (5, 600)
#: How many issued results a client remembers handles for (the service keeps 64).
_REMEMBERED = 32


def connect(url: str, *, token: str | None = None) -> RemoteCohort:
    """A :class:`RemoteCohort` served by the data-access service at ``url``.

    Raises :class:`AuthenticationError` when the token is refused and
    :class:`~workbench.errors.ConfigurationError` when no service answers at ``url``.
    """
    token = token or os.environ.get(TOKEN_ENV) or os.environ.get(HUB_TOKEN_ENV)
    if not token:
        raise InputError(
            f"no token: pass token=… or set {TOKEN_ENV}; a data steward issues one with "
            "`workbench service token issue USER --state DIR` (on JupyterHub your server's "
            f"{HUB_TOKEN_ENV} is used)"
        )
    return RemoteCohort(url, token)


def reach(folder, *, service: str = "", tokens: Mapping[str, str] | None = None):
    """``user`` → the cohort as that user reaches it (see :func:`workbench.reach`)."""
    if tokens is not None and not isinstance(tokens, Mapping):
        raise InputError(f"tokens must map user ids to tokens, got {type(tokens).__name__}")
    if not service:
        from ..cohort import open_cohort

        opened = functools.cache(lambda: open_cohort(folder))
        return lambda user: opened()
    tokens = dict(tokens or {})
    return functools.cache(lambda user: connect(service, token=tokens.get(user)))


def _sha256(path: Path) -> str | None:
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return None


class _Transport:
    def __init__(self, url: str, token: str):
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise InputError(f"url must be http(s)://host:port, got {url!r}")
        self.url = url.rstrip("/")
        self.token = token
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"token {token}"

    def request(self, method: str, path: str, *, body=None, raw: bool = False):
        try:
            r = self.http.request(
                method,
                f"{self.url}/api/v1/{path}",
                data=None if body is None else wire.dumps(body),
                headers={"Content-Type": "application/json"},
                timeout=_TIMEOUT,
            )
        except requests.ConnectionError:
            raise ConfigurationError(
                f"no data-access service answers at {self.url}; start it with "
                "`workbench service run --state DIR` or check the address"
            ) from None
        if r.status_code >= 400:
            raise _error(r)
        if r.status_code == 204:
            return None
        if raw:
            return r.content
        return wire.loads(r.content)


def _error(r: requests.Response) -> WorkbenchError:
    """The workbench error the service reported, rebuilt on this side."""
    try:
        body = r.json()
        name, message, reasons = body["error"], body["message"], tuple(body.get("reasons", ()))
    except (ValueError, KeyError, TypeError):
        return ConfigurationError(f"the service answered {r.status_code} without an explanation")
    cls = getattr(_errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, WorkbenchError)):
        cls = AccessDenied if r.status_code == 403 else WorkbenchError
    if issubclass(cls, AccessDenied):
        return cls(message, reasons=reasons)
    if cls is _errors.AuditIntegrityError:
        return cls(message, sequence=None)
    try:
        return cls(message)
    except TypeError:
        return WorkbenchError(message)


class RemoteCohort:
    """A cohort behind the data-access service: sessions only, no files."""

    def __init__(self, url: str, token: str):
        self._transport = _Transport(url, token)
        self._info = self._transport.request("GET", "cohort")
        self.user = self._transport.request("GET", "me")["user"]

    @property
    def name(self) -> str:
        return self._info["name"]

    @property
    def preset(self) -> str:
        return self._info["preset"]

    @property
    def contigs(self) -> dict[str, int]:
        return dict(self._info["contigs"])

    @property
    def size(self) -> int:
        """How many people the cohort holds genomes of."""
        return int(self._info["size"])

    def __repr__(self) -> str:
        return f"<RemoteCohort {self.name!r} at {self._transport.url} as {self.user!r}>"

    @property
    def version(self) -> str:
        """What identifies the cohort's contents (a digest of its manifest)."""
        return self._info["version"]

    @property
    def public_folder(self) -> Path:
        """A checked local copy of the public parts, ``reference/`` and ``knowledge/``."""
        return self._public

    # -- a class's progress (see workbench.service.progress) -------------------------------
    def record_attempt(self, *, course: str, exercise_id: str, response, correct) -> int:
        """Record one attempt of yours at an exercise; returns its number."""
        body = {"course": course, "exercise_id": exercise_id, "response": response,
                "correct": correct}  # fmt: skip
        return int(self._transport.request("POST", "progress", body=body)["attempt"])

    def attempts(self) -> pd.DataFrame:
        """Your own attempts (responses as the service keeps them: keyed digests)."""
        return self._transport.request("GET", "progress")["attempts"]

    def class_attempts(self) -> pd.DataFrame:
        """Every learner's attempts (trainers only)."""
        return self._transport.request("GET", "progress/class")["attempts"]

    def reset_learner(self, learner: str) -> int:
        """Delete every attempt of ``learner`` (trainers only); returns how many."""
        if not isinstance(learner, str) or not learner:
            raise InputError(f"learner must be a user id, got {learner!r}")
        path = f"progress/learners/{urllib.parse.quote(learner, safe='')}"
        return int(self._transport.request("DELETE", path)["removed"])

    def progress_store(self) -> RemoteProgress:
        """Your attempts through the service, as a :class:`~workbench.teach.ProgressStore`
        takes them (for the exercise widgets)."""
        store = RemoteProgress(self._transport.url)
        store.__dict__["_cohort"] = self  # already signed in
        return store

    def worklist(self) -> dict[str, str]:
        """``{proband: family}`` for your own current patients (clinicians; empty otherwise)."""
        return dict(self._transport.request("GET", "worklist")["patients"])

    @functools.cached_property
    def reference(self):
        """The reference genome and gene models (public; fetched once, then from the cache)."""
        from ..genome import Reference

        return Reference.read(self._public / "reference")

    @functools.cached_property
    def knowledge(self):
        """Frequencies, assertions, gene–disease panels, the ACMG SF list (public; cached)."""
        from ..synth.knowledge import read_knowledge

        return read_knowledge(self._public / "knowledge")

    @functools.cached_property
    def _public(self) -> Path:
        """A local copy of the cohort's public parts, checked against the service's checksums.

        The service names each public file with its SHA-256 from the manifest it verified; a
        copy is fetched into a fresh folder, each file checked, then renamed into place, so an
        interrupted fetch leaves nothing half-written and later cohorts reuse a whole copy. A
        kept copy is checked again before use (about 10 ms for the teaching cohort's 11 MB):
        one altered since, by accident or in a shared cache, is fetched afresh.
        """
        files = self._transport.request("GET", "public")["files"]
        listing = json.dumps(files, sort_keys=True).encode()
        root = cache_root()
        folder = root / "public" / f"{self.name}-{hashlib.sha256(listing).hexdigest()[:16]}"
        if folder.is_dir():
            if all(_sha256(folder / n) == d for n, d in files.items()):
                return folder
            shutil.rmtree(folder)  # damaged or altered since: fetched afresh below
        root.joinpath("public").mkdir(parents=True, exist_ok=True)
        fresh = Path(tempfile.mkdtemp(prefix=".fetching-", dir=root / "public"))
        try:
            for name, digest in files.items():
                body = self._transport.request("GET", f"public/{name}", raw=True)
                if hashlib.sha256(body).hexdigest() != digest:
                    raise ConfigurationError(
                        f"the service sent {name} with a checksum other than its manifest's; "
                        "ask the data steward to check the cohort (workbench verify)"
                    )
                target = fresh / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(body)
            try:
                fresh.rename(folder)
            except OSError:  # another kernel fetched the same copy meanwhile: keep theirs
                if not folder.is_dir():
                    raise
        finally:
            shutil.rmtree(fresh, ignore_errors=True)
        return folder

    def session(self, *, purpose, user: str | None = None, today: str | None = None):
        """A :class:`RemoteSession` for ``purpose``, as the token's user.

        ``user`` may be given so code written for the in-process mode runs unchanged; it must
        then be the token's user. ``today`` is a data steward's what-if (recorded).
        """
        if user is not None and user != self.user:
            raise InputError(
                f"you are signed in to the service as {self.user!r}, not {user!r}: the service "
                "knows who you are from your token"
            )
        body = {"purpose": purpose_to_dict(purpose)}
        if today is not None:
            body["today"] = today
        opened = self._transport.request("POST", "sessions", body=body)
        return RemoteSession(self, opened)


class RemoteProgress:
    """A learner's progress kept by the service: ``record`` and ``attempts`` as
    :class:`workbench.teach.ProgressStore` has them, the learner being the token's user.

    The service is reached at the first record (an exercise widget is made before anyone
    answers), so a notebook opens even while the service is away.
    """

    def __init__(self, url: str, *, token: str | None = None):
        self.url = url
        self._token = token

    @functools.cached_property
    def _cohort(self) -> RemoteCohort:
        return connect(self.url, token=self._token)

    @property
    def learner(self) -> str:
        return self._cohort.user

    def __repr__(self) -> str:
        return f"<RemoteProgress at {self.url}>"

    def record(self, *, course: str, exercise_id: str, response, correct) -> int:
        return self._cohort.record_attempt(
            course=course, exercise_id=exercise_id, response=response, correct=correct
        )

    def attempts(self) -> pd.DataFrame:
        return self._cohort.attempts()


def _remote(name: str):
    @functools.wraps(getattr(Session, name))
    def method(self, *args, **kwargs):
        return self._call(name, args, kwargs)

    return method


class RemoteSession:
    """A session held by the service; the same methods as an in-process ``Session``."""

    def __init__(self, cohort: RemoteCohort, opened: dict):
        self.cohort = cohort
        self.user = opened["user"]
        self.purpose = opened["purpose"]
        self.today = opened["today"]
        self._key = opened["session"]
        self._handles: dict[int, tuple[object, str]] = {}
        self._closed = False

    def __repr__(self) -> str:
        return f"<RemoteSession user={self.user!r} purpose={self.purpose}>"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        """Close the session on the service (a closed session refuses every call)."""
        if not self._closed:
            self._closed = True
            self.cohort._transport.request("DELETE", f"sessions/{self._key}")

    def _call(self, name: str, args, kwargs):
        if self._closed:
            raise AccessDenied("this session is closed; open a new one", reasons=())
        reply = self.cohort._transport.request(
            "POST", f"sessions/{self._key}/call/{name}", body={"args": list(args), "kwargs": kwargs}
        )
        if "$view" in reply:
            return RemoteGenotypeView(self, reply["$view"])
        value, handle = reply["value"], reply["handle"]
        if handle is not None and isinstance(value, pd.DataFrame | dict | list):
            self._handles[id(value)] = (value, handle)
            while len(self._handles) > _REMEMBERED:
                self._handles.pop(next(iter(self._handles)))
        return value

    def overlap_with(self, other: RemoteSession) -> dict:
        """How this view and ``other``'s overlap, in counts (you must hold both sessions)."""
        if not isinstance(other, RemoteSession):
            raise InputError("both sessions must be held by the same data-access service")
        return self.cohort._transport.request(
            "POST",
            f"sessions/{self._key}/overlap",
            body={"other": other._key, "other_token": other.cohort._transport.token},
        )

    def export(self, result) -> dict:
        """The airlock (see :meth:`Session.export`): the service releases what it issued."""
        held = self._handles.get(id(result))
        if held is not None and held[0] is result:
            return self._call("export", (), {"handle": held[1]})
        return self._call("export", (result,), {})


for _name in SESSION_METHODS:
    if _name != "export":
        setattr(RemoteSession, _name, _remote(_name))
RemoteSession.export.__doc__ = Session.export.__doc__


class RemoteGenotypeView:
    """A genotype view held by the service (see :class:`workbench.access.view.GenotypeView`).

    ``genotypes()`` is decided and audited by the service as one read; its chunks then come
    over the wire as ``.npy`` bodies, lazily, as a dask array.
    """

    def __init__(self, session: RemoteSession, opened: dict):
        self._session = session
        self._handle = opened["handle"]
        self._samples = opened["samples"]
        self._contigs = dict(opened["contigs"])
        self.notes = tuple(opened["notes"])

    def __repr__(self) -> str:
        return f"<RemoteGenotypeView people={len(self._samples)} for {self._session!r}>"

    @property
    def sample_ids(self) -> list[str]:
        return list(self._samples.person_id)

    @property
    def contigs(self) -> dict[str, int]:
        return dict(self._contigs)

    def samples(self) -> pd.DataFrame:
        return self._samples.copy()

    def _op(self, op: str, kwargs: dict):
        s = self._session
        return s.cohort._transport.request(
            "POST", f"sessions/{s._key}/views/{self._handle}/{op}", body={"kwargs": kwargs}
        )

    def variants(self, *, contig: str | None = None, region=None) -> pd.DataFrame:
        return self._op("variants", {"contig": contig, "region": region})["value"]

    def genotypes(self, *, contig: str | None = None, region=None):
        """Calls of the people in view, as a lazy :class:`allel.GenotypeDaskArray`."""
        import allel
        import dask
        import dask.array as da

        opened = self._op("genotypes", {"contig": contig, "region": region})
        transport, key = self._session.cohort._transport, self._session._key
        shape, dtype = tuple(opened["shape"]), np.dtype(opened["dtype"])

        def fetch(i: int) -> np.ndarray:
            body = transport.request("GET", f"sessions/{key}/reads/{opened['read']}/{i}", raw=True)
            return wire.chunk_from_bytes(body)

        blocks = [
            da.from_delayed(dask.delayed(fetch)(i), shape=(n, *shape[1:]), dtype=dtype)
            for i, n in enumerate(opened["chunks"])
        ]
        array = da.concatenate(blocks, axis=0) if blocks else da.zeros(shape, dtype=dtype)
        return allel.GenotypeDaskArray(array)
