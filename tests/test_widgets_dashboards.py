"""The cohort explorer's PCA picture: drawn once, re-rendered per filter."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from workbench.errors import InputError
from workbench.widgets.dashboards import PcaPicture, pca_png


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    n = 200
    return pd.DataFrame(
        {
            "PC1": rng.normal(size=n),
            "PC2": rng.normal(size=n),
            "population": rng.choice(["A", "B"], n),
            "sex": rng.choice(["female", "male"], n),
            "affected": False,
            "birth_decade": 1990,
            "outlier": False,
        },
        index=[f"s{i}" for i in range(n)],
    )


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def test_a_filter_rings_its_people_and_nothing_else_changes_between_filters(table):
    picture = PcaPicture(table, [0.2, 0.1])
    plain = _pixels(picture.png(None))
    ringed = _pixels(picture.png(table.index[:20]))
    assert plain.shape == ringed.shape
    assert (plain != ringed).any()
    # Back to no filter: exactly the first picture again (the background is restored).
    np.testing.assert_array_equal(_pixels(picture.png(table.index)), plain)
    np.testing.assert_array_equal(_pixels(picture.png([])), plain)
    # The one-shot function draws the same picture.
    np.testing.assert_array_equal(_pixels(pca_png(table, [0.2, 0.1])), plain)


def test_colouring_must_be_a_view_column(table):
    with pytest.raises(InputError, match="colour_by"):
        PcaPicture(table, [0.2, 0.1], colour_by="person_id")


def test_explorer_table_is_cached_per_view_and_a_consent_change_recomputes(
    cohort_copy, monkeypatch
):
    from test_access_scenarios import change_consent

    import workbench
    from workbench.widgets import dashboards as d

    c = workbench.open_cohort(cohort_copy)
    session = c.session(user="teacher.berg", purpose=workbench.Teaching())
    fresh = d.explorer_table(session)
    cached_files = list((cohort_copy / "service" / "cache").glob("explorer-*.json"))
    assert len(cached_files) == 1
    import workbench.analysis

    def no_recompute(*a, **k):
        raise AssertionError("the cached table should have been used")

    with monkeypatch.context() as m:
        m.setattr(workbench.analysis, "sample_qc", no_recompute)
        again = d.explorer_table(session)
    pd.testing.assert_frame_equal(again.table, fresh.table, check_dtype=False)
    np.testing.assert_allclose(again.explained, fresh.explained)
    assert again.n_variants == fresh.n_variants
    assert again.table.affected.dtype == bool and again.table.outlier.dtype == bool
    # Someone leaves the view: a new key, a new table without them.
    gone = next(p for p in c.sample_ids if session._labels([p])[0] in set(fresh.table.index))
    change_consent(cohort_copy, gone, withdrawn=True)
    after = d.explorer_table(session)
    assert len(after.table) == len(fresh.table) - 1
    assert session._labels([gone])[0] not in set(after.table.index)
    assert len(list((cohort_copy / "service" / "cache").glob("explorer-*.json"))) == 2
