"""The ``workbench`` command line.

Every deliberate error is a :class:`~workbench.errors.WorkbenchError`; the command prints its
one-line message and exits with status 2 (bad input) or 1 (anything else), never a traceback.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import click

from .errors import InputError, WorkbenchError

__all__ = ["main"]

PRESET_NAMES = ("tiny", "teaching", "national")


def _friendly(fn):
    """Turn WorkbenchError into one line on stderr and a non-zero exit."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except WorkbenchError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(2 if isinstance(e, InputError) else 1)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="clinical-genomics-workbench")
def main():
    """Clinical Genomics Workbench: synthetic national cohorts, consent-aware access,
    analysis and teaching."""


@main.command()
@click.option(
    "--preset",
    required=True,
    help="Cohort size: tiny (tests, seconds), teaching (~2,000 people), national (60,000).",
)
@click.option("--samples", type=int, default=None, help="People in the cohort (default: preset's).")
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Cohort folder [default: datasets/synthetic/<preset>].",
)
@click.option("--force", is_flag=True, help="Replace an existing cohort folder.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@_friendly
def generate(preset, samples, seed, out, force, quiet):
    """Write a synthetic cohort folder (genomes, registry, knowledge, answer key)."""
    from .synth.generate import generate_cohort

    if preset not in PRESET_NAMES:
        raise InputError(f"unknown preset {preset!r}; choose one of {', '.join(PRESET_NAMES)}")
    out = out if out is not None else Path("datasets/synthetic") / preset
    path = generate_cohort(
        preset=preset, samples=samples, seed=seed, out=out, force=force, progress=not quiet
    )
    click.echo(f"wrote {path}")


@main.command()
@click.argument("cohort", type=click.Path(path_type=Path))
@_friendly
def verify(cohort):
    """Check a cohort folder against the checksums in its manifest."""
    from .cohort import open_cohort

    c = open_cohort(cohort, verify=True)
    click.echo(f"ok: {c!r}")


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--update", is_flag=True, help="Write the recorded values as the new baselines.")
@click.option(
    "--cohort",
    type=click.Path(path_type=Path),
    default=None,
    help="Tiny cohort to run on [default: generate one under datasets/synthetic/tiny].",
)
@_friendly
def regress(paths, update, cohort):
    """Run notebooks under notebooks/ and courses/ and compare recorded values with baselines."""
    from .regress import regress as run_regress
    from .synth.generate import ensure_cohort

    root = Path.cwd()
    cohort = ensure_cohort(cohort or root / "datasets" / "synthetic" / "tiny", preset="tiny")
    report = run_regress(list(paths) or None, root=root, cohort=cohort, update=update)
    click.echo(report.format())
    if not report.ok:
        sys.exit(1)


@main.command()
@click.option("--port", type=int, default=8888, show_default=True)
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."))
@_friendly
def lab(port, root):
    """Start JupyterLab on localhost over notebooks/ and courses/, every network call off."""
    from .serve import lab_command

    cmd = lab_command(root=root, port=port)
    os.execvp(cmd[0], cmd)


def _register_command_groups() -> None:
    """Add the groups defined beside their domains (they reuse this module's helpers)."""
    from .access.cli import audit, consent
    from .pipeline.cli import pipeline
    from .teach.cli import course

    for group in (audit, consent, course, pipeline):
        main.add_command(group)


_register_command_groups()

if __name__ == "__main__":  # pragma: no cover
    main()
