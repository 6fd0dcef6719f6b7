"""Allele counts per variant and group, before disclosure control (a session masks them).

Plain functions over a registry connection and a cohort; the session decides who is counted
(:meth:`workbench.access.session.Session.allele_counts`) and masks what leaves.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .store import registry_samples

__all__ = ["allele_count_table"]


def allele_count_table(
    conn, cohort, people, contig: str, start: int, end: int, by: str, *, threshold: int
):
    """Alternate-allele counts per variant and group, before masking.

    Two aggregate rules come first: groups of fewer than ``threshold`` people in view are
    merged into ``other`` (and dropped if still too small), and variants carried fewer than
    ``threshold`` times in view are not reported at all — their count is itself a small count.

    Returns the table (``variant``, ``ac_<group>``…, ``ac_all``; ``attrs["variants_not_shown"]``)
    and the people counted in each group (``"<by>=<group>"`` → internal ids).
    """
    samples = registry_samples(conn, people)
    label = samples[by].astype(str)
    sizes = label.value_counts()
    label = label.where(label.map(sizes) >= threshold, "other")
    if (label == "other").sum() < threshold:
        samples, label = samples[label != "other"], label[label != "other"]
    index = {p: i for i, p in enumerate(cohort.sample_ids)}
    cols = np.array([index[p] for p in samples.person_id], dtype=np.int64)
    variants = cohort.variants(contig=contig, region=(start, end))
    calls = np.asarray(cohort.genotypes(contig=contig, region=(start, end), dask=False))
    calls = calls[:, cols] if len(cols) else calls[:, :0]
    table = pd.DataFrame(
        {
            "variant": (
                variants.contig
                + ":"
                + variants.position.astype(str)
                + ":"
                + variants.ref
                + ">"
                + variants.alt
            ).to_numpy(),
        }
    )
    populations = {}
    for g in sorted(label.unique()):
        mask = (label == g).to_numpy()
        table[f"ac_{g}"] = (calls[:, mask] > 0).sum(axis=(1, 2)).astype(int)
        populations[f"{by}={g}"] = tuple(samples.person_id[mask])
    table["ac_all"] = (calls > 0).sum(axis=(1, 2)).astype(int)
    dropped = int((table.ac_all < threshold).sum())
    table = table[table.ac_all >= threshold].reset_index(drop=True)
    table.attrs["variants_not_shown"] = dropped
    return table, populations
