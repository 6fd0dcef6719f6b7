"""Inheritance on a family: parental origin, modes, compound heterozygotes, segregation.

:func:`workbench.interpret.filter.filter_variants` calls :func:`assess_inheritance` on the rows
that pass panel, consequence and frequency; the modes and fits are described there.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .checks import _affected, _count, _is_x

__all__ = ["assess_inheritance"]


def _origin(p, f, m, *, hemizygous: bool) -> str:
    """Parental origin from alternate-allele counts (``None`` count: not available)."""
    if hemizygous:  # a boy's X comes from his mother
        if m is None:
            return "unknown"
        return "maternal" if m >= 1 else "de_novo"
    if p == 2:
        if f is None or m is None:
            return "unknown"
        return "biparental" if f >= 1 and m >= 1 else "inconsistent"
    if f is not None and m is not None:
        if f == 0 and m == 0:
            return "de_novo"
        if f >= 1 and m == 0:
            return "paternal"
        if m >= 1 and f == 0:
            return "maternal"
        return "either"
    if f is not None and f >= 1:
        return "paternal"
    if m is not None and m >= 1:
        return "maternal"
    if f == 0:
        return "not_paternal"
    if m == 0:
        return "not_maternal"
    return "unknown"


def assess_inheritance(table, fam, analysis, proband_sex_ok, male, calls, col, variants):
    if table.empty:
        return table
    table = table.copy()
    by_id = fam["by_id"]
    father_aff = fam["father"] is not None and _affected(by_id[fam["father"]])
    mother_aff = fam["mother"] is not None and _affected(by_id[fam["mother"]])
    kept = table["kept"].fillna(False).astype(bool).to_numpy()
    origins = []
    for r in table.itertuples(index=False):
        hemi = r.proband_gt is not None and "|" not in str(r.proband_gt)
        p = r.proband_count if r.proband_count is not None else 0
        origins.append(_origin(p, _opt(r.father_count), _opt(r.mother_count), hemizygous=hemi))
    table["origin"] = origins

    def set_row(j, inheritance, fit, reason="", keep=True):
        table.at[j, "inheritance"] = inheritance
        table.at[j, "inheritance_fit"] = fit
        table.at[j, "kept"] = keep
        if reason or not keep:
            table.at[j, "reason"] = reason

    # recessive genes: biallelic, pairs in trans
    for gene, idx in (
        table[kept & (table["mode"] == "AR").to_numpy()].groupby("gene").groups.items()
    ):
        idx = list(idx)
        hom = [j for j in idx if table.at[j, "proband_count"] == 2]
        het = [j for j in idx if table.at[j, "proband_count"] == 1]
        for j in hom:
            o = table.at[j, "origin"]
            if o == "biparental":
                set_row(j, "homozygous", "full", "homozygous, one copy from each carrier parent")
            elif o == "inconsistent":
                set_row(
                    j,
                    "homozygous",
                    "partial",
                    "homozygous but a parent does not carry it: possible uniparental disomy "
                    "or a deletion on the other allele",
                )
            else:
                set_row(j, "homozygous", "partial", "homozygous (parental origin unknown)")
        for j in het:
            o = table.at[j, "origin"]
            others = [k for k in het if k != j]
            opposite = {"paternal": "maternal", "maternal": "paternal"}.get(o)
            trans = [k for k in others if opposite and table.at[k, "origin"] == opposite]
            unresolved = [
                k
                for k in others
                if not (o in ("paternal", "maternal") and table.at[k, "origin"] == o)
            ]
            ids = table["variant_id"]
            if trans:
                set_row(
                    j,
                    "compound_heterozygous",
                    "full",
                    f"in trans: {o} here, {opposite} partner {', '.join(ids[trans])}",
                )
                table.at[j, "partners"] = ",".join(ids[trans])
            elif unresolved:
                why = (
                    "no parents to phase them"
                    if analysis == "singleton"
                    else "phase unknown (a de novo partner or an unresolved origin)"
                )
                set_row(
                    j,
                    "possible_compound_heterozygous",
                    "partial",
                    f"two or more heterozygous variants in {gene}; {why}",
                )
                table.at[j, "partners"] = ",".join(ids[unresolved])
            elif others:
                set_row(
                    j,
                    None,
                    None,
                    f"heterozygous in a recessive gene; every other variant in {gene} is also "
                    f"{o} (in cis)",
                    keep=False,
                )
            else:
                set_row(
                    j,
                    None,
                    None,
                    "heterozygous in a recessive gene with no second qualifying variant",
                    keep=False,
                )

    # dominant and X-linked genes, one variant at a time
    for j in table.index[kept & (table["mode"] != "AR").to_numpy()]:
        mode = table.at[j, "mode"]
        o = table.at[j, "origin"]
        p = table.at[j, "proband_count"]
        hemi = "|" not in str(table.at[j, "proband_gt"])
        x = _is_x(table.at[j, "contig"])
        if mode == "XL" and x and (hemi or male):
            fit = "full" if proband_sex_ok else "partial"
            if o == "maternal":
                carrier = "affected" if mother_aff else "carrier"
                set_row(j, "x_linked_hemizygous", fit, f"hemizygous, from the {carrier} mother")
            elif o == "de_novo":
                set_row(j, "x_linked_hemizygous", fit, "hemizygous and absent in the mother (new)")
            elif hemi:
                set_row(j, "x_linked_hemizygous", "partial", "hemizygous (mother not available)")
            else:
                set_row(
                    j,
                    "x_linked_hemizygous",
                    "partial",
                    "two X alleles in a proband recorded as male: sex inconsistent",
                )
            continue
        if o == "de_novo":
            set_row(j, "de_novo", "full", "absent in both parents: de novo")
        elif o in ("paternal", "maternal", "either"):
            parent_aff = {
                "paternal": father_aff,
                "maternal": mother_aff,
                "either": father_aff or mother_aff,
            }[o]
            source = {"paternal": "father", "maternal": "mother", "either": "both parents"}[o]
            if parent_aff:
                set_row(
                    j,
                    "inherited_from_affected_parent",
                    "full",
                    f"inherited from the affected {source}",
                )
            elif mode == "XL" and not male:
                set_row(
                    j,
                    "x_linked_heterozygous",
                    "weak",
                    f"heterozygous girl, inherited from the unaffected {source}: carrier "
                    "state (X-linked disease in girls needs skewed X-inactivation or a "
                    "dominant mechanism)",
                )
            else:
                set_row(
                    j,
                    "incomplete_penetrance",
                    "weak",
                    f"inherited from the unaffected {source}: incomplete penetrance or not "
                    "causal (lower priority)",
                )
        elif o == "inconsistent" or (p == 2 and o == "unknown"):
            set_row(j, "homozygous", "partial", "homozygous in a dominant gene")
        else:
            label = {
                "not_paternal": "absent in the father, mother not available",
                "not_maternal": "absent in the mother, father not available",
            }.get(o, "parental origin unknown")
            set_row(j, "heterozygous_origin_unknown", "partial", f"heterozygous; {label}")

    # siblings: an unaffected sibling with the same genotype lowers the fit (flag, not drop)
    for sib in fam["siblings"]:
        aff = _affected(by_id[sib])
        for j in table.index[table["kept"].astype(bool)]:
            key = (table.at[j, "contig"], int(table.at[j, "position"]), table.at[j, "ref"])
            i = _site(variants, key)
            if i is None:
                continue
            allele = str(variants.at[i, "alt"]).split(",").index(table.at[j, "alt"]) + 1
            s_count = _count(calls[i, col[sib]], allele)
            p_count = table.at[j, "proband_count"]
            same = s_count == p_count
            note = f"{'affected' if aff else 'unaffected'} sibling {sib}: " + (
                "same genotype" if same else f"{s_count} copies"
            )
            prev = table.at[j, "segregation"]
            table.at[j, "segregation"] = f"{prev}; {note}" if prev else note
            biallelic = table.at[j, "inheritance"] in ("homozygous", "compound_heterozygous")
            if (
                not aff
                and same
                and (biallelic or table.at[j, "inheritance"] == "x_linked_hemizygous")
            ):
                table.at[j, "inheritance_fit"] = "weak"
                table.at[j, "reason"] += f"; shared by the unaffected sibling {sib}"
    return table


def _site(variants: pd.DataFrame, key) -> int | None:
    contig, pos, ref = key
    hit = variants.index[
        (variants["contig"].astype(str) == contig)
        & (variants["position"].astype(np.int64) == pos)
        & (variants["ref"].astype(str) == ref)
    ]
    return int(hit[0]) if len(hit) else None


def _opt(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return int(v)
