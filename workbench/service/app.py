"""The data-access service: a Tornado application that alone holds the data, keys and clock.

Tornado is the web stack of Jupyter itself (jupyter_server, JupyterHub and its service
authentication are built on it), so the service adds no new stack to the workbench and can
become a JupyterHub-managed service without a second framework.

Routes (JSON unless said otherwise; every route but ``health`` needs
``Authorization: token <token>``)::

    GET  /api/v1/health                         liveness, no data
    GET  /api/v1/me                             the caller's identity as the service sees it
    GET  /api/v1/cohort                         name, preset, contigs, size (no one's data)
    GET  /api/v1/worklist                       the caller's own patients and their families
    GET  /api/v1/public                         the public parts' files and checksums
    GET  /api/v1/public/<file>                  one of them (reference genome, knowledge)
    POST /api/v1/sessions                       {"purpose": {...}, "today": null} → {"session"}
    POST /api/v1/sessions/<s>/call/<method>     {"args": [...], "kwargs": {...}} → result
    POST /api/v1/sessions/<s>/views/<v>/<op>    a genotype view: variants, genotypes
    GET  /api/v1/sessions/<s>/reads/<r>/<i>     chunk i of a genotype read (.npy body)
    POST /api/v1/sessions/<s>/overlap           {"other", "other_token"}: two views, counts
    DELETE /api/v1/sessions/<s>                 close the session

Who asks is the token's user, never a field of the request; the decision date is the
service's (the registry's reference date, the synthetic world's clock) and the audit times are
the service's UTC clock. A request for another date (``today``) is a what-if only a data steward
may ask, recorded in the audit log. Sessions and the results they issued stay in this process:
the client holds handles, so the airlock releases what was issued, not what a client sends.

Each session's calls run on a thread of that session's own (its registry connection never
leaves it), so one user's long call does not hold up another's; what sessions share — the
release histories of the differencing guard, the registry seal, the audit chain — is locked
or transactional (see :mod:`workbench.access.session`). The access log names the route and
status only — never a path (which carries handles), a body (which may carry person ids) or a
token.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import inspect
import json
import logging
import secrets
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import tornado.ioloop
import tornado.web

from ..access.session import ADMIN_CHANGES
from ..access.view import still_admitted
from ..errors import (
    AccessDenied,
    AuditIntegrityError,
    AuthenticationError,
    ConfigurationError,
    ConsentDenied,
    InputError,
    WorkbenchError,
)
from . import wire
from .state import Identity, ServiceState

__all__ = ["SESSION_METHODS", "make_app"]

log = logging.getLogger("workbench.service")

#: Session methods a client may call (each decided and audited by the session itself).
SESSION_METHODS = (
    "decision",
    "samples",
    "genotypes",
    "true_genotypes",
    "reads",
    "phenotypes",
    "phenopacket",
    "findings",
    "allele_counts",
    "export",
    "reidentify",
    "audit_verify",
    "audit_log",
    "consents",
    "grants",
    *ADMIN_CHANGES,
    "consent_history",
    "genotype_view",
    "explain",
    "seal_registry",
)
#: The cohort's public parts, which any analyst may hold a copy of: the reference genome and
#: gene models, and the knowledge bases (frequencies, assertions, gene–disease panels, the ACMG
#: SF list) — what GRCh38, gnomAD and ClinVar are to a real centre. No person's data.
PUBLIC_PARTS = ("reference/", "knowledge/")
#: Sessions a user may hold open at once, and how long an idle one lives (seconds).
MAX_SESSIONS_PER_USER = 16
IDLE_SECONDS = 3600
#: The size a genotype read's chunks are served at (before compression), in bytes.
CHUNK_BYTES = 16 << 20
#: How many issued results (and reads) a session keeps handles for.
_KEPT = 64
#: Failed sign-ins from one address within a minute after which it is slowed down: its
#: unknown tokens are no longer put to the hub (no one can make the service flood the hub),
#: and each failure is answered 429 with a wait. Tokens the service issued still work.
SIGNIN_FAILURES_PER_MINUTE = 20
#: The largest request body the service reads (a call's arguments; results leave by handle).
MAX_BODY_BYTES = 8 * 1024 * 1024


@dataclass
class _Open:
    """A session the service holds for one user, with the handles it gave out.

    Each session has a thread of its own: every call of the session runs there (its registry
    connection never leaves it), so one user's long call does not hold up the others.
    """

    session: object
    user: str
    last_used: float
    worker: ThreadPoolExecutor
    results: dict[str, object] = field(default_factory=dict)
    views: dict[str, object] = field(default_factory=dict)
    reads: dict[str, object] = field(default_factory=dict)

    async def run(self, fn, *args, **kwargs):
        """``fn(*args, **kwargs)`` on the session's own thread."""
        call = functools.partial(fn, *args, **kwargs)
        return await tornado.ioloop.IOLoop.current().run_in_executor(self.worker, call)

    def keep(self, table: dict, obj) -> str:
        handle = secrets.token_urlsafe(12)
        table[handle] = obj
        while len(table) > _KEPT:
            table.pop(next(iter(table)))
        return handle


