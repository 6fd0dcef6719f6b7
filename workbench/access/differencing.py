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

__all__ = ["DifferencingGuard"]


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
    service secret), or the stored digests match nothing.

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
        self.path = None if path is None else Path(path)
        if self.path is not None and self.path.exists():
            self._load()

    def _load(self) -> None:
        with open(self.path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
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
            }
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record, sort_keys=True) + "\n")
                f.flush()
                os.fsync(f.fileno())
        self._released.append((user, project, label, members))

    def releases(self, *, user: str, project: str) -> list[dict]:
        """The earlier releases to (user, project): label and population size."""
        scope = self._scope(user, project)
        return [
            {"label": lab, "size": len(q)} for u, p, lab, q in self._released if (u, p) == scope
        ]
