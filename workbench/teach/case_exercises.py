"""Exercises made from the learner's own case: the answer comes from the case, not a key.

A course's answer key (``answers.yml``) is written with the course; a case from the cohort
changes with the cohort's seed and with the family a learner opens. These functions build an
exercise's specification (the fields of an ``answers.yml`` entry) from an interpretation when
the notebook runs; :func:`workbench.widgets.exercises.case_exercise` seals it in memory
(:func:`workbench.teach.sealing.seal_exercise`) and shows it like any other, so the widget marks
right and wrong without the answer in its page.

The sealing keeps the answer out of the page, as for the course's own exercises; it does not
keep it from a learner who runs the interpretation's code, which is the skill being taught.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import require_columns
from ..interpret.criteria import DEFAULT_THRESHOLDS as _CUTS
from ..interpret.criteria import NULL_CONSEQUENCES as _NULL
from ..interpret.funnel import reached_inheritance

__all__ = ["MODE_WORDS", "classification_exercise", "inheritance_exercise"]

#: How the exercise names a gene's mode of inheritance.
MODE_WORDS = {"AD": "dominant", "AR": "recessive", "XL": "X-linked"}

#: Sequence Ontology consequences in a clinician's words.
_CONSEQUENCE_WORDS = {
    "stop_gained": "a nonsense (stop-gain) variant",
    "frameshift_variant": "a frameshift",
    "splice_donor_variant": "a change of a canonical splice donor site (±1 or 2)",
    "splice_acceptor_variant": "a change of a canonical splice acceptor site (±1 or 2)",
    "start_lost": "a loss of the start codon",
    "stop_lost": "a loss of the stop codon (the protein is extended)",
    "missense_variant": "a missense variant (one amino acid changed)",
    "inframe_deletion": "an in-frame deletion",
    "inframe_insertion": "an in-frame insertion",
    "splice_region_variant": "a change near a splice site (not the canonical ±1 or 2)",
}
#: Criteria whose facts the description gives in its own words; the note of any other
#: criterion that applies (in trans with a partner, co-segregation, healthy carriers) is
#: added as a fact, so every criterion of the answer has its fact in the description.
_DESCRIBED = frozenset({"PVS1", "PS2", "PM6", "PM2", "PP3", "BP4", "BA1"})
#: One class the evidence does not support, per class (the key's self-check needs one).
_WRONG_CLASS = {
    "Pathogenic": "Likely pathogenic",
    "Likely pathogenic": "Uncertain significance",
    "Uncertain significance": "Likely pathogenic",
    "Likely benign": "Uncertain significance",
    "Benign": "Likely benign",
}


def _count(value) -> str:
    return "." if value is None or pd.isna(value) else str(int(value))


def _choose_genes(rows: pd.DataFrame, max_rows: int, rng: np.random.Generator) -> list[str]:
    """Genes whose rows fill at most ``max_rows``: one with a fitting variant first, then
    recessive genes (the ones the inheritance step can drop), then the rest. A gene's rows
    are never split, so a compound heterozygous pair is always shown whole."""
    sizes = rows.groupby("gene").size()
    recessive = sorted(set(rows.gene[rows["mode"] == "AR"]))
    others = sorted(set(sizes.index) - set(recessive))
    order = [*rng.permutation(recessive).tolist(), *rng.permutation(others).tolist()]
    fitting = set(rows.gene[rows.kept.fillna(False).astype(bool)])
    first = next((g for g in order if g in fitting), order[0])
    chosen, total = [first], int(sizes[first])
    for gene in order:
        if gene == first or total + sizes[gene] > max_rows:
            continue
        chosen.append(gene)
        total += int(sizes[gene])
    return chosen


def inheritance_exercise(table: pd.DataFrame, *, max_rows: int = 16, seed: int = 0):
    """A ``pick`` exercise: which of the case's candidate variants fit their gene's mode?

    ``table`` is an interpretation's filter table (``case.filtered.table``). The rows offered
    are the rare, protein-altering variants in panel genes — what the inheritance step judges —
    at most ``max_rows`` of them (more only when one gene alone has more), whole genes at a
    time: a gene with a fitting variant, then recessive genes, chosen by ``seed``. Genotypes
    are shown as ALT allele counts of the child, father and mother (``.``: no call, or the
    parent not sequenced). The answer is the rows the workbench's inheritance step keeps; the
    explanation, shown once the answer is right, gives its reason for each row it drops.

    Returns the specification (``type``, ``prompt``, ``table``, ``columns``, ``answer``,
    ``wrong``, ``hints``, ``explanation``), or ``None`` when no variant reached the step or
    none of those shown fits (a pick exercise needs at least one right row).
    """
    require_columns(
        table,
        "filter table",
        (
            "variant_id",
            "gene",
            "mode",
            "position",
            "hgvs_p",
            "consequence",
            "proband_count",
            "father_count",
            "mother_count",
            "kept",
            "reason",
        ),
    )
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
        raise ValueError(f"max_rows must be a positive whole number, got {max_rows!r}")
    rows = table[reached_inheritance(table).to_numpy()]
    rows = rows.drop_duplicates(["variant_id", "gene", "mode"])
    if rows.empty:
        return None
    total, genes_total = len(rows), rows.gene.nunique()
    genes = _choose_genes(rows, max_rows, np.random.default_rng(seed))
    shown = rows[rows.gene.isin(genes)].sort_values(["gene", "position"], kind="stable")
    ids = [f"V{i}" for i in range(1, len(shown) + 1)]
    kept = shown.kept.fillna(False).astype(bool).to_numpy()
    table_rows = [
        {
            "id": vid,
            "gene": r.gene,
            "mode": MODE_WORDS.get(r.mode, str(r.mode)),
            "change": r.hgvs_p if isinstance(r.hgvs_p, str) and r.hgvs_p else r.consequence,
            "child": _count(r.proband_count),
            "father": _count(r.father_count),
            "mother": _count(r.mother_count),
        }
        for vid, r in zip(ids, shown.itertuples(index=False), strict=True)
    ]
    answer = [vid for vid, k in zip(ids, kept, strict=True) if k]
    if not answer:
        return None
    wrong = ids if len(answer) < len(ids) else ids[:-1]  # everything, or one fitting left out
    dropped = [
        f"{vid} ({r.gene}): {r.reason}"
        for vid, k, r in zip(ids, kept, shown.itertuples(index=False), strict=True)
        if not k
    ]
    explanation = (
        "Every variant of a dominant or X-linked gene fits on its own (one copy is enough); "
        "in a recessive gene the child needs two copies. "
        + (
            "The inheritance step drops " + "; ".join(dropped) + "."
            if dropped
            else "Every variant shown fits, so the inheritance step drops none of them here."
        )
    )
    part = (
        f"these {len(shown)} of them, in {len(genes)} genes"
        if len(shown) < total
        else "all of them"
    )
    prompt = (
        f"Your patient has {total} rare, protein-altering variants in {genes_total} genes of "
        f"the panel; {part}, are below. Genotypes are ALT allele counts (0, 1 or 2; '.' means "
        "no call, or that parent was not sequenced). Pick every variant whose genotypes fit "
        "the mode of inheritance of its gene's disease: the ones the inheritance step keeps."
    )
    return {
        "type": "pick",
        "prompt": prompt,
        "table": table_rows,
        "columns": ["gene", "mode", "change", "child", "father", "mother"],
        "answer": answer,
        "wrong": wrong,
        "hints": [
            "A dominant or X-linked disease needs one faulty copy: one variant can be enough.",
            "A recessive disease needs two: a homozygous child (2), or two variants in the same "
            "gene that did not both come from the same parent.",
        ],
        "explanation": explanation,
    }


def _copies(count) -> str:
    if count is None or pd.isna(count):
        return "was not sequenced"
    return {0: "does not carry it", 1: "carries one copy", 2: "carries two copies"}.get(
        int(count), f"carries {int(count)} copies"
    )


def _frequency_fact(row) -> str:
    af = row.af
    if af is None or pd.isna(af) or float(af) == 0:
        return "It is absent from the population database."
    top = row.popmax_af
    where = (
        f", at most {float(top):.3g} in one population ({row.popmax_population})"
        if top is not None and not pd.isna(top) and float(top) > float(af)
        else ""
    )
    return f"Its allele frequency in the population database is {float(af):.3g}{where}."


def classification_exercise(candidates: pd.DataFrame, classifications, variant_id: str):
    """A ``classify`` exercise: the learner classifies one of their patient's candidates.

    ``candidates`` and ``classifications`` are an interpretation's (``case.candidates``,
    ``case.classifications``); ``variant_id`` names the variant (for instance the first of
    ``case.top.variants``). The description gives the facts in words — the kind of variant
    and its gene's disease, its population frequency, the computational score, the genotypes
    of child and parents and what the inheritance step made of them — and, for criteria that
    rest on other facts (a partner in trans, co-segregation, healthy carriers), the
    workbench's note. The answer is the workbench's Table 5 class and criteria; the
    explanation, shown once the class is right, gives each criterion's reason and the rule.

    Returns the specification (``type``, ``prompt``, ``variant``, ``criteria_panel``,
    ``answer``, ``wrong``, ``criteria``, ``hints``, ``explanation``), or ``None`` when the
    variant is not among the candidates.
    """
    require_columns(
        candidates,
        "candidates",
        (
            "variant_id",
            "gene",
            "mode",
            "disease_name",
            "consequence",
            "hgvs_c",
            "hgvs_p",
            "insilico",
            "af",
            "popmax_af",
            "popmax_population",
            "proband_count",
            "father_count",
            "mother_count",
            "reason",
        ),
    )
    rows = candidates[candidates.variant_id == variant_id]
    if rows.empty or variant_id not in classifications:
        return None
    row = rows.iloc[0]
    c = classifications[variant_id]
    codes = {e.code for e in c.evidence}
    consequence = str(row.consequence)
    what = _CONSEQUENCE_WORDS.get(consequence, consequence.replace("_", " "))
    change = " ".join(str(v) for v in (row.hgvs_c, row.hgvs_p) if isinstance(v, str) and v) or str(
        variant_id
    )
    mode = MODE_WORDS.get(row["mode"], str(row["mode"]))
    facts = [
        f"{what[0].upper()}{what[1:]} in {row.gene} ({change}). {row.gene} causes "
        f"{row.disease_name}, a {mode} disease, through loss of function.",
        _frequency_fact(row),
    ]
    if not pd.isna(row.insilico) and consequence not in _NULL:
        facts.append(
            f"Computational predictors score it {float(row.insilico):.3f} on a scale from 0 "
            f"(harmless) to 1 (damaging); the laboratory's cut-offs are "
            f"≥ {_CUTS.pp3_min:.3f} damaging and ≤ {_CUTS.bp4_max:.3f} harmless."
        )
    facts.append(
        f"The child carries {int(row.proband_count)} "
        f"cop{'y' if int(row.proband_count) == 1 else 'ies'}; the father "
        f"{_copies(row.father_count)}, the mother {_copies(row.mother_count)}. "
        f"The inheritance step: {row.reason}."
    )
    if "PS2" in codes:
        facts.append("Maternity and paternity are confirmed by the relatedness check.")
    elif "PM6" in codes:
        facts.append("Maternity and paternity are not confirmed.")
    facts += [f"Also: {e.note}." for e in c.evidence if e.code not in _DESCRIBED]
    labels = [e.label for e in c.evidence]
    explanation = (
        "; ".join(f"{e.label}: {e.note}" for e in c.evidence) or "No criterion applies"
    ) + f". By Table 5 ({c.rule}): {c.classification}."
    if c.disagreement:
        explanation += f" {c.disagreement}"
    return {
        "type": "classify",
        "prompt": (
            f"Classify your patient's {row.gene} variant, described below. Tick the criteria "
            "the facts support (the panel shows the class they imply), then choose the class "
            "you would report."
        ),
        "variant": " ".join(facts),
        "criteria_panel": True,
        "answer": {"class": c.classification, "criteria": labels},
        "wrong": {"class": _WRONG_CLASS[c.classification], "criteria": labels[:-1]},
        "criteria": labels,
        "hints": [
            "Take the facts one at a time: the kind of variant, its frequency, the "
            "computational score, and where it came from.",
            "Null variants (nonsense, frameshift, canonical splice, start loss) in a gene whose "
            "disease is caused by loss of function meet PVS1; absent or very rare meets PM2; "
            "de novo with confirmed parentage meets PS2.",
        ],
        "explanation": explanation,
    }
