"""Sessions: every read of people's data goes through one.

>>> s = cohort.session(user="dr.jensen", purpose=Treatment(patient="P00003"))  # doctest: +SKIP
>>> s.genotypes(gene="ARX")                                                    # doctest: +SKIP

A :class:`Session` knows who asks and why. Each call

1. decides afresh (:func:`workbench.access.policy.evaluate`) — so a withdrawn consent, an
   expired grant or an ended care relationship takes effect on the very next call;
2. applies every person's current consent (:func:`~workbench.access.policy.consent_filter`);
3. computes the answer, relabelling people with project pseudonyms for research and teaching;
4. writes one HMAC-chained audit entry — allowed or denied — in the same transaction: if the
   audit write fails, the access fails and nothing is returned.

Inputs and outputs are plain values (strings, numbers, pandas tables, numpy arrays, bytes,
dicts), so the same API runs behind a process boundary: the data-access service
(:mod:`workbench.service`) holds these sessions, and :func:`workbench.connect` gives notebooks
the same methods. Opened in the analyst's own kernel the checks are **cooperative**: a Python
kernel is no security boundary, and anyone with the files can read them directly.

The calls are grouped by concern, each a mixin in its own module: reading (here), releasing
counts and the airlock (:mod:`~workbench.access.releasing`), sequencing
(:mod:`~workbench.access.sequencing`) and stewardship (:mod:`~workbench.access.stewardship`).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import (
    AccessDenied,
    AuditIntegrityError,
    ConsentDenied,
    InputError,
    KeyMissingError,
    WorkbenchError,
)
from .audit import (
    AuditEntry,
    AuditLog,
    behind_last_checkpoint,
    load_audit_key,
    write_audit_key,
)
from .disclosure import (
    DEFAULT_PROFILE,
)
from .disclosure import profile as disclosure_profile
from .duo import Decision, Reason, deny
from .findings import sf_variants
from .integrity import SEAL_FILE, Seal
from .policy import (
    Research,
    Stewardship,
    Treatment,
    consent_filter,
    evaluate,
    parse_purpose,
    purpose_to_dict,
    secondary_finding_choice,
    today_of,
)
from .pseudonyms import load_service_key, write_service_key
from .releasing import Issued, Releasing, guard_for
from .schema import connect, transaction
from .sequencing import Sequencing, region_calls
from .stewardship import Stewarding
from .store import registry_query, registry_samples
from .witness import SIGNING_KEY_FILE, Witness

__all__ = [
    "AUDIT_KEY_FILE",
    "CHECKPOINT_FILE",
    "PSEUDONYM_KEY_FILE",
    "SERVICE_DIR",
    "Session",
    "write_service_secrets",
]

SERVICE_DIR = "service"
PSEUDONYM_KEY_FILE = "project-pseudonym.key"
AUDIT_KEY_FILE = "audit.key"
CHECKPOINT_FILE = "audit-checkpoints.jsonl"
#: Write an external checkpoint of the audit chain after this many entries.
CHECKPOINT_EVERY = 25
#: The pseudonym namespace of teaching sessions (teaching sees no internal ids either).
TEACHING_PROJECT = "teaching"
#: Steward calls that change the registry (each re-seals it in the service).
ADMIN_CHANGES = (
    "record_consent",
    "withdraw_consent",
    "set_research_opt_out",
    "grant_project",
    "revoke_grant",
    "add_principal",
    "add_care_relationship",
    "end_care_relationship",
)
#: How often a read is computed again when consent changes while it is computed.
_ATTEMPTS = 3
#: How many recent results a session remembers for the airlock.
_REMEMBERED = 32


def write_service_secrets(folder: str | os.PathLike, *, rng=None) -> None:
    """Create the data-access service's folder: pseudonym key, audit key, checkpoint file.

    ``rng=None`` draws keys from the operating system, as a real deployment must; a seeded
    generator makes a synthetic cohort reproducible (and its keys therefore not secret).
    """
    folder = Path(folder)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    write_service_key(
        folder / PSEUDONYM_KEY_FILE, rng=rng, created_for="synthetic cohort project pseudonyms"
    )
    write_audit_key(folder / AUDIT_KEY_FILE, rng=rng)
    checkpoints = folder / CHECKPOINT_FILE
    checkpoints.touch(mode=0o600)


class Session(Stewarding, Sequencing, Releasing):
    """A consent-aware view of a cohort for one user and one purpose.

    Use :meth:`workbench.Cohort.session` to open one. Opening is itself a decided and
    audited call: a purpose the user may not pursue raises :class:`AccessDenied` at once.

    Parameters
    ----------
    cohort
        The :class:`~workbench.Cohort`.
    user
        The user id (a principal in the registry).
    purpose
        ``Treatment(patient=…)``, ``Research(project=…)``, ``Teaching()`` or ``Stewardship()``.
    today
        The date decisions are made on (ISO); by default the cohort's reference date, the
        synthetic world's fixed clock.
    clock
        Returns the audit timestamp; by default UTC now.
    secrets
        The folder of the access service's keys, audit checkpoints and release histories;
        by default ``service/`` inside the cohort (the cooperative, single-user mode). The
        data-access service (:mod:`workbench.service`) passes its own, outside the cohort.
    entitlements
        What a data steward granted this user beyond their role (``"teaching.sandbox"``), as
        the service knows it; ``None`` in the cooperative mode, which takes the purpose's word.
    disclosure
        The output rules (:data:`workbench.access.disclosure.PROFILES`): Genomics England's
        by default; each release records the profile it was made under.
    witness
        A file each audit checkpoint is appended to, signed with the key in ``secrets``
        (:mod:`workbench.access.witness`); the service's, when it was set up with one.
    keyholder
        ``keyholder(clinician, person)`` → national id: the keyholder the service asks
        (:class:`workbench.service.keyholder.KeyholderClient`); ``None`` reads ``keyholder/``.
    """

    def __init__(
        self,
        cohort,
        *,
        user: str,
        purpose,
        today: str | None = None,
        clock: Callable | None = None,
        secrets: str | os.PathLike | None = None,
        entitlements: frozenset[str] | None = None,
        disclosure: str = DEFAULT_PROFILE,
        witness: str | os.PathLike | None = None,
        keyholder: Callable[[str, str], str] | None = None,
    ):
        if not isinstance(user, str) or not user:
            raise InputError(f"user must be a user id such as 'dr.jensen', got {user!r}")
        self.cohort = cohort
        self.user = user
        self.purpose = parse_purpose(purpose)
        self._entitlements = None if entitlements is None else frozenset(entitlements)
        self.disclosure = disclosure_profile(disclosure)
        self._keyholder = keyholder
        service = Path(cohort.path) / SERVICE_DIR if secrets is None else Path(secrets)
        self._secrets = service
        # Refuse to start without keys: no pseudonyms and no audit means no access.
        self._pseudonym_key = load_service_key(service / PSEUDONYM_KEY_FILE)
        audit_key = load_audit_key(service / AUDIT_KEY_FILE)
        self._conn = connect(Path(cohort.path) / "registry.sqlite")
        self._audit = AuditLog(
            self._conn,
            key=audit_key.key,
            key_version=audit_key.version,
            checkpoint_path=service / CHECKPOINT_FILE,
            clock=clock,
            on_checkpoint=None
            if witness is None
            else Witness(witness, service / SIGNING_KEY_FILE).append,
        )
        self._audit_key = audit_key
        self._checkpoint_path = service / CHECKPOINT_FILE
        # The data-access service seals the registry (see workbench.access.integrity); the
        # cooperative mode has no seal: whoever holds the folder may edit it anyway.
        seal = service / SEAL_FILE
        self._seal = Seal(seal, audit_key.key) if seal.exists() else None
        # Sealed sessions share one lock per seal: a change and its new seal, or a check of
        # the seal, never interleave with another session's.
        self._seal_lock = _lock_for(seal) if self._seal is not None else contextlib.nullcontext()
        self._write_lock = _lock_for(Path(cohort.path) / "registry.sqlite")
        self.today = today or today_of(self._conn)
        self._guard = guard_for(
            cohort,
            service,
            self._conn,
            audit_key=audit_key.key,
            threshold=self.disclosure.threshold,
        )
        self._issued: dict[int, Issued] = {}
        self._closed = False
        # A date other than the registry's is a what-if: the audit log says so.
        opened = {} if today is None else {"today": self.today}
        self._call("open_session", opened, lambda access, people: (None, 0), needs="any")

    # -- plumbing ------------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"<Session user={self.user!r} purpose={purpose_to_dict(self.purpose)}>"

    def close(self) -> None:
        """Close the registry connection (a closed session refuses every call)."""
        if not self._closed:
            self._closed = True
            self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _project(self) -> str:
        if isinstance(self.purpose, Research):
            return self.purpose.project
        return TEACHING_PROJECT

    def _labels(self, people) -> list[str]:
        """How people appear in results: internal ids in care, project pseudonyms otherwise."""
        if isinstance(self.purpose, Treatment):
            return list(people)
        return self._pseudonym_key.pseudonymiser().project_pseudonyms(people, self._project())

    def _resolve(self, label: str, people) -> str:
        """The person behind a label the user may know (an id in care, a pseudonym else)."""
        labels = dict(zip(self._labels(people), people, strict=True))
        if label not in labels:
            raise InputError(f"{label!r} is not among the people this session may see")
        return labels[label]

    def _call(self, action: str, query: dict, compute, *, needs: str = "record"):
        """Decide, filter by consent, compute and audit one call (see the module docstring).

        A read is decided and computed in a read transaction, which never blocks other users,
        then decided again under the write lock with its audit entry: the value is returned
        only when the second decision admits the same people (else it is computed again).
        Administration writes, so it decides, computes and audits under the write lock.
        """
        if self._closed:
            raise AccessDenied("this session is closed; open a new one", reasons=())
        purpose = purpose_to_dict(self.purpose)
        writes = needs in ("admin", "any")
        with self._seal_lock if writes else contextlib.nullcontext():
            outcome, decided = self._attempts(action, query, compute, needs, purpose, writes)
        self._maybe_checkpoint()
        decision = decided[1]
        if not decision.approved:
            raise _refusal_error(decision)
        if isinstance(outcome, WorkbenchError):
            raise outcome
        return outcome[0]

    def _attempts(self, action, query, compute, needs, purpose, writes):
        try:
            for _ in range(_ATTEMPTS):
                if not writes:
                    with _read_transaction(self._conn):
                        decided = self._decide(action, needs)
                        outcome = self._run(compute, decided) if decided[1].approved else None
                # Writers of this process queue here, blocked rather than polling SQLite's
                # busy handler, which lets an unlucky one wait past its timeout under load.
                with self._write_lock, transaction(self._conn):
                    again = self._decide(action, needs)
                    if writes:
                        decided = again
                        outcome = self._run(compute, decided) if decided[1].approved else None
                    elif not _same_decision(decided, again):
                        continue  # consent or grants changed while computing: do it again
                    self._audit.append(
                        self._entry(decided, outcome, purpose, action, query), conn=self._conn
                    )
                break
            else:
                raise AccessDenied(
                    "the registry kept changing while this was computed; try again",
                    reasons=("access.registry_busy",),
                )
        except (AuditIntegrityError, sqlite3.Error) as e:
            raise AccessDenied(
                "the access could not be written to the audit log, so it was refused; ask a "
                "data steward to run `workbench audit verify`",
                reasons=("audit.write_failed",),
            ) from e
        return outcome, decided

    def _decide(self, action: str, needs: str):
        """(access, decision, admitted people, how many consent excluded, consent rules)."""
        access = self._evaluate(self._conn)
        decision = _within_scope(access, needs)
        if decision.approved and self._registry_changed(action):
            decision = deny(
                "integrity.registry_changed",
                "the registry was changed outside the data-access service; every call is "
                "refused until a data steward has checked it and sealed it again",
            )
        people, n_excluded, rules = ([], 0, ())
        if decision.approved and needs in ("record", "aggregate"):
            people, n_excluded, rules = consent_filter(self._conn, access.people, self.purpose)
        return access, decision, people, n_excluded, rules

    @staticmethod
    def _run(compute, decided):
        """``(value, size, extra)``, or the :class:`WorkbenchError` the computation raised."""
        access, _, people, _, _ = decided
        try:
            return _unpack(compute(access, people))
        except WorkbenchError as e:  # refused or bad request: audited as denied
            return e

    def _entry(self, decided, outcome, purpose: dict, action: str, query: dict) -> AuditEntry:
        _, decision, _, n_excluded, rules = decided
        fields = {"user_id": self.user, "purpose": purpose, "action": action, "query": query}
        if not decision.approved:
            return AuditEntry.from_decision(decision, **fields)
        if isinstance(outcome, WorkbenchError):
            code = getattr(outcome, "reasons", ()) or ("request.invalid",)
            return AuditEntry(**fields, decision="deny", basis=tuple(_codes(code)))
        _, size, extra = outcome
        return AuditEntry(
            **fields,
            decision="approve",
            basis=(*decision.codes, *rules, *extra.get("basis", ())),
            n_excluded=extra.get("n_excluded", n_excluded),
            result_size=size,
        )

    def _evaluate(self, conn):
        return evaluate(
            conn, self.user, self.purpose, today=self.today, entitlements=self._entitlements
        )

    def _registry_changed(self, action: str) -> bool:
        """Whether the sealed registry was edited by someone else (fail closed from then on)."""
        if self._seal is None or action == "seal_registry":
            return False
        if action == "open_session":
            rolled_back = behind_last_checkpoint(self._conn, self._checkpoint_path)
            if rolled_back:
                self._seal.mark_broken(rolled_back)
            changed = not self._seal.check(self._conn)
        else:
            changed = self._seal.broken()
        # A steward must be able to look (audit log, consents) before sealing again, but not
        # change anything on top of an outside edit: the new seal would vouch for both.
        if changed and isinstance(self.purpose, Stewardship) and action not in ADMIN_CHANGES:
            return False
        return changed

    def _maybe_checkpoint(self) -> None:
        seq = self._conn.execute("SELECT coalesce(max(seq), 0) FROM audit_log").fetchone()[0]
        if seq and seq % CHECKPOINT_EVERY == 0:
            with self._seal_lock:
                with self._write_lock, transaction(self._conn):
                    self._audit.checkpoint()
                if self._seal is not None:
                    self._seal.check(self._conn)

    def _remember(self, obj, *, kind: str, record_level: bool, populations=None, masked=None):
        # Held strongly (so an id cannot be reused while remembered), the last few only. A
        # summary is also copied as issued: the airlock judges and releases that copy, so an
        # edit made to the returned object afterwards never leaves.
        frozen = None if record_level else copy.deepcopy(obj)
        self._issued[id(obj)] = Issued(
            obj, kind, record_level, dict(populations or {}), masked, frozen
        )
        while len(self._issued) > _REMEMBERED:
            self._issued.pop(next(iter(self._issued)))
        return obj

    # -- what a session can read ------------------------------------------------------------
    def decision(self) -> dict:
        """Why this session may (or may not) work now: outcome and reasons, as a dict.

        It tells the user about their own access only — nothing about other people.
        """
        with contextlib.closing(
            connect(Path(self.cohort.path) / "registry.sqlite", readonly=True)
        ) as conn:
            access = self._evaluate(conn)
        out = _within_scope(access, "any").to_dict()
        out["scope"] = access.scope
        out["datasets"] = list(access.datasets)
        # the user's own refused grants, so they can see why a dataset is missing
        out["refused"] = [{"dataset": d, **r.to_dict()} for d, r in access.refused]
        return out

    def samples(self) -> pd.DataFrame:
        """The people this session may see, one row each.

        In care: internal ids and the full registry record. In research and teaching:
        project pseudonyms, sex, population, affected status and birth decade only.
        """

        def compute(access, people):
            table = registry_samples(self._conn, people)
            if isinstance(self.purpose, Treatment):
                out = table
            else:
                out = pd.DataFrame(
                    {
                        "sample_id": self._labels(table.person_id),
                        "sex": table.sex,
                        "population": table.population,
                        "affected": table.affected.astype(bool),
                        "birth_decade": (table.birth_year // 10 * 10).astype(int),
                    }
                )
            return out.reset_index(drop=True), len(out)

        out = self._call("samples", {}, compute)
        return self._remember(out, kind="samples", record_level=True)

    def genotypes(self, *, gene: str | None = None, region=None) -> dict:
        """Genotype calls of the people this session may see, over a gene or a region.

        Parameters
        ----------
        gene
            A gene symbol (its span in the reference gene models).
        region
            ``(contig, start, end)``, 1-based inclusive.

        Returns
        -------
        dict
            ``variants`` (DataFrame: contig, position, ref, alt), ``samples`` (labels, in
            column order) and ``calls`` (int8 array, variants × samples × 2; ``-2`` where a
            male has no second X).
        """
        return self._calls_over("genotypes", gene, region, lambda people: self.cohort)

    def _calls_over(self, action: str, gene, region, store_of) -> dict:
        """One audited read of calls over a region, from ``store_of(people)``."""
        contig, start, end = self._region(gene=gene, region=region)
        query = {"gene": gene} if gene else {"region": [contig, start, end]}

        def compute(access, people):
            store = store_of(people)
            variants, calls = region_calls(store, store.sample_ids, people, contig, start, end)
            out = {"variants": variants, "samples": self._labels(people), "calls": calls}
            return out, len(people)

        out = self._call(action, query, compute)
        return self._remember(out, kind=action, record_level=True)

    def genotype_view(self):
        """Whole-genome calls of the people this session may see, for cohort analytics.

        Returns a :class:`~workbench.access.view.GenotypeView`, which the functions of
        :mod:`workbench.analysis` take in place of a cohort. Opening it is decided and audited,
        and so is each read of its calls (which fails closed if anyone has since left the
        view). People in the registry without genotypes are left out (``view.notes``).
        """
        from .view import GenotypeView

        def compute(access, people):
            table = registry_samples(self._conn, people)
            column = {p: i for i, p in enumerate(self.cohort.sample_ids)}
            notes = []
            absent = int((~table.person_id.isin(column)).sum())
            if absent:
                notes.append(f"{absent} person(s) in view have no genotypes and are left out")
            table = table[table.person_id.isin(column)]
            table = table.assign(_col=table.person_id.map(column)).sort_values("_col")
            people_in_order = list(table.person_id)
            # Parents out of view keep a label too (their data stays out): it is what tells
            # their children apart as siblings.
            parents = set(table.father_id.dropna()) | set(table.mother_id.dropna())
            everyone = people_in_order + sorted(parents - set(people_in_order))
            labels = dict(zip(everyone, self._labels(everyone), strict=True))
            families = sorted(set(table.family_id.dropna()))
            if isinstance(self.purpose, Treatment):
                family_labels = {f: f for f in families}
            else:
                pseudonymiser = self._pseudonym_key.pseudonymiser()
                namespace = f"{self._project()}.families"
                family_labels = {
                    f: pseudonymiser.project_pseudonym(f, namespace).replace("-R", "-F", 1)
                    for f in families
                }
            samples = pd.DataFrame(
                {
                    "person_id": [labels[p] for p in people_in_order],
                    "family_id": table.family_id.map(family_labels).to_numpy(dtype=object),
                    "father_id": table.father_id.map(labels).to_numpy(dtype=object),
                    "mother_id": table.mother_id.map(labels).to_numpy(dtype=object),
                    "sex": table.sex.to_numpy(dtype=object),
                    "population": table.population.to_numpy(dtype=object),
                    "region": table.region.to_numpy(dtype=object),
                    "affected": table.affected.astype(bool).to_numpy(),
                    "birth_decade": (table.birth_year // 10 * 10).astype(int).to_numpy(),
                }
            )
            view = GenotypeView(
                self,
                tuple(people_in_order),
                table["_col"].to_numpy(dtype=np.int64),
                samples,
                tuple(notes),
            )
            return view, len(people_in_order)

        return self._call("genotype_view", {}, compute)

    def phenotypes(self) -> pd.DataFrame:
        """HPO terms (``sample_id, hpo_id, label, excluded``) of the people in view."""

        def compute(access, people):
            ph = registry_query(
                self._conn,
                "SELECT person_id, hpo_id, label, excluded FROM phenotypes "
                "WHERE person_id IN ({}) ORDER BY person_id, hpo_id",
                people,
            )
            labels = dict(zip(people, self._labels(people), strict=True))
            ph.insert(0, "sample_id", ph.pop("person_id").map(labels))
            ph["excluded"] = ph.excluded.astype(bool)
            return ph, len(ph)

        out = self._call("phenotypes", {}, compute)
        return self._remember(out, kind="phenotypes", record_level=True)

    def phenopacket(self, person: str) -> dict:
        """A proband's Phenopacket v2 (as a dict), with the subject relabelled for this view."""

        def compute(access, people):
            pid = self._resolve(person, people)
            packet = self.cohort.phenopacket(pid)
            packet = json.loads(json.dumps(packet).replace(pid, person))
            return packet, 1

        out = self._call("phenopacket", {"person": person}, compute)
        return self._remember(out, kind="phenopacket", record_level=True)

    def findings(self, person: str) -> pd.DataFrame:
        """Secondary findings of a patient, as the patient chose to hear them (care only).

        Pathogenic and likely pathogenic variants (by the knowledge base's assertions) in the
        ACMG SF v3.2 genes that the person carries, restricted to the SF categories chosen in
        their current consent. Suppressed findings are never silently dropped: their number
        is written to the audit log (as ``n_excluded`` of this call) and the result's
        ``attrs["suppressed"]`` says how many there were, never which.
        """
        if not isinstance(self.purpose, Treatment):
            # decided and audited like any call, then refused
            def refuse(access, people):
                raise ConsentDenied(
                    "secondary findings are returned only to a treating clinician",
                    reasons=("findings.treatment_only",),
                )

            return self._call("findings", {"person": person}, refuse)

        def compute(access, people):
            pid = self._resolve(person, people)
            chosen = set(secondary_finding_choice(self._conn, pid))
            found = sf_variants(self.cohort, pid)
            shown = found[found.sf_category.isin(chosen)].reset_index(drop=True)
            suppressed = len(found) - len(shown)
            shown.attrs["suppressed"] = suppressed
            basis = ("findings.consent_choice",) + (
                ("findings.suppressed_by_consent",) if suppressed else ()
            )
            return shown, len(shown), {"n_excluded": suppressed, "basis": basis}

        out = self._call("findings", {"person": person}, compute)
        return self._remember(out, kind="findings", record_level=True)

    def reidentify(self, person: str) -> str:
        """The synthetic national id of the clinician's own patient, from the keyholder.

        Only a treating clinician, only for a person in their care in this session; audited.
        The session's ``keyholder`` (the data-access service's, a process of its own) answers;
        without one, the cohort's ``keyholder/`` store is read — the only code path that does.
        """

        def compute(access, people):
            if not isinstance(self.purpose, Treatment) or person not in people:
                raise ConsentDenied(
                    "re-identification is only for a treating clinician's own patient",
                    reasons=("reidentify.not_own_patient",),
                )
            if self._keyholder is not None:
                return self._keyholder(self.user, person), 1
            path = Path(self.cohort.path) / "keyholder" / "identity.sqlite"
            if not path.is_file():
                raise KeyMissingError(
                    f"the keyholder store {path} is missing; the hospital side must restore it"
                )
            try:
                with contextlib.closing(
                    sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
                ) as conn:
                    row = conn.execute(
                        "SELECT national_id FROM identities WHERE person_id = ?", (person,)
                    ).fetchone()
            except sqlite3.Error as e:  # the keyholder's store, not the audit log, is damaged
                raise KeyMissingError(
                    f"the keyholder store {path} is unreadable ({e}); the hospital side must "
                    "restore it"
                ) from e
            if row is None:
                raise KeyMissingError("the keyholder store has no identity for this person")
            return row[0], 1

        return self._call("reidentify", {"person": person}, compute)

    def explain(self, *, count: bool = True) -> dict:
        """Why this session's view includes or excludes what it does, in words and counts.

        See :func:`workbench.access.explain.explain_access` (never an id or a pseudonym).
        """
        from .explain import explain_access

        return explain_access(self, count=count)

    # -- helpers -------------------------------------------------------------------------------
    def _region(self, *, gene, region) -> tuple[str, int, int]:
        if (gene is None) == (region is None):
            raise InputError("give either gene='SYMBOL' or region=(contig, start, end)")
        if gene is not None:
            try:
                g = self.cohort.reference.gene(gene)
            except (KeyError, InputError) as e:
                raise InputError(f"unknown gene {gene!r}; see cohort.reference.genes") from e
            return g.contig, int(g.start), int(g.end)
        try:
            contig, start, end = region
            start, end = int(start), int(end)
        except (TypeError, ValueError) as e:
            raise InputError(f"region must be (contig, start, end), got {region!r}") from e
        if contig not in self.cohort.contigs or not 1 <= start <= end:
            raise InputError(f"region {region!r} is not on this cohort's contigs")
        return contig, start, end


