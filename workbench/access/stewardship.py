"""What a data steward does through a session: verify and read the audit log, read consents and
grants, record consent changes and grants, seal the registry again after an outside edit.

:class:`Stewarding` is part of :class:`workbench.access.session.Session` (a mixin kept in its
own module): every method is one decided and audited call through ``Session._call``, so only
a session for a :class:`~workbench.access.policy.Stewardship` purpose (or, for a consent
history, a treating clinician's own patient) gets past the decision.
"""

from __future__ import annotations

import dataclasses
import inspect

import pandas as pd

from ..errors import AccessDenied, ConsentDenied, InputError
from . import admin as _admin
from .audit import query_log, verify
from .differencing import check_release_history
from .policy import Stewardship, Treatment

__all__ = ["Stewarding"]


class Stewarding:
    """The steward's calls of a :class:`~workbench.access.session.Session`."""

    # -- stewardship -------------------------------------------------------------------------
    def audit_verify(self) -> dict:
        """Verify the audit chain against its key and external checkpoints, and the disclosure
        histories against the chain (stewards)."""

        def compute(access, people):
            report = verify(self._conn, key=self._audit_key, checkpoint_path=self._checkpoint_path)
            # The disclosure histories are held under the chain: its entries name their length
            # and last line, so a release removed or cut off from them is found here.
            problem = report.ok and check_release_history(self._conn, self._secrets)
            if problem:
                report = dataclasses.replace(report, ok=False, problem=problem)
            return dataclasses.asdict(report), report.entries

        return self._call("audit_verify", {}, compute, needs="admin")

    def audit_log(self, **filters) -> pd.DataFrame:
        """Audit entries filtered by ``user``, ``patient``, ``purpose``, ``since``, ``until``."""
        unknown = sorted(set(filters) - {"user", "patient", "purpose", "since", "until"})
        if unknown:
            raise InputError(
                f"audit_log filters are user, patient, purpose, since and until; got {unknown!r}"
            )

        def compute(access, people):
            table = query_log(self._conn, **filters)
            return table, len(table)

        return self._call(
            "audit_log", {k: str(v) for k, v in filters.items()}, compute, needs="admin"
        )

    def consents(self) -> pd.DataFrame:
        """Everyone's current consent (stewards; audited like any read)."""

        def compute(access, people):
            table = self.cohort.consents()
            return table, len(table)

        return self._call("consents", {}, compute, needs="admin")

    def grants(self) -> pd.DataFrame:
        """Every project grant, with ``in_force`` on this session's date (stewards; audited)."""

        def compute(access, people):
            table = pd.read_sql_query(
                "SELECT project_id, dataset_id, user_id, granted_on, expires_on, revoked_on, "
                "granted_by FROM project_grants ORDER BY project_id, dataset_id, granted_on",
                self._conn,
            )
            revoked = table.revoked_on.notna() & (table.revoked_on.fillna("") <= self.today)
            table["in_force"] = (
                (table.granted_on <= self.today) & (table.expires_on > self.today) & ~revoked
            )
            return table, len(table)

        return self._call("grants", {}, compute, needs="admin")

    # -- consent administration (stewards; see workbench.access.admin) ---------------------
    def _administer(self, action: str, function, fixed: dict, fields: dict):
        """Run an admin function in the audited transaction; only stewards get this far."""
        query = _admin.audit_query(**{**fields, **fixed})

        def compute(access, people):
            clash = sorted(set(fixed) & set(fields))
            if clash:
                raise InputError(f"{', '.join(clash)} cannot be given here: the session sets it")
            try:
                inspect.signature(function).bind(self._conn, **fixed, **fields)
            except TypeError as e:
                raise InputError(f"{action}: {e}") from None
            value = function(self._conn, **fixed, **fields)
            return value, len(value) if isinstance(value, list | pd.DataFrame) else 1

        with self._seal_lock:  # the change and its new seal, with no other session between
            value = self._call(action, query, compute, needs="admin")
            if self._seal is not None:
                self._seal.write(self._conn)  # the service's own change: the new state is sealed
        return value

    def seal_registry(self, *, note: str) -> dict:
        """Seal the registry as it is now, after a steward has checked an outside change.

        Until then every call of the data-access service is refused. Stewards only; audited
        with the ``note`` (say what was checked).
        """
        if self._seal is None:
            raise InputError("this cohort is opened in process: there is no seal to renew")
        if not isinstance(note, str) or not note.strip() or "\n" in note:
            raise InputError("note must be one line saying what was checked")

        def compute(access, people):
            return {"sealed": True}, 1

        with self._seal_lock:
            value = self._call("seal_registry", {"note": note}, compute, needs="admin")
            self._seal.write(self._conn)
        return value

    def record_consent(self, person_id: str, **fields) -> dict:
        """Append a consent version, recorded by this steward (:func:`.admin.record_consent`)."""
        fixed = {"person_id": person_id, "recorded_by": self.user}
        return self._administer("record_consent", _admin.record_consent, fixed, fields)

    def withdraw_consent(self, person_id: str, **fields) -> dict:
        """Record a withdrawal: ``signed_on=…, note=…`` (:func:`.admin.withdraw_consent`)."""
        fixed = {"person_id": person_id, "recorded_by": self.user}
        return self._administer("withdraw_consent", _admin.withdraw_consent, fixed, fields)

    def set_research_opt_out(self, person_id: str, **fields) -> dict:
        """Set or lift an opt-out: ``opt_out=…, signed_on=…, note=…`` (see admin)."""
        fixed = {"person_id": person_id, "recorded_by": self.user}
        return self._administer("set_research_opt_out", _admin.set_research_opt_out, fixed, fields)

    def grant_project(self, **fields) -> dict:
        """Record a grant by this steward (:func:`.admin.grant_project`)."""
        fixed = {"granted_by": self.user}
        return self._administer("grant_project", _admin.grant_project, fixed, fields)

    def revoke_grant(self, **fields) -> list[dict]:
        """Revoke a grant in force (:func:`.admin.revoke_grant`)."""
        return self._administer("revoke_grant", _admin.revoke_grant, {}, fields)

    def add_principal(self, **fields) -> dict:
        """Add someone who may sign in, such as a learner joining a class (see admin)."""
        return self._administer("add_principal", _admin.add_principal, {}, fields)

    def add_care_relationship(self, **fields) -> dict:
        """Record that a clinician cares for a person from a date on (see admin)."""
        return self._administer("add_care_relationship", _admin.add_care_relationship, {}, fields)

    def end_care_relationship(self, **fields) -> dict:
        """End a clinician's open care relationship on a date (see admin)."""
        return self._administer("end_care_relationship", _admin.end_care_relationship, {}, fields)

    def consent_history(self, person_id: str) -> pd.DataFrame:
        """Every consent version of one person, oldest first; decided and audited.

        A treating clinician may read the consent of a patient in their care (a withdrawn
        one's too: it says why the patient left the view), a data steward anyone's; every
        other purpose is refused with :class:`~workbench.errors.AccessDenied`.
        """
        if not isinstance(person_id, str) or not person_id:
            raise InputError(
                f"person_id must be an internal id such as 'P00003', got {person_id!r}"
            )
        purpose = self.purpose

        def compute(access, people):
            if not isinstance(purpose, Treatment | Stewardship):
                raise AccessDenied(
                    "a person's consent is shown to their treating clinician or a data steward "
                    "only",
                    reasons=("consent.view_not_allowed",),
                )
            # The care view before consent filters, not the filtered people.
            if isinstance(purpose, Treatment) and person_id not in access.people:
                raise ConsentDenied(
                    "this person is not a patient in this care session",
                    reasons=("consent.view_not_own_patient",),
                )
            history = _admin.consent_history(self._conn, person_id=person_id)
            return history, len(history)

        needs = {Treatment: "record", Stewardship: "admin"}.get(type(purpose), "any")
        return self._call("consent_history", {"person": person_id}, compute, needs=needs)
