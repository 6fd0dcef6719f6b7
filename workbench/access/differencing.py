"""The differencing guard: no two released counts may differ by a few people, whoever asked.

See :mod:`workbench.access.disclosure` for how the airlock uses it.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
from collections.abc import Iterable
from pathlib import Path

from ..errors import AuditIntegrityError, InputError
from .duo import Decision, approve, deny
from .masking import DEFAULT_THRESHOLD, _check_threshold

__all__ = [
    "RELEASE_FILES",
    "DifferencingGuard",
    "check_release_history",
    "check_release_marks",
    "release_marks",
]

#: Release histories of the differencing guards (queries and airlock exports), in the secrets
#: folder; each name is also how audit entries mark it.
RELEASE_FILES = {"queries": "releases-queries.jsonl", "exports": "releases-exports.jsonl"}

#: How an audit entry names the release history as it stood after its release:
#: ``releases.<name>.<lines>.<digest of the last line>``.
MARK_PREFIX = "releases."


# -- differencing -----------------------------------------------------------------------------


class DifferencingGuard:
    """Remembers the populations behind released counts, whoever asked for them.

    Members are stored as keyed BLAKE2b digests (the guard's own random key), never as ids.
    A new count is refused when its population differs from *any* earlier released one by
    1 … ``threshold`` − 1 people: subtracting the two counts would describe those people. The
    history is the population's, not the caller's: a count released to a trainer before an
    opt-out and one released to a student after it differ by the person who opted out, and
    two projects with identical views would otherwise each release half of a difference.
    Who asked (user, project) is kept with each release, for the record only.

    With ``path``, every release is also appended to a JSON-lines file (user, project,
    label and the keyed digests) and the file is read back on creation, so the history
    outlives the process; the key must then be the same each time (derive it from a
    service secret), or the stored digests match nothing. Each line names the SHA-256 of the
    line before it (``prev``), and the session puts the file's length and last digest
    (:meth:`mark`) in the audit entry of each call that released something, so the history is
    held under the audit chain: a line removed, edited or cut off is found on reading
    (:func:`check_release_marks`).

    Limits: only pairwise differences are checked (not differences of unions of several
    earlier releases).
    """

    def __init__(self, *, threshold: int = DEFAULT_THRESHOLD, key: bytes | None = None, path=None):
        self.threshold = _check_threshold(threshold)
        if key is None:
            if path is not None:
                raise InputError("a persisted history needs a fixed key (pass key=…)")
            key = secrets.token_bytes(32)
        if not isinstance(key, bytes) or not 16 <= len(key) <= 64:
            raise InputError("key must be 16 to 64 bytes (or None for a random one)")
        self._key = key
        #: Held from a check to its record, so two sessions on two threads cannot both pass
        #: a check the first one's release would have failed.
        self.lock = threading.RLock()
        # (user, project, label, members) of every release, in order
        self._released: list[tuple[str, str, str, frozenset[bytes]]] = []
        #: SHA-256 of the file's last line ("" before the first)
        self._head = ""
        self.path = None if path is None else Path(path)
        if self.path is not None and self.path.exists():
            self._load()

    def _load(self) -> None:
        with open(self.path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                line = line.rstrip("\n")
                try:
                    rec = json.loads(line)
                    if rec["prev"] != self._head:
                        raise ValueError("it does not follow the line before it")
                    user, project = self._scope(rec["user"], rec["project"])
                    members = frozenset(bytes.fromhex(h) for h in rec["members"])
                    label = str(rec["label"])
                except (ValueError, KeyError, TypeError) as e:
                    raise AuditIntegrityError(
                        f"{self.path} line {n} is not a release record ({e}); the release "
                        "history is damaged — restore it before releasing more counts",
                        sequence=n,
                    ) from None
                self._released.append((user, project, label, members))
                self._head = _line_digest(line)

    def mark(self, name: str) -> str:
        """This history's length and last line, for the audit entry of a call that released."""
        return f"{MARK_PREFIX}{name}.{len(self._released)}.{self._head[:32]}"

    def __repr__(self) -> str:
        return f"DifferencingGuard(threshold={self.threshold}, releases={len(self._released)})"

    def _digest(self, member) -> bytes:
        if not isinstance(member, str):
            raise InputError(f"population members must be str ids, got {type(member).__name__}")
        return hashlib.blake2b(member.encode("utf-8"), key=self._key, digest_size=16).digest()

    def _population(self, population) -> frozenset[bytes]:
        if isinstance(population, str) or not isinstance(population, Iterable):
            raise InputError("population must be an iterable of person ids (not a single str)")
        return frozenset(self._digest(p) for p in population)

    @staticmethod
    def _scope(user, project) -> tuple[str, str]:
        for name, v in (("user", user), ("project", project)):
            if not isinstance(v, str) or not v:
                raise InputError(f"{name} must be a non-empty str, got {v!r}")
        return (user, project)

    def _check(self, pop: frozenset[bytes], extra=()) -> Decision:
        earlier = [*((label, q) for _, _, label, q in self._released), *extra]
        for label, q in earlier:
            d = len(pop ^ q)
            if 1 <= d < self.threshold:
                return deny(
                    "disclosure.differencing",
                    f"this count's population differs from the earlier release {label!r} by "
                    f"fewer than {self.threshold} people; subtracting the two would describe "
                    "them",
                )
        return approve("disclosure.no_differencing", "no near-duplicate of an earlier release")

    def check(self, *, user: str, project: str, population) -> Decision:
        """Would releasing a count over ``population`` to anyone be safe? (Records nothing.)

        ``user`` and ``project`` are checked for shape only: the history is everyone's.
        """
        self._scope(user, project)
        return self._check(self._population(population))

    def record(self, *, user: str, project: str, population, label: str = "") -> None:
        """Remember that a count over ``population`` was released (to ``user`` in ``project``)."""
        user, project = self._scope(user, project)
        if not isinstance(label, str):
            raise InputError(f"label must be a str, got {type(label).__name__}")
        label = label or f"release {len(self._released) + 1}"
        members = self._population(population)
        if self.path is not None:
            record = {
                "user": user,
                "project": project,
                "label": label,
                "members": sorted(m.hex() for m in members),
                "prev": self._head,
            }
            line = json.dumps(record, sort_keys=True)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(line + "\n")
                f.flush()
                os.fsync(f.fileno())
            self._head = _line_digest(line)
        self._released.append((user, project, label, members))

    def releases(self, *, user: str, project: str) -> list[dict]:
        """The earlier releases to (user, project): label and population size."""
        scope = self._scope(user, project)
        return [
            {"label": lab, "size": len(q)} for u, p, lab, q in self._released if (u, p) == scope
        ]


def _line_digest(line: str) -> str:
    return hashlib.sha256(line.encode("utf-8")).hexdigest()


def release_marks(bases) -> dict[str, dict[int, str]]:
    """History name → {length: digest} from audit entries' bases (see :meth:`mark`)."""
    marks: dict[str, dict[int, str]] = {}
    for basis in bases:
        for code in basis:
            if not code.startswith(MARK_PREFIX):
                continue
            name, _, rest = code.removeprefix(MARK_PREFIX).partition(".")
            length, _, digest = rest.partition(".")
            if length.isdigit():
                marks.setdefault(name, {})[int(length)] = digest
    return marks


def check_release_marks(path, marks: dict[int, str]) -> str | None:
    """``None`` when the history file holds every release the audit log vouches for, else why.

    Each line must follow the one before it, and the line at each length an audit entry
    recorded must be the one it named. Lines after the last mark (a release whose call then
    failed) are allowed.
    """
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    head = ""
    for n, line in enumerate(lines, 1):
        try:
            prev = json.loads(line)["prev"]
        except (ValueError, KeyError, TypeError):
            prev = None
        if prev != head:
            return (
                f"{path.name} line {n} does not follow the line before it: releases were "
                "removed or edited; restore the file from a backup"
            )
        head = _line_digest(line)
        if n in marks and not head.startswith(marks[n]):
            return (
                f"{path.name} line {n} is not the release the audit log recorded; restore the "
                "file from a backup"
            )
    if marks and max(marks) > len(lines):
        return (
            f"{path.name} holds {len(lines)} releases but the audit log vouches for "
            f"{max(marks)}: releases were cut off; restore the file from a backup"
        )
    return None


def check_release_history(conn, folder, names=tuple(RELEASE_FILES)) -> str | None:
    """``None`` when the release histories in ``folder`` hold what the audit log vouches for.

    ``conn`` is the registry; the marks are read from its (HMAC-chained) audit entries.
    """
    rows = conn.execute(
        "SELECT basis FROM audit_log WHERE basis LIKE ?", (f'%"{MARK_PREFIX}%',)
    ).fetchall()
    marks = release_marks(json.loads(b) for (b,) in rows)
    for name in names:
        problem = check_release_marks(Path(folder) / RELEASE_FILES[name], marks.get(name, {}))
        if problem:
            return problem
    return None
