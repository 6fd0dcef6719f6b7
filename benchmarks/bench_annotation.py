"""Agreement of the workbench's annotator with bcftools csq (the most severe consequence and
the protein change), on a cohort's variants and on a designed set that stresses every
boundary (``workbench.genome.agreement``).

* ``cohort``: every site of the cohort's VCF (the teaching cohort: ``datasets/synthetic/
  teaching``, else ``/tmp/teach``, else one generated here; ``--cohort PATH``);
* ``designed``: every SNV and every 1–3 bp deletion and insertion within 10 bp of each
  exon–intron junction and of the start and stop codons of every gene, normalised.

Printed: the share of (variant, gene) pairs whose most severe term is the same, the share
where csq's term is among ours (VEP lists every term, csq often one), the protein change of
substitutions, and the differences no entry of ``agreement.EXPLAINED`` accounts for, by
category with a count. The full table goes to ``--out`` (TSV) when given.

    python benchmarks/bench_annotation.py [--quick] [--cohort PATH] [--out TABLE.tsv]

The same is measured against snpEff (Debian's ``snpeff``; its database is built here from
the cohort's gene models written as GTF) when ``snpEff`` is on the PATH; otherwise that case
is skipped with a message.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
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
            s = summarise(table)
            emit(case, "pairs_compared", s["compared"], "variant x gene")
            emit(case, "indels", s["indels"], "variants")
            emit(case, "most_severe_agreement", round(100 * s["term_agreement"], 2), "%")
            emit(case, "snv_agreement", round(100 * s["snv_term_agreement"], 2), "%")
            emit(case, "indel_agreement", round(100 * s["indel_term_agreement"], 2), "%")
            emit(case, "csq_term_among_ours", round(100 * s["term_compatible"], 2), "%")
            emit(case, "protein_agreement_substitutions", round(100 * s["protein_agreement"], 2),
                 "%")  # fmt: skip
            emit(case, "unexplained_differences", s["unexplained"], "pairs")
            unexplained = table[~table.term_agrees & table.explained.isna()]
            for category, n in unexplained.category.value_counts().head(12).items():
                print(f"  {case}: {n:6d}  {category}", file=sys.stderr)
            tables.append(table.assign(case=case))
        if "--out" in argv:
            import pandas as pd

            out = Path(argv[argv.index("--out") + 1])
            pd.concat(tables).to_csv(out, sep="\t", index=False)
            print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
