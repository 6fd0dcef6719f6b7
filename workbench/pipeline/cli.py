"""``workbench pipeline run``: the sequencing pipeline of one family from the command line.

Errors print one line (``error: …``) and exit non-zero (2 for bad input, 1 otherwise).
"""

from __future__ import annotations

import math
from pathlib import Path

import click

from ..clierrors import friendly as _friendly

__all__ = ["pipeline"]


def _split(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [t.strip() for t in text.split(",") if t.strip()]


@click.group()
def pipeline():
    """Sequencing pipeline on synthetic reads: FASTQ to an annotated, truth-checked VCF."""


@pipeline.command()
@click.option("--cohort", required=True, type=click.Path(path_type=Path), help="Cohort folder.")
@click.option("--family", required=True, help="Family id, e.g. F0001.")
@click.option(
    "--steps",
    default=None,
    help="Comma-separated steps to bring up to date (and what they need) "
    "[default: all: simulate_reads,qc,trim,align,call,compare,annotate].",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output folder [default: pipeline/<family>].",
)
@click.option("--depth", type=float, default=30.0, show_default=True, help="Mean read depth.")
@click.option("--genes", default=None, help="Comma-separated genes [default: every gene].")
@click.option("--seed", type=int, default=1, show_default=True, help="Read simulation seed.")
@click.option("--threads", type=int, default=2, show_default=True, help="Alignment threads.")
@click.option("--min-qual", type=float, default=20.0, show_default=True, help="LowQual filter.")
@click.option("--min-depth", type=int, default=8, show_default=True, help="LowDepth filter.")
@click.option("--min-gq", type=int, default=20, show_default=True, help="LowGQ filter.")
@click.option("--force", is_flag=True, help="Rerun the chosen steps even when current.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@_friendly
def run(cohort, family, steps, out, depth, genes, seed, threads, min_qual, min_depth, min_gq,
        force, quiet):  # fmt: skip
    """Run (or reuse) the pipeline steps of one family and print what was done."""
    from ..cohort import open_cohort
    from .steps import run_pipeline

    c = open_cohort(cohort)
    out = out if out is not None else Path("pipeline") / family
    result = run_pipeline(
        c, family=family, out_dir=out, steps=_split(steps), genes=_split(genes), depth=depth,
        seed=seed, threads=threads, min_qual=min_qual, min_depth=min_depth, min_gq=min_gq,
        force=force, progress=not quiet,
    )  # fmt: skip
    for name, step in result.steps.items():
        state = "cached" if step.cached else f"ran in {step.seconds:.1f} s"
        click.echo(f"{name:<15} {state:<16} {step.folder}")
    if "compare" in result.steps:
        for kind, m in result.metrics().items():

            def f(x):
                return (
                    "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4f}"
                )

            click.echo(
                f"{kind:<6} precision {f(m['precision'])}  recall {f(m['recall'])}  "
                f"F1 {f(m['f1'])}  (TP {m['tp']}, FP {m['fp']}, FN {m['fn']})"
            )
    if "annotate" in result.steps:
        click.echo(f"annotated VCF: {result.annotated_vcf}")
