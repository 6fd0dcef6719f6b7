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
from ..interpret.funnel import reached_inheritance

__all__ = ["MODE_WORDS", "inheritance_exercise"]

#: How the exercise names a gene's mode of inheritance.
MODE_WORDS = {"AD": "dominant", "AR": "recessive", "XL": "X-linked"}


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
