"""Properties of consent-aware access that must hold for any sequence of events.

1. No research or teaching result — samples, phenotypes, the samples of a genotype matrix,
   allele counts — ever includes a person whose *current* consent opts out of research or is
   withdrawn, whatever consent changes (opt out, withdraw, re-consent) happen between calls
   of sessions that stay open.
2. After any sequence of permitted operations (allowed or denied calls, exports, consent and
   grant changes, sessions opened and closed) the audit chain verifies and has one entry per
   audited call, numbered without gaps.

Every example works on its own copy of the tiny cohort (sessions write the audit log).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import workbench
from workbench import Research, Stewardship, Teaching, Treatment
from workbench.access.pseudonyms import load_service_key
from workbench.errors import AccessDenied, DisclosureRefused, WorkbenchError

GENES = ("BRCA2", "SCN1A", "KCNQ1")
EPI7_DATASETS = ("EPI-DS", "NGC-RD", "NORDIC-COLLAB")
N_PEOPLE = 60  # the tiny preset
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@contextlib.contextmanager
def cohort_copy(source: Path):
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / "cohort"
        shutil.copytree(source, dest)
        yield workbench.open_cohort(dest)


def _sql(path: Path, statement: str, params=()) -> list[tuple]:
    with contextlib.closing(
        sqlite3.connect(Path(path) / "registry.sqlite", isolation_level=None)
    ) as conn:
        return conn.execute(statement, params).fetchall()


def set_consent(path: Path, person: str, *, opt_out: bool, withdrawn: bool) -> None:
    """Append the next consent version of ``person`` with these two flags."""
    with contextlib.closing(
        sqlite3.connect(Path(path) / "registry.sqlite", isolation_level=None)
    ) as conn:
        version, signed, form, by, sf, recontact = conn.execute(
            "SELECT version, signed_on, form_version, signed_by, secondary_findings, recontact "
            "FROM consents WHERE person_id = ? ORDER BY version DESC LIMIT 1",
            (person,),
        ).fetchone()
        ref = conn.execute("SELECT value FROM meta WHERE key = 'reference_date'").fetchone()[0]
        conn.execute(
            "INSERT INTO consents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'steward.larsen', ?)",
            (
                person,
                version + 1,
                max(signed, ref),
                form,
                by,
                sf,
                recontact,
                int(opt_out),
                int(withdrawn),
                "property test",
            ),
        )


def admitted(path: Path, reach: set[str]) -> set[str]:
    """Who of ``reach`` may be seen in research or teaching under current consents."""
    ok = {
        r[0]
        for r in _sql(
            path,
            "SELECT person_id FROM consents c WHERE version = (SELECT max(version) FROM consents "
            "WHERE person_id = c.person_id) AND research_opt_out = 0 AND withdrawn = 0",
        )
    }
    return reach & ok


def _expected_allele_counts(cohort, gene: str, people_by_group: dict[str, set[str]]):
    g = cohort.reference.gene(gene)
    variants = cohort.variants(contig=g.contig, region=(g.start, g.end))
    calls = np.asarray(cohort.genotypes(contig=g.contig, region=(g.start, g.end), dask=False))
    keys = (
        variants.contig
        + ":"
        + variants.position.astype(str)
        + ":"
        + variants.ref
        + ">"
        + variants.alt
    ).tolist()
    index = {p: i for i, p in enumerate(cohort.sample_ids)}
    out = {}
    for group, people in people_by_group.items():
        cols = [index[p] for p in sorted(people)]
        counts = (calls[:, cols] > 0).sum(axis=(1, 2))
        out[group] = dict(zip(keys, counts.tolist(), strict=True))
    return out


def check_view(cohort, session, call: str, gene: str, *, project: str, reach: set[str]):
    """Run ``call`` on a research/teaching ``session``; assert nobody excluded is in it."""
    path = cohort.path
    allowed = admitted(path, reach)
    pseudonymiser = load_service_key(path / "service" / "project-pseudonym.key").pseudonymiser()
    label = {p: pseudonymiser.project_pseudonym(p, project) for p in reach}
    allowed_labels = {label[p] for p in allowed}
    if call == "samples":
        assert set(session.samples().sample_id) == allowed_labels
    elif call == "phenotypes":
        assert set(session.phenotypes().sample_id) <= allowed_labels
    elif call == "genotypes":
        out = session.genotypes(gene=gene)
        assert set(out["samples"]) == allowed_labels
        assert out["calls"].shape[1] == len(allowed_labels)
    else:
        try:
            table = session.allele_counts(gene=gene, by="sex")
        except DisclosureRefused as e:  # a near-duplicate of an earlier count: refusing is safe
            assert "disclosure.differencing" in e.reasons
            return
        sex = dict(_sql(path, "SELECT person_id, sex FROM samples"))
        groups = [c[3:] for c in table.columns if c.startswith("ac_") and c != "ac_all"]
        by_group = {g: {p for p in allowed if sex[p] == g} for g in groups}
        by_group["all"] = set().union(*by_group.values())
        expected = _expected_allele_counts(cohort, gene, by_group)
        for row in table.itertuples(index=False):
            for g in [*groups, "all"]:
                value = getattr(row, f"ac_{g}")
                if isinstance(value, int | np.integer):  # masked cells are "<5" / "*"
                    assert value == expected[g][row.variant], (g, row.variant)


consent_event = st.tuples(
    st.just("consent"),
    st.integers(0, N_PEOPLE - 1),
    st.sampled_from(["opt_out", "withdraw", "restore"]),
)
query_event = st.tuples(
    st.just("query"),
    st.sampled_from(["epi7", "teaching"]),
    st.sampled_from(["samples", "phenotypes", "genotypes", "allele_counts"]),
    st.sampled_from(GENES),
)


@SETTINGS
@given(events=st.lists(st.one_of(consent_event, query_event), min_size=1, max_size=8))
def test_no_research_result_ever_contains_an_excluded_person(tiny_cohort_path, events):
    with cohort_copy(tiny_cohort_path) as cohort:
        path = cohort.path
        people = [r[0] for r in _sql(path, "SELECT person_id FROM samples ORDER BY person_id")]
        epi7_reach = {
            r[0]
            for r in _sql(
                path,
                "SELECT person_id FROM dataset_members WHERE dataset_id IN (?, ?, ?)",
                EPI7_DATASETS,
            )
        }
        views = {
            "epi7": (
                cohort.session(user="lab.researcher", purpose=Research(project="EPI-7")),
                "EPI-7",
                epi7_reach,
            ),
            "teaching": (
                cohort.session(user="teacher.berg", purpose=Teaching()),
                "teaching",
                set(people),
            ),
        }
        for event in events:
            if event[0] == "consent":
                _, i, kind = event
                set_consent(
                    path,
                    people[i % len(people)],
                    opt_out=kind == "opt_out",
                    withdrawn=kind == "withdraw",
                )
            else:
                _, view, call, gene = event
                session, project, reach = views[view]
                check_view(cohort, session, call, gene, project=project, reach=reach)


# -- the audit chain ---------------------------------------------------------------------------

SESSIONS = (
    ("lab.researcher", Research(project="EPI-7")),
    ("industry.researcher", Research(project="PHARMA-1")),
    ("meth.researcher", Research(project="METH-2")),  # expired grant: denied
    ("new.researcher", Research(project="EPI-7")),  # not registered: denied
    ("teacher.berg", Teaching()),
    ("student.ali", Teaching()),
    ("dr.jensen", Treatment(patient="P00003")),
    ("dr.jensen", Treatment(patient="P00004")),  # someone else's patient: denied
    ("steward.larsen", Stewardship()),
    ("nobody.known", Teaching()),
)
CALLS = ("samples", "allele_counts", "genotypes", "findings", "export", "audit_log", "decision")

operation = st.one_of(
    st.tuples(st.just("open"), st.integers(0, len(SESSIONS) - 1)),
    st.tuples(st.just("call"), st.sampled_from(CALLS), st.sampled_from(GENES)),
    st.tuples(st.just("close")),
    st.tuples(
        st.just("consent"),
        st.integers(0, N_PEOPLE - 1),
        st.sampled_from(["opt_out", "withdraw", "restore"]),
    ),
    st.tuples(st.just("revoke"), st.sampled_from(["EPI-7", "PHARMA-1", "ANC-3"])),
)


def _do_call(session, name: str, gene: str, last):
    if name == "samples":
        return session.samples()
    if name == "allele_counts":
        return session.allele_counts(gene=gene)
    if name == "genotypes":
        return session.genotypes(gene=gene)
    if name == "findings":
        return session.findings("P00003")
    if name == "export":
        return session.export(last if last is not None else {"n": 1})
    if name == "audit_log":
        return session.audit_log(user="lab.researcher")
    return session.decision()


@SETTINGS
@given(ops=st.lists(operation, min_size=1, max_size=30))
def test_audit_chain_verifies_after_any_sequence_of_operations(tiny_cohort_path, ops):
    with cohort_copy(tiny_cohort_path) as cohort:
        path = cohort.path
        people = [r[0] for r in _sql(path, "SELECT person_id FROM samples ORDER BY person_id")]
        session, last, audited = None, None, 0
        for op in ops:
            if op[0] == "open":
                user, purpose = SESSIONS[op[1]]
                audited += 1  # opening is itself decided and audited
                try:
                    session = cohort.session(user=user, purpose=purpose)
                except AccessDenied:
                    session = None
            elif op[0] == "call" and session is not None:
                _, name, gene = op
                audited += name != "decision"  # decision() only reads
                with contextlib.suppress(WorkbenchError):
                    last = _do_call(session, name, gene, last)
            elif op[0] == "close" and session is not None:
                session.close()
                session = None
            elif op[0] == "consent":
                _, i, kind = op
                set_consent(
                    path, people[i], opt_out=kind == "opt_out", withdrawn=kind == "withdraw"
                )
            elif op[0] == "revoke":
                _sql(
                    path,
                    "UPDATE project_grants SET revoked_on = (SELECT value FROM meta WHERE key = "
                    "'reference_date') WHERE project_id = ? AND revoked_on IS NULL",
                    (op[1],),
                )
        rows = _sql(path, "SELECT seq, user_id, decision FROM audit_log ORDER BY seq")
        assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
        assert len(rows) == audited
        with cohort.session(user="steward.larsen", purpose=Stewardship()) as steward:
            report = steward.audit_verify()
        assert report["ok"], report
        assert report["entries"] == audited + 1
        if audited + 1 >= 25:
            lines = (path / "service" / "audit-checkpoints.jsonl").read_text().splitlines()
            assert lines and json.loads(lines[-1])["head_seq"] % 25 == 0


# -- 3. no released count is within a few people of another, whoever asked ------------------
REGIONS = (("chr1", 1, 150_000), ("chr1", 150_001, 300_000), ("chr2", 1, 250_000))
ASKERS = (
    ("teacher.berg", Teaching()),
    ("student.ali", Teaching()),
    ("lab.researcher", Research(project="EPI-7")),
    ("anc.researcher", Research(project="ANC-3")),
)
count_event = st.tuples(
    st.just("count"),
    st.integers(0, len(ASKERS) - 1),
    st.sampled_from(REGIONS),
    st.sampled_from(["sex", "population"]),
    st.booleans(),  # and try to export it
)
change_event = st.tuples(
    st.just("consent"), st.integers(0, N_PEOPLE - 1), st.sampled_from(["opt_out", "withdraw"])
)


@SETTINGS
@given(events=st.lists(st.one_of(count_event, change_event), min_size=2, max_size=10))
def test_no_two_released_counts_differ_by_a_few_people_whoever_asked(tiny_cohort_path, events):
    """Property 3: the differencing history is the population's. Over any history of consent
    changes and allele counts (and exports) asked by trainers, students and researchers on
    different projects, no count leaves whose population is within 1–4 people of another
    released count, and none counts a person excluded by consent when it is released."""
    with cohort_copy(tiny_cohort_path) as cohort:
        path = cohort.path
        everyone = [r[0] for r in _sql(path, "SELECT person_id FROM samples ORDER BY 1")]
        sessions = [cohort.session(user=u, purpose=p) for u, p in ASKERS]
        steward = cohort.session(user="steward.larsen", purpose=Stewardship())
        guards = (sessions[0]._guard, sessions[0]._export_guard())
        seen = [0, 0]
        for event in events:
            if event[0] == "consent":
                _, i, kind = event
                fields = {"signed_on": steward.today, "note": "property test"}
                with contextlib.suppress(WorkbenchError):  # e.g. already withdrawn
                    if kind == "opt_out":
                        steward.set_research_opt_out(everyone[i], opt_out=True, **fields)
                    else:
                        steward.withdraw_consent(everyone[i], **fields)
                continue
            _, who, region, by, export = event
            with contextlib.suppress(AccessDenied):  # differencing refusals are the point
                table = sessions[who].allele_counts(region=region, by=by)
                if export:
                    sessions[who].export(table)
            excluded = set(everyone) - admitted(path, set(everyone))
            for k, guard in enumerate(guards):
                gone = {guard._digest(p) for p in excluded}
                for *_, members in guard._released[seen[k] :]:
                    assert not members & gone  # released now: nobody excluded now
                seen[k] = len(guard._released)
        for guard in guards:
            populations = [members for *_, members in guard._released]
            for i, a in enumerate(populations):
                for b in populations[i + 1 :]:
                    assert not 1 <= len(a ^ b) < guard.threshold


@SETTINGS
@given(
    changes=st.lists(
        st.tuples(st.integers(0, N_PEOPLE - 1), st.booleans(), st.booleans()), max_size=12
    ),
    asked=st.lists(st.integers(0, N_PEOPLE - 1), max_size=40),
    strangers=st.integers(0, 3),
    purpose=st.sampled_from(["treatment", "research"]),
)
def test_consents_looked_up_by_person_agree_with_the_whole_table(
    tiny_cohort_path, monkeypatch, changes, asked, strangers, purpose
):
    """A few people (a family in care) are looked up by key, many in one pass: same answer."""
    from workbench.access import policy

    with cohort_copy(tiny_cohort_path) as cohort:
        everyone = sorted(cohort.samples().person_id)
        for i, opt_out, withdrawn in changes:
            set_consent(cohort.path, everyone[i], opt_out=opt_out, withdrawn=withdrawn)
        people = {everyone[i] for i in asked} | {f"P9{n:04d}" for n in range(strangers)}
        chosen = Treatment(patient=everyone[0]) if purpose == "treatment" else Research("EPI-7")
        with contextlib.closing(sqlite3.connect(cohort.path / "registry.sqlite")) as conn:
            by_person = policy.consent_filter(conn, people, chosen)
            monkeypatch.setattr(policy, "_LOOKUP_AT_MOST", -1)  # the whole table, always
            whole = policy.consent_filter(conn, people, chosen)
            monkeypatch.undo()
            if purpose == "research":  # and both are who the consents admit
                assert set(by_person[0]) == admitted(cohort.path, people)
    assert by_person == whole