class Registry:
    """The service's open sessions, owned by the users who opened them."""

    def __init__(self, state: ServiceState):
        self.state = state
        self.cohort = state.cohort
        self.open: dict[str, _Open] = {}
        self._failed_signins: dict[str, collections.deque] = {}
        #: every exercise attempt of a class, under each learner's identity
        self.progress = _progress_ledger(state)
        #: name → SHA-256 of each public file, from the manifest the service verified
        self.public = {
            name: digest
            for name, digest in sorted(self.cohort.manifest["files"].items())
            if name.startswith(PUBLIC_PARTS)
        }

    async def create(self, identity: Identity, purpose, today: str | None) -> tuple[str, object]:
        from ..access.policy import load_principal
        from ..access.schema import connect

        self.reap()
        mine = [k for k, o in self.open.items() if o.user == identity.user]
        if len(mine) >= MAX_SESSIONS_PER_USER:
            raise InputError(
                f"you hold {len(mine)} open sessions; close some (session.close()) first"
            )
        if today is not None:
            conn = connect(self.state.cohort_path / "registry.sqlite", readonly=True)
            try:
                principal = load_principal(conn, identity.user)
            finally:
                conn.close()
            if principal is None or principal.role != "steward":
                raise AccessDenied(
                    "the service's clock decides; only a data steward may ask a what-if for "
                    "another date",
                    reasons=("clock.service_decides",),
                )
        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="session")
        opening = functools.partial(
            self.state.session, user=identity.user, purpose=purpose, today=today
        )
        try:
            session = await tornado.ioloop.IOLoop.current().run_in_executor(worker, opening)
        except BaseException:
            worker.shutdown(wait=False)
            raise
        key = secrets.token_urlsafe(18)
        self.open[key] = _Open(session, identity.user, time.monotonic(), worker)
        return key, session

    def signin_throttled(self, address: str) -> bool:
        """Whether ``address`` failed to sign in too often within the last minute."""
        failures = self._failed_signins.get(address)
        if not failures:
            return False
        while failures and time.monotonic() - failures[0] > 60.0:
            failures.popleft()
        return len(failures) >= SIGNIN_FAILURES_PER_MINUTE

    def signin_failed(self, address: str) -> None:
        if len(self._failed_signins) > 10_000:  # a flood from many addresses: start afresh
            self._failed_signins.clear()
        failures = self._failed_signins.setdefault(
            address, collections.deque(maxlen=SIGNIN_FAILURES_PER_MINUTE)
        )
        failures.append(time.monotonic())

    def get(self, identity: Identity, key: str) -> _Open:
        held = self.open.get(key)
        if held is None or held.user != identity.user:  # another's session: as if absent
            raise tornado.web.HTTPError(404)
        held.last_used = time.monotonic()
        return held

    def close(self, key: str) -> None:
        held = self.open.pop(key, None)
        if held is not None:
            held.worker.submit(held.session.close)  # on its own thread, after any call left
            held.worker.shutdown(wait=False)

    def reap(self) -> None:
        now = time.monotonic()
        for key in [k for k, o in self.open.items() if now - o.last_used > IDLE_SECONDS]:
            self.close(key)


def _status(error: WorkbenchError) -> int:
    if isinstance(error, AccessDenied):
        return 403
    if isinstance(error, InputError):
        return 400
    if isinstance(error, ConfigurationError | AuditIntegrityError):
        return 503
    return 400


