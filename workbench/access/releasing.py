"""What a session releases: masked counts, and the airlock for everything that leaves.

:class:`Releasing` is part of :class:`workbench.access.session.Session` (a mixin kept in its
own module). Disclosure control is for the population rather than the caller: every count a
session releases is checked against, and recorded in, one differencing history per secrets
folder (:func:`guard_for`), shared by all users and projects and held under the audit chain
(:mod:`workbench.access.differencing`); the airlock (:meth:`Releasing.export`) releases the
copy made when a result was issued, never an object edited since.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import threading
from pathlib import Path

import pandas as pd

from ..errors import AuditIntegrityError, DisclosureRefused, InputError
from .counts import allele_count_table
from .differencing import RELEASE_FILES, check_release_history
from .disclosure import (
    DEFAULT_THRESHOLD,
    DifferencingGuard,
    ExportRequest,
    mask_rows,
    review_export,
    round_shown,
)

__all__ = ["Issued", "Releasing", "guard_for"]

_GUARDS_LOCK = threading.Lock()


@dataclasses.dataclass
class Issued:
    """What the session remembers of a result it returned, for the airlock."""

    obj: object
    kind: str
    record_level: bool
    populations: dict[str, tuple[str, ...]]
    masked: object = None
    #: a copy taken when the result was issued: what the airlock judges and releases
    frozen: object = None


class Releasing:
    """The releasing calls of a :class:`~workbench.access.session.Session`."""

    def allele_counts(self, *, gene: str | None = None, region=None, by: str = "population"):
        """Allele counts per variant and group, with small counts masked (disclosure control).

        Columns ``ac_<group>`` count alternate alleles per group and ``ac_all`` in everyone in
        view. Disclosure control, with *T* the profile's threshold (5 by default): variants
        seen fewer than *T* times are not reported (``attrs["variants_not_shown"]`` says how
        many, with the rows no mask protects), groups of fewer than *T* people are merged into
        ``other``, counts below *T* are shown as ``"<T"`` and further cells are suppressed
        (``"*"``) so the masked ones cannot be worked out from the row total, which is public.
        Under a rounding profile (OpenSAFELY) shown counts are then rounded. Counts over
        nearly the same people as any earlier release, whoever asked (differing by 1 to
        *T* − 1), are refused: subtracting them would describe those few people.
        """
        if by not in ("population", "sex"):
            raise InputError(f"by must be 'population' or 'sex', got {by!r}")
        contig, start, end = self._region(gene=gene, region=region)
        query = {"gene": gene} if gene else {"region": [contig, start, end]}
        query["by"] = by

        def compute(access, people):
            table, populations = allele_count_table(
                self._conn,
                self.cohort,
                people,
                contig,
                start,
                end,
                by,
                threshold=self._guard.threshold,
            )
            # Guard what is counted — each group and their union (ac_all) — not just the view:
            # a group dropped as too small, or one that lost a person, would otherwise be
            # recoverable by subtracting this table from an earlier one.
            with self._guard.lock:  # from the check to the record: one release at a time
                populations["all"] = tuple(p for group in populations.values() for p in group)
                for population in populations.values():
                    decision = self._guard.check(
                        user=self.user, project=self._project(), population=population
                    )
                    if not decision.approved:
                        raise DisclosureRefused(decision.reasons[0].detail, reasons=decision.codes)
                columns = [c for c in table.columns if c.startswith("ac_") and c != "ac_all"]
                # A variant's total (ac_all) is the same whatever the grouping, so it is always
                # known: a table by sex shows what one by population would hide. It is never
                # hidden (it is at least the threshold), and the groups are masked as if it were
                # public. Group totals over variants add nothing a query can give.
                by_variant = table.set_index("variant")
                rules = self.disclosure
                masked, withheld = mask_rows(
                    by_variant[columns], count_columns=columns, threshold=rules.threshold
                )
                masked.table["ac_all"] = by_variant["ac_all"].drop(index=withheld).astype(int)
                if rules.round_to:
                    rounded = round_shown(masked.table, [*columns, "ac_all"], rules.round_to)
                    for c in rounded.columns:
                        masked.table[c] = rounded[c]
                masked.table.attrs.update(table.attrs)
                masked.table.attrs["variants_not_shown"] += len(withheld)
                masked.table.attrs["disclosure_profile"] = rules.name
                for group, population in populations.items():
                    self._guard.record(
                        user=self.user,
                        project=self._project(),
                        population=population,
                        label=f"allele_counts {json.dumps(query)} {group}",
                    )
                # … and the history as it now stands goes into this call's audit entry
                basis = (f"disclosure.profile.{rules.name}", self._guard.mark("queries"))
            return (masked, populations), len(table), {"basis": basis}

        masked, populations = self._call("allele_counts", query, compute, needs="aggregate")
        out = masked.table.reset_index()
        return self._remember(
            out, kind="allele_counts", record_level=False, populations=populations, masked=masked
        )

    def export(self, result) -> dict:
        """The airlock: release ``result`` for use outside, or refuse and say why.

        Only summaries made by this session leave: record-level results, anything carrying
        identifiers or pseudonyms, unmasked small counts, and counts that differ by a few
        people from an earlier release are refused with :class:`DisclosureRefused`. What is
        judged and released is the result as it was issued: edits made to it since are not;
        a result that counted someone who has since left the view (an opt-out, a withdrawal,
        an expired grant) does not leave at all.

        Returns
        -------
        dict
            ``{"kind", "data": [row dicts], "legend"}`` — plain JSON-ready values.
        """
        issued = self._issued.get(id(result))
        if issued is None or issued.obj is not result:
            # Not made by this session (or edited into a new object): nothing vouches for it.
            issued = Issued(result, "unknown", True, {})
        released = result if issued.frozen is None else issued.frozen
        request = ExportRequest(
            user=self.user,
            project=self._project(),
            content=issued.masked if issued.masked is not None else released,
            populations=issued.populations,
            record_level=issued.record_level,
        )

        def compute(access, people):
            counted = set().union(*issued.populations.values()) if issued.populations else set()
            if counted - set(people):
                raise DisclosureRefused(
                    "this result counts people whose consent or access has changed since it was "
                    "made; compute it again, then export the new result",
                    reasons=("disclosure.consent_changed_since_issue",),
                )
            guard = self._export_guard()
            with guard.lock:
                decision = review_export(request, history=guard)
                mark = guard.mark("exports")
            if not decision.approved:
                raise DisclosureRefused(
                    "; ".join(r.detail for r in decision.reasons), reasons=decision.codes
                )
            data = (
                released.to_dict(orient="records")
                if isinstance(released, pd.DataFrame)
                else released
            )
            legend = issued.masked.legend if issued.masked is not None else {}
            if legend and self.disclosure.round_to:
                legend = {**legend, "rounding": f"shown counts rounded to the nearest "
                          f"{self.disclosure.round_to}"}  # fmt: skip
            out = {"kind": issued.kind, "data": data, "legend": legend}
            return out, len(data), {"basis": (mark,)}

        return self._call("export", {"kind": issued.kind}, compute, needs="aggregate")

    def _export_guard(self) -> DifferencingGuard:
        """The history of exports, kept apart from the queries' (see :func:`guard_for`)."""
        return guard_for(
            self.cohort,
            self._secrets,
            self._conn,
            "exports",
            audit_key=self._audit_key.key,
            threshold=self.disclosure.threshold,
        )


