"""The ``workbench`` command line.

Every deliberate error is a :class:`~workbench.errors.WorkbenchError`; the command prints its
one-line message and exits with status 2 (bad input) or 1 (anything else), never a traceback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .clierrors import friendly as _friendly
from .errors import InputError

__all__ = ["main"]

PRESET_NAMES = ("tiny", "teaching", "national")


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
@click.argument("cohort", type=click.Path(path_type=Path))
@click.option(
    "--max-unrelated",
    type=click.IntRange(min=0),
    default=1_500,
    show_default=True,
    help="People outside the families read for the per-person and per-cohort figures.",
)
@click.option("--no-funnel", is_flag=True, help="Skip the default trio filter per proband.")
@click.option("--tsv", type=click.Path(dir_okay=False, path_type=Path), help="Also write a TSV.")
@click.option("--check", is_flag=True, help="Exit with status 1 when a figure is outside.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@_friendly
def realism(cohort, max_unrelated, no_funnel, tsv, check, quiet):
    """Print a cohort's realism scorecard: its figures next to published ranges."""
    from .cohort import open_cohort
    from .io import atomic_file
    from .realism import format_scorecard, scorecard

    table = scorecard(
        open_cohort(cohort, verify=False),
        max_unrelated=max_unrelated,
        funnel=not no_funnel,
        progress=not quiet,
    )
    click.echo(format_scorecard(table))
    if tsv is not None:
        with atomic_file(tsv, "w", encoding="utf-8") as f:
            table.to_csv(f, sep="\t", index=False, lineterminator="\n")
    if check and (table.status == "outside").any():
        raise SystemExit(1)


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


@main.command()
@click.argument("dashboard", required=False)
@click.option("--all", "serve_all", is_flag=True, help="Serve every dashboard (a directory).")
@click.option(
    "--cohort",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("datasets/synthetic/teaching"),
    show_default=True,
    help="Cohort folder the dashboards open.",
)
@click.option(
    "--service",
    default=None,
    metavar="URL",
    help="Read through this data-access service instead, as WORKBENCH_TOKEN's user.",
)
@click.option("--port", type=int, default=8866, show_default=True)
@click.option("--no-preheat", is_flag=True, help="Start a kernel per visit (no pool).")
@_friendly
def serve(dashboard, serve_all, cohort, service, port, no_preheat):
    """Serve a dashboard (or --all) with Voila on localhost, every network call off.

    With --service the dashboards open no cohort folder: they read through the data-access
    service as the user of the token in WORKBENCH_TOKEN, who sees only what they may see.
    """
    import tempfile

    from .serve import (
        DASHBOARD_DIR,
        DASHBOARDS,
        HEAVY_DASHBOARDS,
        dashboard_path,
        serve_environment,
        voila_command,
        voila_config,
        write_voila_config,
    )

    if bool(dashboard) == serve_all:
        raise InputError(f"name one dashboard ({', '.join(DASHBOARDS)}) or pass --all")
    target = (Path.cwd() / DASHBOARD_DIR) if serve_all else dashboard_path(dashboard)
    if serve_all and not target.is_dir():
        raise InputError(f"no {DASHBOARD_DIR} here; run from the repository root")
    heavy = [] if no_preheat else [d for d in HEAVY_DASHBOARDS if serve_all or d == target.stem]
    env = serve_environment(cohort=cohort, service=service)
    config_dir = Path(tempfile.mkdtemp(prefix="workbench-voila-"))
    write_voila_config(config_dir, voila_config(preheat=heavy))
    cmd = voila_command(target, port=port, config_dir=config_dir)
    source = f"service {service}" if service else f"cohort {cohort}"
    click.echo(f"serving {target.name} at http://127.0.0.1:{port}/ ({source})")
    os.execvpe(cmd[0], cmd, env)


@main.command()
@click.argument("dashboard")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="A new folder.")
@click.option("--static", is_flag=True, help="Write an HTML snapshot instead of a bundle.")
@click.option(
    "--cohort",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("datasets/synthetic/teaching"),
    show_default=True,
)
@click.option(
    "--copy-cohort", is_flag=True, help="Copy the cohort into the bundle (never keyholder/)."
)
@click.option(
    "--with-answers",
    is_flag=True,
    help="Copy truth/ too (instructor material; needs --copy-cohort).",
)
@_friendly
def publish(dashboard, out, static, cohort, copy_cohort, with_answers):
    """Publish a dashboard: a bundle that starts Voila anywhere, or a static HTML snapshot."""
    from .serve.publish import publish_bundle, static_snapshot

    if static:
        if copy_cohort:
            raise InputError("--copy-cohort is for bundles; a snapshot holds no data files")
        path = static_snapshot(dashboard, out=out, cohort=cohort)
    else:
        path = publish_bundle(
            dashboard, out=out, cohort=cohort, copy_cohort=copy_cohort, with_answers=with_answers
        )
        path = path / "start.sh"
    click.echo(f"wrote {path}")


def _register_command_groups() -> None:
    """Add the groups defined beside their domains (they reuse this module's helpers)."""
    from .access.cli import audit, consent
    from .genome.cli import annotate
    from .hub.cli import hub
    from .pipeline.cli import pipeline
    from .service.cli import keyholder, service
    from .teach.cli import course

    for group in (annotate, audit, consent, course, hub, keyholder, pipeline, service):
        main.add_command(group)


_register_command_groups()

if __name__ == "__main__":  # pragma: no cover
    main()