@contextlib.contextmanager
def _read_transaction(conn: sqlite3.Connection):
    """One consistent snapshot for a read, holding no write lock (WAL mode)."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")


def _same_decision(first, second) -> bool:
    """Whether two decisions of one call admit the same people on the same grounds."""
    return (
        first[1].outcome == second[1].outcome
        and first[1].codes == second[1].codes
        and list(first[2]) == list(second[2])
        and first[3:] == second[3:]
    )


def _within_scope(access, needs: str) -> Decision:
    """Approve only when the access's scope covers what the call needs."""
    decision = access.decision
    if not decision.approved or needs == "any":
        return decision
    allowed = {
        "record": ("record",),
        "aggregate": ("record", "aggregate"),
        "admin": ("admin",),
    }[needs]
    if access.scope in allowed:
        return decision
    if access.scope == "aggregate":
        return deny("scope.aggregate_only", "this role sees counts and aggregates only")
    if access.scope == "admin":
        return deny("scope.no_data_for_stewards", "data stewards administer; they never read data")
    return deny("scope.stewards_only", "only a data steward may do this")


def _unpack(result):
    if len(result) == 3:
        return result
    value, size = result
    return value, size, {}


def _codes(reasons) -> list[str]:
    out = []
    for r in reasons:
        out.append(r.code if isinstance(r, Reason) else str(r))
    return out


def _refusal_error(decision: Decision) -> AccessDenied:
    detail = "; ".join(r.detail for r in decision.reasons) or "refused"
    cls = ConsentDenied if any(c.startswith("consent.") for c in decision.codes) else AccessDenied
    return cls(f"access {decision.outcome}: {detail}", reasons=decision.codes)


_LOCKS: dict[Path, threading.RLock] = {}
_LOCKS_LOCK = threading.Lock()


def _lock_for(path: Path) -> threading.RLock:
    """One lock per file, for every session of this process."""
    with _LOCKS_LOCK:
        return _LOCKS.setdefault(Path(path).resolve(), threading.RLock())
