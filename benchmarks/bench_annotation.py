"""Agreement of the workbench's annotator with bcftools csq (the most severe consequence and
the protein change), on a cohort's variants and on a designed set that stresses every
boundary (``workbench.genome.agreement``).

* ``cohort``: every site of the cohort's VCF (the teaching cohort: ``datasets/synthetic/
  teaching``, else ``/tmp/teach``, else one generated here; ``--cohort PATH``);
* ``designed``: every SNV and every 1–3 bp deletion and insertion within 10 bp of each
  exon–intron junction and of the start and stop codons of every gene, normalised;
* ``real``: the same designed variants on real gene models with their real sequence: the
  Ensembl-style GFF3 and FASTA excerpts (34 human regions, one C. elegans) that bcftools
  ships as csq's own test data, taken from Debian's source of bcftools 1.16 (fetched once
  from deb.debian.org, the checksum checked against Debian's ``.dsc``, kept in
  ``~/.cache/workbench``; ``--no-real`` skips it). Transcripts our reader refuses are
  listed with their reasons, and left out of both tools' answers.

Printed: the share of (variant, gene) pairs whose most severe term is the same, the share
where csq's term is among ours (VEP lists every term, csq often one), the protein change of
substitutions, and the differences no entry of ``agreement.EXPLAINED`` accounts for, by
category with a count. The full table goes to ``--out`` (TSV) when given.

    python benchmarks/bench_annotation.py [--quick] [--cohort PATH] [--out TABLE.tsv] [--no-real]

The same is measured against snpEff (Debian's ``snpeff``; its database is built here from
the cohort's gene models written as GTF) when ``snpEff`` is on the PATH; otherwise that case
is skipped with a message.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

import workbench
from workbench.genome.agreement import (
    compare_with_bcftools_csq,
    compare_with_snpeff,
    designed_variants,
    summarise,
    write_sites,
)


def emit(case, metric, value, unit):
    row = dict(benchmark="annotation", case=case, metric=metric, value=value, unit=unit)
    print(json.dumps(row), flush=True)


def _cohort(argv, tmp: Path) -> Path:
    if "--cohort" in argv:
        return Path(argv[argv.index("--cohort") + 1])
    if "--quick" not in argv:
        for p in (Path("datasets/synthetic/teaching"), Path("/tmp/teach")):
            if (p / "manifest.json").is_file():
                return p
    from workbench.synth.generate import generate_cohort

    preset = "tiny" if "--quick" in argv else "teaching"
    return generate_cohort(preset=preset, out=tmp / preset, seed=42, progress=False)


#: Debian's source of bcftools 1.16 (bookworm) and its SHA-256 from bcftools_1.16-1.dsc.
BCFTOOLS_SOURCE = "http://deb.debian.org/debian/pool/main/b/bcftools/bcftools_1.16.orig.tar.gz"
BCFTOOLS_SHA256 = "c44c85a04e058e1f1eceeb712106031100bbd700b8ff3f623f7ff872469a4ba3"


def real_gene_files(cache: Path) -> list[tuple[str, Path, Path]]:
    """(name, FASTA, GFF3) of every real Ensembl transcript excerpt in bcftools' csq tests
    (directories named ``ENST`` + 11 digits; the others are edited or not human)."""
    root = cache / "bcftools-1.16-csq"
    if not root.is_dir():
        cache.mkdir(parents=True, exist_ok=True)
        tarball = cache / Path(BCFTOOLS_SOURCE).name
        if not tarball.is_file():
            part = tarball.with_suffix(".part")
            print(f"fetching {BCFTOOLS_SOURCE}", file=sys.stderr)
            with urllib.request.urlopen(BCFTOOLS_SOURCE, timeout=120) as r, open(part, "wb") as f:
                shutil.copyfileobj(r, f)
            part.rename(tarball)
        # Checked before every extraction, so a tarball left in the cache is trusted no more
        # than a fresh download.
        digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
        if digest != BCFTOOLS_SHA256:
            tarball.unlink()
            raise SystemExit(f"{tarball}: checksum {digest} is not Debian's; removed, run again")
        tmp = Path(tempfile.mkdtemp(dir=cache))
        with tarfile.open(tarball) as tar:
            members = [m for m in tar.getmembers()
                       if re.match(r"bcftools-1\.16/test/csq/ENST\d{11}/ENST\d{11}\.(gff|fa)$",
                                   m.name) and m.isfile()]  # fmt: skip
            tar.extractall(tmp, members=members, filter="data")
        os.replace(tmp / "bcftools-1.16" / "test" / "csq", root)
        shutil.rmtree(tmp)
    out = []
    for d in sorted(root.iterdir()):
        fasta, gff = d / f"{d.name}.fa", d / f"{d.name}.gff"
        if fasta.is_file() and gff.is_file():
            out.append((d.name, fasta, gff))
    return out


def _real(cache: Path, tmp: Path):
    """The designed variants of every usable real file, compared with bcftools csq."""
    import pandas as pd

    from workbench.errors import CohortFormatError
    from workbench.genome.gff import load_reference

    tables, refused, unusable = [], [], []
    for name, fasta, gff in real_gene_files(cache):
        try:
            ref, models = load_reference(fasta, gff)
        except CohortFormatError as e:  # every transcript refused
            unusable.append((name, str(e).split("(", 1)[-1].rstrip(")")))
            continue
        refused += [(name, tid, reason) for tid, reason in models.refused]
        vcf = write_sites(designed_variants(ref), tmp / f"{name}.vcf.gz", contigs=ref.contigs)
        table = compare_with_bcftools_csq(vcf, reference=ref, fasta=fasta, gff3=gff)
        tables.append(table.assign(source=name))
    return pd.concat(tables, ignore_index=True), refused, unusable


def _emit_summary(case, table):
    s = summarise(table)
    emit(case, "pairs_compared", s["compared"], "variant x gene")
    emit(case, "indels", s["indels"], "variants")
    emit(case, "most_severe_agreement", round(100 * s["term_agreement"], 2), "%")
    emit(case, "snv_agreement", round(100 * s["snv_term_agreement"], 2), "%")
    emit(case, "indel_agreement", round(100 * s["indel_term_agreement"], 2), "%")
    emit(case, "csq_term_among_ours", round(100 * s["term_compatible"], 2), "%")
    emit(case, "protein_agreement_substitutions", round(100 * s["protein_agreement"], 2), "%")
    emit(case, "unexplained_differences", s["unexplained"], "pairs")
    unexplained = table[~table.term_agrees & table.explained.isna()]
    for category, n in unexplained.category.value_counts().head(12).items():
        print(f"  {case}: {n:6d}  {category}", file=sys.stderr)


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        path = _cohort(argv, tmp)
        cohort = workbench.open_cohort(path, verify=False)
        ref = cohort.reference
        files = dict(fasta=path / "reference" / "genome.fa", gff3=path / "reference" / "genes.gff3")
        designed = write_sites(designed_variants(ref), tmp / "designed.vcf.gz", contigs=ref.contigs)

        def bcftools_csq(vcf):
            return compare_with_bcftools_csq(vcf, reference=ref, **files)

        def snpeff(vcf):
            return compare_with_snpeff(vcf, reference=ref, fasta=files["fasta"])

        tools = {"bcftools-csq": bcftools_csq}
        if shutil.which("snpEff"):
            tools["snpeff"] = snpeff
        else:
            print("snpEff is not installed (Debian's snpeff): its case is skipped", file=sys.stderr)
        sets = {"cohort": path / "genotypes.vcf.gz", "designed": designed}
        cases = [
            (f"{t}:{name}", run, vcf) for t, run in tools.items() for name, vcf in sets.items()
        ]
        tables = []
        for case, run, vcf in cases:
            table = run(vcf)
            _emit_summary(case, table)
            tables.append(table.assign(case=case))
        if "--no-real" not in argv and "--quick" not in argv:
            cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "workbench"
            try:
                real = _real(cache, tmp)
            except OSError as e:  # urllib's URLError too: no route to deb.debian.org
                print(f"real genes skipped: cannot fetch {BCFTOOLS_SOURCE} ({e})", file=sys.stderr)
                real = None
            if real is not None:
                table, refused, unusable = real
                emit("bcftools-csq:real", "genes", table.gene.nunique(), "real genes compared")
                emit("bcftools-csq:real", "excerpts", table.source.nunique(), "files compared")
                emit("bcftools-csq:real", "files_refused", len(unusable), "all transcripts refused")
                emit("bcftools-csq:real", "transcripts_refused", len(refused), "in files compared")
                for name, reason in unusable:
                    print(f"  real: {name} refused: {reason[:150]}", file=sys.stderr)
                for name, tid, reason in refused:
                    print(f"  real: {name} {tid} refused: {reason[:150]}", file=sys.stderr)
                _emit_summary("bcftools-csq:real", table)
                tables.append(table.assign(case="bcftools-csq:real"))
        if "--out" in argv:
            import pandas as pd

            out = Path(argv[argv.index("--out") + 1])
            pd.concat(tables).to_csv(out, sep="\t", index=False)
            print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