def guard_for(
    cohort,
    service: Path,
    conn,
    name: str = "queries",
    *,
    audit_key: bytes,
    threshold: int = DEFAULT_THRESHOLD,
) -> DifferencingGuard:
    """The release history kept in a secrets folder, shared by the sessions that use it.

    The guard's digest key is derived from the audit key, so the stored history still
    matches after the cohort is opened again in another process. It is read once per process
    and then checked against the audit log (``conn``): a history missing releases the log
    vouches for fails closed.
    """
    with _GUARDS_LOCK:  # two sessions on two threads must find the same guard
        guards = cohort.__dict__.setdefault("_release_guards", {})
        guard = guards.get((name, service, threshold))
        if guard is None:
            guard = _new_guard(service, conn, name, audit_key, threshold)
            guards[(name, service, threshold)] = guard
        return guard


def _new_guard(service: Path, conn, name: str, audit_key: bytes, threshold: int):
    """A guard over the history stored in ``service``, checked against the audit log."""
    key = hmac.new(audit_key, b"cgw/differencing-guard/v1", hashlib.sha256).digest()
    guard = DifferencingGuard(key=key, path=service / RELEASE_FILES[name], threshold=threshold)
    problem = check_release_history(conn, service, names=(name,))
    if problem:
        raise AuditIntegrityError(problem, sequence=None)
    return guard
