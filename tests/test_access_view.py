"""Genotype views: cohort analytics through a session, on a private copy of the tiny cohort."""

from __future__ import annotations

import numpy as np
import pytest
from test_access_scenarios import PERSON_ID, STEWARD, change_consent, sql

import workbench
from workbench import Research, Stewardship, Treatment
from workbench.analysis.qc import sample_qc, variant_qc
from workbench.analysis.relatedness import expected_relatives
from workbench.errors import AccessDenied, ConsentDenied

RESEARCHER, PROJECT = "lab.researcher", "EPI-7"


def _research(path):
    return workbench.open_cohort(path).session(user=RESEARCHER, purpose=Research(project=PROJECT))


def _audit(path, action):
    return sql(
        path,
        "SELECT decision, basis, result_size, query FROM audit_log WHERE action = ? ORDER BY seq",
        (action,),
    )


def test_view_holds_exactly_the_people_the_session_may_see(cohort_copy):
    s = _research(cohort_copy)
    view = s.genotype_view()
    labels = set(s.samples().sample_id)
    assert set(view.sample_ids) == labels
    assert 0 < len(labels) < len(s.cohort.sample_ids)  # someone is left out in the tiny cohort
    table = view.samples()
    assert list(table.person_id) == view.sample_ids
    assert not any(PERSON_ID.fullmatch(str(v)) for v in table.to_numpy().ravel())
    gt = view.genotypes()
    assert gt.shape[1] == len(labels)
    # The calls of each person are theirs: compare a gene region with session.genotypes.
    g = s.genotypes(gene="BRCA2")
    v = view.variants()
    rows = np.flatnonzero(
        (v.contig == g["variants"].contig.iloc[0]).to_numpy()
        & v.position.isin(g["variants"].position).to_numpy()
    )
    calls = np.asarray(gt[rows].compute())
    col = {p: i for i, p in enumerate(view.sample_ids)}
    for j, label in enumerate(g["samples"]):
        np.testing.assert_array_equal(calls[:, col[label]], g["calls"][:, j])


def test_opening_and_every_read_are_audited_without_identifiers(cohort_copy):
    view = _research(cohort_copy).genotype_view()
    view.genotypes(contig="chr1")
    view.genotypes()
    opened = _audit(cohort_copy, "genotype_view")
    reads = _audit(cohort_copy, "genotype_view.read")
    assert [d for d, *_ in opened] == ["approve"]
    assert [d for d, *_ in reads] == ["approve", "approve"]
    assert opened[0][2] == len(view.sample_ids)
    assert '"chr1"' in reads[0][3]
    text = " ".join(str(x) for row in opened + reads for x in row)
    assert not PERSON_ID.search(text)


def test_a_withdrawal_after_opening_fails_the_next_read_closed(cohort_copy):
    s = _research(cohort_copy)
    view = s.genotype_view()
    before = len(view.sample_ids)
    people = [p for p in s.cohort.sample_ids if p in _internal_ids(s, view)]
    change_consent(cohort_copy, people[0], opt_out=True)
    with pytest.raises(ConsentDenied, match="open a new view") as err:
        view.genotypes(contig="chr1")
    assert "consent.changed_since_view" in err.value.reasons
    assert _audit(cohort_copy, "genotype_view.read")[-1][0] == "deny"
    fresh = s.genotype_view()
    assert len(fresh.sample_ids) == before - 1
    assert fresh.genotypes().shape[1] == before - 1


def _internal_ids(session, view):
    # Test-only: which internal ids are behind the view's pseudonyms.
    labels = set(view.sample_ids)
    return {p for p in session.cohort.sample_ids if session._labels([p])[0] in labels}


def test_family_links_survive_pseudonyms_and_parents_out_of_view(cohort_copy):
    view = _research(cohort_copy).genotype_view()
    table = view.samples()
    in_families = table[table.family_id.notna()]
    assert len(in_families) and in_families.family_id.str.startswith("k1-F").all()
    expected = expected_relatives(table)
    assert len(expected) and set(expected.relationship) <= {"parent-child", "full siblings"}
    # Care sees internal ids, the same family structure.
    clinician, patient = sql(
        cohort_copy,
        "SELECT c.user_id, c.person_id FROM care_relationships c JOIN families f "
        "ON f.proband_id = c.person_id WHERE c.until IS NULL ORDER BY c.person_id LIMIT 1",
    )[0]
    care = workbench.open_cohort(cohort_copy).session(
        user=clinician, purpose=Treatment(patient=patient)
    )
    family = care.genotype_view().samples()
    assert family.person_id.map(PERSON_ID.fullmatch).all()
    assert family.family_id.nunique() == 1


def test_analytics_take_a_view_and_see_only_its_people(cohort_copy):
    view = _research(cohort_copy).genotype_view()
    variants = variant_qc(view)
    assert variants.n_called.max() <= len(view.sample_ids)
    samples = sample_qc(view)
    assert list(samples.index) == view.sample_ids


def test_stewards_administer_and_never_open_a_view(cohort_copy):
    s = workbench.open_cohort(cohort_copy).session(user=STEWARD, purpose=Stewardship())
    with pytest.raises(AccessDenied, match="never read data"):
        s.genotype_view()
    assert _audit(cohort_copy, "genotype_view")[-1][0] == "deny"


@pytest.mark.parametrize(
    "columns",
    [[], [0], [3, 4, 5, 6, 7], [1, 2, 9, 10, 11, 12, 13, 19], list(range(20)), [19]],
)
def test_columns_are_taken_chunk_by_chunk_in_order(columns):
    import dask.array as da

    from workbench.access.view import _select_columns

    calls = np.random.default_rng(0).integers(-2, 3, size=(3, 20, 2)).astype(np.int8)
    for x in (calls, np.arange(3 * 20 * 2).reshape(3, 20, 2)):  # the int16 path, the general
        got = _select_columns(da.from_array(x, chunks=(2, 5, 2)), np.array(columns, np.int64))
        assert got.dtype == x.dtype
        np.testing.assert_array_equal(got.compute(), x[:, columns])
