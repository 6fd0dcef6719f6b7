"""``workbench annotate``: consequences of a VCF's variants against real gene models.

Reads an Ensembl/GENCODE GFF3 or GTF and its FASTA (:func:`workbench.genome.gff.load_reference`)
and writes the VCF with a VEP-style ``CSQ`` field, one entry per overlapping transcript, the
canonical and MANE Select transcripts flagged (:func:`workbench.pipeline.annotate.annotate_vcf`).
Transcripts the annotator cannot model are listed, with their reasons, in a TSV beside the
output. Errors print one line and exit non-zero.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..clierrors import friendly
from ..errors import InputError, OutputExistsError

__all__ = ["annotate"]


@click.command("annotate")
@click.argument("vcf", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--fasta",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Reference FASTA (plain or bgzipped with .fai/.gzi).",
)
@click.option(
    "--genes",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Gene models: GFF3 or GTF (Ensembl, GENCODE, or a cohort's genes.gff3).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Annotated VCF to write (.vcf.gz; its .tbi index is written beside it).",
)
@click.option(
    "--refused",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="TSV of transcripts not annotated, with reasons [default: OUT.refused.tsv].",
)
@click.option("--force", is_flag=True, help="Replace existing outputs.")
@friendly
def annotate(vcf, fasta, genes, out, refused, force):
    """Annotate VCF against gene models from a GFF3 or GTF file and its FASTA."""
    from ..genome.gff import load_reference
    from ..io import atomic_file
    from ..pipeline.annotate import annotate_vcf

    if not str(out).endswith(".vcf.gz"):
        raise InputError(f"--out must end with .vcf.gz, got {out}")
    refused = refused or out.with_name(out.name.removesuffix(".vcf.gz") + ".refused.tsv")
    for path in (out, refused):
        if path.exists() and not force:
            raise OutputExistsError(path, "pass --force to replace it")
    reference, models = load_reference(fasta, genes)
    errors: list = []
    annotate_vcf(vcf, reference=reference, out_vcf=out, errors=errors)
    with atomic_file(refused) as f:
        f.write("transcript_id\treason\n")
        f.writelines(f"{tid}\t{reason}\n" for tid, reason in models.refused)
    click.echo(f"gene models: {models.summary()} (reasons in {refused})")
    note = f"; {len(errors)} allele(s) left unannotated (see CSQ_ERROR)" if errors else ""
    click.echo(f"wrote {out}{note}")