class _Handler(tornado.web.RequestHandler):
    """Authenticates every request and turns errors into one JSON line."""

    needs_identity = True

    def initialize(self, registry: Registry):
        self.registry = registry
        self.identity: Identity | None = None

    def prepare(self):
        if not self.needs_identity:
            return
        header = self.request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        address = self.request.remote_ip or ""
        throttled = self.registry.signin_throttled(address)
        if scheme.lower() in ("token", "bearer"):
            try:
                self.identity = self.registry.state.authenticate(
                    token.strip(), ask_hub=not throttled
                )
            except AuthenticationError as e:  # a hub user the registry does not know
                self.set_status(403)
                self._json({"error": type(e).__name__, "message": str(e), "reasons": e.reasons})
                self.finish()
                return
        if self.identity is None:
            self.registry.signin_failed(address)
            if throttled:
                self.set_status(429)
                self.set_header("Retry-After", "60")
                message = "too many failed sign-ins from your address: wait a minute, then "
                reason = "auth.too_many_failures"
            else:
                self.set_status(401)
                self.set_header("WWW-Authenticate", 'Token realm="workbench"')
                message = "no valid token: "
                reason = "auth.no_valid_token"
            self._json(
                {
                    "error": "AuthenticationError",
                    "message": message + "ask a data steward for a token "
                    "(`workbench service token issue`) and pass it to workbench.connect",
                    "reasons": [reason],
                }
            )
            self.finish()

    def _json(self, obj) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.write(json.dumps(obj, ensure_ascii=False))

    def _send(self, value) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.write(wire.dumps(value))

    def _body(self) -> dict:
        body = wire.loads(self.request.body)
        if not isinstance(body, dict):
            raise InputError("the request body must be a JSON object")
        return body

    def log_exception(self, typ, value, tb):
        """Tornado logs an exception with its message; the message may carry a person's id."""
        if isinstance(value, WorkbenchError | tornado.web.HTTPError):
            return  # a refusal or a bad request: the access log line says enough
        log.error(
            "internal error %s in %s\n%s",
            typ.__name__,
            type(self).__name__,
            "".join(traceback.format_tb(tb)),
        )

    def write_error(self, status_code: int, **kwargs):
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, WorkbenchError):
            self.set_status(_status(exc))
            self._json(
                {
                    "error": type(exc).__name__,
                    "message": str(exc),
                    "reasons": [str(r) for r in getattr(exc, "reasons", ()) or ()],
                }
            )
            return
        message = {404: "no such session, view or route", 401: "not authenticated"}.get(
            status_code, "the service failed; a steward can read its log"
        )
        self._json({"error": "ServiceError", "message": message, "reasons": []})


class Health(_Handler):
    needs_identity = False

    def get(self):
        self._json({"status": "ok"})


class Me(_Handler):
    def get(self):
        self._json(
            {
                "user": self.identity.user,
                "token_id": self.identity.token_id,
                "expires_at": self.identity.expires_at,
                "entitlements": sorted(self.identity.entitlements),
            }
        )


class CohortInfo(_Handler):
    def get(self):
        cohort = self.registry.cohort
        self._json(
            {
                "name": cohort.name,
                "preset": cohort.preset,
                "contigs": cohort.contigs,
                "size": cohort.size,
                "version": cohort.version,
                "disclosure_profile": self.registry.state.disclosure,
            }
        )


class PublicIndex(_Handler):
    def get(self):
        self._json({"files": self.registry.public})


class PublicFile(_Handler):
    """A public file, as the manifest names it; anything else is as if absent."""

    def get(self, name):
        if name not in self.registry.public:
            raise tornado.web.HTTPError(404)
        self.set_header("Content-Type", "application/octet-stream")
        self.write((self.registry.state.cohort_path / name).read_bytes())


class Sessions(_Handler):
    async def post(self):
        from ..access.policy import purpose_to_dict

        body = self._body()
        unknown = sorted(set(body) - {"purpose", "today"})
        if unknown:
            raise InputError(
                f"a session is opened with a purpose (and a steward's what-if date) only; "
                f"{', '.join(unknown)} not accepted: the service knows who you are"
            )
        key, session = await self.registry.create(
            self.identity, body.get("purpose"), body.get("today")
        )
        self._json(
            {
                "session": key,
                "user": session.user,
                "purpose": purpose_to_dict(session.purpose),
                "today": session.today,
            }
        )


class Worklist(_Handler):
    def get(self):
        from ..access.explain import worklist

        self._json({"patients": worklist(self.registry.cohort, user=self.identity.user)})


