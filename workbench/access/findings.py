"""Secondary findings: what a person carries in the ACMG SF genes, by the knowledge base.

A plain function over a cohort; :meth:`workbench.access.session.Session.findings` decides who
may ask and applies the patient's consented choice of categories.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["PATHOGENIC", "sf_variants"]

#: The classifications reported as findings.
PATHOGENIC = ("Pathogenic", "Likely pathogenic")


def sf_variants(cohort, person_id: str) -> pd.DataFrame:
    """Pathogenic and likely pathogenic variants in ACMG SF genes that ``person_id`` carries.

    Columns: gene, sf_category, contig, position, ref, alt, hgvs_c, hgvs_p, classification,
    zygosity; in the order of the knowledge base's assertions. No consent is applied here:
    the session restricts the result to the categories the patient chose.
    """
    knowledge = cohort.knowledge
    sf = knowledge.acmg_sf.set_index("gene").category
    asserted = knowledge.assertions
    asserted = asserted[asserted.classification.isin(PATHOGENIC) & asserted.gene.isin(sf.index)]
    i = cohort.sample_ids.index(person_id)
    found = []
    # One read of the sites and of this person's column per contig, not one per assertion.
    for contig, group in asserted.groupby("contig", sort=False):
        sites = cohort.variants(contig=contig).reset_index(drop=True)
        at: dict[tuple, list[int]] = {}
        for k, key in enumerate(zip(sites.position, sites.ref, strict=True)):
            at.setdefault(key, []).append(k)
        hit = sorted({k for a in group.itertuples() for k in at.get((a.position, a.ref), ())})
        if not hit:
            continue
        gt = cohort.genotypes(contig=contig, dask=True).values
        calls = dict(zip(hit, np.asarray(gt[hit, i].compute()), strict=True))
        for a in group.itertuples():
            for k in at.get((a.position, a.ref), ()):
                alts = sites.alt[k].split(",")
                if a.alt not in alts:
                    continue
                n = int((calls[k] == alts.index(a.alt) + 1).sum())
                if n:
                    found.append(
                        (
                            a.Index,
                            {
                                "gene": a.gene,
                                "sf_category": sf[a.gene],
                                "contig": a.contig,
                                "position": int(a.position),
                                "ref": a.ref,
                                "alt": a.alt,
                                "hgvs_c": a.hgvs_c,
                                "hgvs_p": a.hgvs_p,
                                "classification": a.classification,
                                "zygosity": "homozygous" if n == 2 else "heterozygous",
                            },
                        )
                    )
    rows = [row for _, row in sorted(found, key=lambda f: f[0])]  # the assertions' order
    columns = [
        "gene",
        "sf_category",
        "contig",
        "position",
        "ref",
        "alt",
        "hgvs_c",
        "hgvs_p",
        "classification",
        "zygosity",
    ]
    return pd.DataFrame(rows, columns=columns)
