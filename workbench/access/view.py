"""Genotype views: the people a session may see, whole-genome, for analysis at scale.

>>> r = cohort.session(user="anc.researcher", purpose=Research(project="ANC-3"))  # doctest: +SKIP
>>> view = r.genotype_view()                                                     # doctest: +SKIP
>>> variant_qc(view); pca(view.genotypes(), sample_ids=view.sample_ids)          # doctest: +SKIP

A :class:`GenotypeView` is what cohort analytics read instead of the :class:`~workbench.Cohort`:
it has the same ``sample_ids`` / ``samples()`` / ``variants()`` / ``genotypes()`` shape, so the
functions of :mod:`workbench.analysis` take either, but it holds only the people the session's
purpose and their consent allow, labelled as the session labels them (project pseudonyms in
research and teaching).

Opening a view is one decided and audited call. So is every ``genotypes()`` read: it decides
afresh and fails closed if anyone in the view has since fallen out of it (a withdrawal, an
opt-out, an expired grant): the analysis would otherwise mix people who may be read with people
who may not. Open a new view to go on without them. The calls come back as a lazy dask array
over the VCF Zarr chunks, so the national preset is read chunk by chunk; what is computed from
it stays in the session (the airlock, :meth:`Session.export`, releases only summaries the
session made itself).

Unlike the other results of a session, a view is a handle, not a plain value: behind a process
boundary it would be the analysis running next to the data (a trusted research environment),
not data sent out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import ConsentDenied
from .policy import consent_filter

__all__ = ["GenotypeView", "still_admitted"]


@dataclass(frozen=True, eq=False)
class GenotypeView:
    """Whole-genome calls of the people in a session's view, in genotype-store order.

    Made by :meth:`workbench.access.session.Session.genotype_view`; do not build one yourself.
    """

    _session: object
    _people: tuple[str, ...]  # internal ids (never shown), in the order of ``_columns``
    _columns: np.ndarray  # their columns in the cohort's genotype store
    _samples: pd.DataFrame  # labelled sample table
    notes: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (
            f"<GenotypeView people={len(self._people)} of {len(self._session.cohort.sample_ids)} "
            f"for {self._session!r}>"
        )

    @property
    def sample_ids(self) -> list[str]:
        """The labels of the people in view (project pseudonyms outside care), in column order."""
        return list(self._samples.person_id)

    @property
    def contigs(self) -> dict[str, int]:
        """Contig name → length."""
        return self._session.cohort.contigs

    def samples(self) -> pd.DataFrame:
        """One row per person in view, in column order: ``person_id`` (the session's label),
        ``family_id`` (a project-specific family label outside care), ``father_id`` and
        ``mother_id`` (the parents' labels; a parent may be out of view, and then the label
        only links siblings, with no data behind it), ``sex``,
        ``population``, ``region`` (one of five), ``affected``, ``birth_decade``."""
        return self._samples.copy()

    def variants(self, *, contig: str | None = None, region=None) -> pd.DataFrame:
        """Variant sites (no one's calls): ``contig, position, ref, alt``."""
        return self._session.cohort.variants(contig=contig, region=region)

    def genotypes(self, *, contig: str | None = None, region=None):
        """Calls of the people in view, as a lazy :class:`allel.GenotypeDaskArray`.

        Decided and audited like every session call; refused (:class:`ConsentDenied`) when
        someone in the view may no longer be read.
        """
        import allel

        query = {"contig": contig} if region is None else {"region": [contig, *region]}
        mine = set(self._people)

        def compute(access, people):
            gone = len(mine - set(people))
            if gone:
                raise ConsentDenied(
                    f"{gone} person(s) in this view may no longer be read (consent or grant "
                    "changed since it was opened); open a new view with session.genotype_view()",
                    reasons=("consent.changed_since_view",),
                )
            gt = self._session.cohort.genotypes(contig=contig, region=region, dask=True).values
            return allel.GenotypeDaskArray(_select_columns(gt, self._columns)), len(self._people)

        return self._session._call("genotype_view.read", query, compute)


def still_admitted(view: GenotypeView) -> bool:
    """Whether everyone in ``view`` may still be read, decided afresh (not audited).

    The data-access service asks before each chunk of a read it streams: a read was decided
    and audited when it was opened, but its chunks may be fetched later, after a consent or
    grant changed.
    """
    session = view._session
    access = session._evaluate(session._conn)
    if not access.decision.approved:
        return False
    people, _, _ = consent_filter(session._conn, access.people, session.purpose)
    return set(view._people) <= set(people)


def _select_columns(gt, columns: np.ndarray):
    """Columns ``columns`` (sorted) of a dask array, chunk by chunk.

    Each sample chunk is indexed with its own local positions and the pieces concatenated,
    so no chunk is split or merged: dask's general fancy indexing on the national preset took
    1.7× the time of reading every column.
    """
    import dask.array as da

    if len(columns) == gt.shape[1] and np.array_equal(columns, np.arange(gt.shape[1])):
        return gt
    starts = np.cumsum((0, *gt.chunks[1]))
    parts = []
    for j in range(len(gt.chunks[1])):
        lo, hi = starts[j], starts[j + 1]
        local = columns[(columns >= lo) & (columns < hi)] - lo
        if len(local) == hi - lo:
            parts.append(gt.blocks[:, j])
        elif len(local):
            block = gt.blocks[:, j]
            chunks = (block.chunks[0], (len(local),), *block.chunks[2:])
            parts.append(block.map_blocks(_take_columns, local, chunks=chunks, dtype=gt.dtype))
    if not parts:
        return gt[:, :0]
    return da.concatenate(parts, axis=1)


def _take_columns(block: np.ndarray, local: np.ndarray) -> np.ndarray:
    # Diploid int8 calls taken as one int16 per call: ~9x faster than fancy indexing the
    # middle axis of the 3-d array.
    if block.ndim == 3 and block.shape[2] == 2 and block.dtype == np.int8:
        pairs = np.ascontiguousarray(block).view(np.int16).reshape(block.shape[:2])
        return np.take(pairs, local, axis=1).view(np.int8).reshape(len(block), len(local), 2)
    return block[:, local]