class MyProgress(_Handler):
    """A learner's own attempts (GET), and one more (POST), under the token's identity."""

    def get(self):
        self._send({"attempts": self.registry.progress.attempts(self.identity.user)})

    def post(self):
        body = self._body()
        unexpected = set(body) - {"course", "exercise_id", "response", "correct"}
        if unexpected:  # who answered is the token's user, never a field of the request
            raise InputError(f"unexpected field(s) {', '.join(sorted(unexpected))}")
        n = self.registry.progress.record(
            self.identity.user,
            course=body.get("course"),
            exercise_id=body.get("exercise_id"),
            response=body.get("response"),
            correct=body.get("correct"),
        )
        self._json({"attempt": n})


class ClassProgress(_Handler):
    """The whole class's attempts (GET) — a trainer's only."""

    def get(self):
        self._trainer()
        self._send({"attempts": self.registry.progress.attempts()})

    def _trainer(self) -> None:
        from ..access.schema import connect
        from .progress import require_trainer

        with contextlib.closing(
            connect(self.registry.state.cohort_path / "registry.sqlite", readonly=True)
        ) as conn:
            require_trainer(conn, self.identity.user)


class LearnerProgress(ClassProgress):
    """A trainer resets a learner (DELETE): every attempt of theirs goes."""

    def get(self, learner):
        raise tornado.web.HTTPError(404)

    def delete(self, learner):
        self._trainer()
        self._json({"removed": self.registry.progress.reset(learner)})


def _progress_ledger(state: ServiceState):
    from ..access.audit import load_audit_key
    from ..access.session import AUDIT_KEY_FILE
    from .progress import PROGRESS_FILE, ProgressLedger, progress_key

    key = load_audit_key(state.secrets / AUDIT_KEY_FILE).key
    return ProgressLedger(state.path / PROGRESS_FILE, progress_key(key))


class Overlap(_Handler):
    """How two sessions' views overlap, in counts: the caller proves they hold both."""

    async def post(self, key):
        from ..access.explain import view_overlap

        held = self.registry.get(self.identity, key)
        body = self._body()
        other = self.registry.state.authenticate(body.get("other_token"))
        if other is None:
            raise tornado.web.HTTPError(404)
        held_other = self.registry.get(other, str(body.get("other")))
        # Each session reads its own view on its own thread; the comparison needs neither.
        labels = (
            set((await held.run(held.session.samples)).sample_id),
            set((await held_other.run(held_other.session.samples)).sample_id),
        )
        overlap = functools.partial(view_overlap, held.session, held_other.session, labels=labels)
        self._json(await tornado.ioloop.IOLoop.current().run_in_executor(None, overlap))


class SessionClose(_Handler):
    def delete(self, key):
        self.registry.get(self.identity, key)
        self.registry.close(key)
        self.set_status(204)


class Call(_Handler):
    async def post(self, key, method):
        if method not in SESSION_METHODS:
            raise tornado.web.HTTPError(404)
        held = self.registry.get(self.identity, key)
        body = self._body()
        args, kwargs = body.get("args", []), body.get("kwargs", {})
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise InputError("args must be a list and kwargs an object")
        if method == "export":
            args = [self._issued(held, args, kwargs)]
            kwargs = {}
        call = getattr(held.session, method)
        try:  # arguments the method does not take are the client's mistake, not the service's
            inspect.signature(call).bind(*args, **kwargs)
        except TypeError as e:
            raise InputError(f"{method}: {e}") from None
        value = await held.run(call, *args, **kwargs)
        if method == "genotype_view":
            handle = held.keep(held.views, value)
            self._send(
                {
                    "$view": {
                        "handle": handle,
                        "samples": value.samples(),
                        "contigs": value.contigs,
                        "notes": list(value.notes),
                    }
                }
            )
            return
        handle = None if method == "export" else held.keep(held.results, value)
        self._send({"value": value, "handle": handle})

    @staticmethod
    def _issued(held: _Open, args, kwargs):
        """What to export: a result this session issued (by handle), else what was sent."""
        handle = kwargs.get("handle")
        if handle is not None:
            if handle not in held.results:
                raise InputError("that result is no longer held; compute it again, then export")
            return held.results[handle]
        if len(args) != 1:
            raise InputError("export takes one result")
        return args[0]  # not issued here: the airlock will refuse it, audited


