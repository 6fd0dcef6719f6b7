"""``workbench course``: build a course's editions, check it, export and summarise progress."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..clierrors import friendly as _friendly

__all__ = ["course"]


@click.group()
def course():
    """Build and check courses (courses/<course>/), and read learners' progress."""


@course.command()
@click.argument("course_dir", metavar="COURSE", type=click.Path(path_type=Path))
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for student/, instructor/ and site/.",
)
@click.option("--force", is_flag=True, help="Replace editions already in --out.")
@click.option("--no-site", is_flag=True, help="Skip the static HTML site.")
@_friendly
def build(course_dir, out, force, no_site):
    """Write the student edition (answers sealed), the instructor edition and the site."""
    from .course import build_course

    result = build_course(course_dir, out=out, force=force, site=not no_site)
    for name in ("student", "instructor", "site"):
        path = getattr(result, name)
        if path is not None:
            click.echo(f"wrote {path}")


@course.command()
@click.argument("course_dir", metavar="COURSE", type=click.Path(path_type=Path))
@click.option(
    "--cohort",
    type=click.Path(path_type=Path),
    default=None,
    help="Cohort to run the notebooks on [default: generate a tiny one under "
    "datasets/synthetic/tiny].",
)
@click.option("--no-execute", is_flag=True, help="Only the static checks and the answer key.")
@_friendly
def check(course_dir, cohort, no_execute):
    """Check the answer key (right marked right, wrong marked wrong) and run every module."""
    from .course import check_course

    if not no_execute:
        from ..synth.generate import ensure_cohort

        cohort = ensure_cohort(cohort or Path("datasets/synthetic/tiny"), preset="tiny")
    report = check_course(course_dir, cohort=cohort, execute=not no_execute)
    click.echo(report.format())
    if not report.ok:
        sys.exit(1)


@course.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--csv",
    "csv_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the summary as CSV instead of printing it.",
)
@_friendly
def progress(paths, csv_out):
    """Summarise a class's progress per exercise from learners' databases or CSV exports."""
    from .progress import class_progress

    table = class_progress(paths)
    if csv_out is None:
        click.echo(table.to_string(index=False))
    else:
        table.to_csv(csv_out, index=False)
        click.echo(f"wrote {csv_out}")