class ViewOp(_Handler):
    async def post(self, key, handle, op):
        held = self.registry.get(self.identity, key)
        view = held.views.get(handle)
        if view is None or op not in ("variants", "genotypes"):
            raise tornado.web.HTTPError(404)
        kwargs = self._body().get("kwargs", {})
        if not isinstance(kwargs, dict) or set(kwargs) - {"contig", "region"}:
            raise InputError("a view takes contig= and region= only")
        if op == "variants":
            self._send({"value": await held.run(view.variants, **kwargs)})
            return
        gt = await held.run(view.genotypes, **kwargs)  # decided and audited: a read
        # Chunks of about CHUNK_BYTES each: fewer requests, and fewer per-chunk decisions;
        # a whole number of the store's own chunks, so that none is split between two
        dask_array = gt.values
        per_variant = max(1, dask_array.nbytes // max(1, dask_array.shape[0]))
        stored = max(dask_array.chunks[0]) if dask_array.shape[0] else 1
        rows = max(1, CHUNK_BYTES // per_variant // stored) * stored
        dask_array = dask_array.rechunk({0: rows})
        read = held.keep(held.reads, (view, dask_array))
        self._json(
            {
                "read": read,
                "shape": list(dask_array.shape),
                "dtype": str(dask_array.dtype),
                "chunks": [int(c) for c in dask_array.chunks[0]],
            }
        )


class ReadChunk(_Handler):
    async def get(self, key, read, index):
        held = self.registry.get(self.identity, key)
        view, array = held.reads.get(read, (None, None))
        i = int(index)
        if array is None or not 0 <= i < len(array.chunks[0]):
            raise tornado.web.HTTPError(404)
        # The read was decided when it was opened; a chunk fetched later must not carry
        # someone who has left the view since.
        if not await held.run(still_admitted, view):
            raise ConsentDenied(
                "someone in this view may no longer be read (consent or grant changed since the "
                "read began); open a new view with session.genotype_view()",
                reasons=("consent.changed_since_view",),
            )

        def chunk() -> bytes:  # the read was decided and audited when it was opened
            return wire.chunk_to_bytes(np.asarray(array.blocks[i].compute(scheduler="sync")))

        # Decoding a chunk touches only the genotype store, never a session or the registry,
        # so it runs on a worker thread: chunks are decoded while others are being sent.
        body = await tornado.ioloop.IOLoop.current().run_in_executor(None, chunk)
        self.set_header("Content-Type", "application/x-npy+blosc")
        self.write(body)


def _log_request(handler: tornado.web.RequestHandler) -> None:
    """One line per request: status, method, route and time; never a path, body or token."""
    ms = 1000.0 * handler.request.request_time()
    log.info(
        "%d %s %s %.1fms",
        handler.get_status(),
        handler.request.method,
        type(handler).__name__,
        ms,
    )


def make_app(state: ServiceState) -> tornado.web.Application:
    """The service's application for ``state`` (opened cohort, keys, tokens)."""
    registry = Registry(state)
    args = {"registry": registry}
    handle = r"([A-Za-z0-9_-]{8,64})"
    routes = [
        (r"/api/v1/health", Health, args),
        (r"/api/v1/me", Me, args),
        (r"/api/v1/cohort", CohortInfo, args),
        (r"/api/v1/sessions", Sessions, args),
        (r"/api/v1/worklist", Worklist, args),
        (r"/api/v1/progress", MyProgress, args),
        (r"/api/v1/progress/class", ClassProgress, args),
        (r"/api/v1/progress/learners/([A-Za-z0-9_.@-]{1,64})", LearnerProgress, args),
        (r"/api/v1/public", PublicIndex, args),
        (r"/api/v1/public/((?:reference|knowledge)/[A-Za-z0-9_.-]{1,128})", PublicFile, args),
        (rf"/api/v1/sessions/{handle}", SessionClose, args),
        (rf"/api/v1/sessions/{handle}/overlap", Overlap, args),
        (rf"/api/v1/sessions/{handle}/call/([a-z_]+)", Call, args),
        (rf"/api/v1/sessions/{handle}/views/{handle}/([a-z_]+)", ViewOp, args),
        (rf"/api/v1/sessions/{handle}/reads/{handle}/([0-9]{{1,9}})", ReadChunk, args),
    ]
    app = tornado.web.Application(
        routes,
        log_function=_log_request,
        default_handler_class=_NotFound,
        default_handler_args=args,
    )
    app.registry = registry
    return app


class _NotFound(_Handler):
    def prepare(self):
        super().prepare()
        if not self._finished:
            raise tornado.web.HTTPError(404)
