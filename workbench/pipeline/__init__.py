"""Sequencing pipeline steps on synthetic reads.

Reads simulated with :func:`workbench.synth.reads.simulate_reads` go through the steps of a
clinical short-read pipeline, each a plain function over files:

* :func:`read_qc` — FastQC-like tables and pass/warn/fail flags; :func:`trim` — cutadapt;
* :func:`align` — minimap2 (mappy) → fixmate → sort → markdup → indexed BAM;
  :func:`coverage` — depth per gene and exon.

>>> qc = read_qc("P00003_R1.fastq.gz", "P00003_R2.fastq.gz")     # doctest: +SKIP
>>> t1, t2, report = trim(r1, r2, out_dir="trimmed")             # doctest: +SKIP
>>> bam = align("genome.fa", t1, t2, out_bam="P3.bam", sample="P00003")  # doctest: +SKIP
>>> coverage(bam, cohort.reference, genes=["SCN1A"])             # doctest: +SKIP
"""

from .align import align, coverage
from .qc import (
    ReadQC,
    plot_adapter_content,
    plot_duplication,
    plot_gc_content,
    plot_per_position_quality,
    read_qc,
    trim,
)

__all__ = [
    "ReadQC",
    "align",
    "coverage",
    "plot_adapter_content",
    "plot_duplication",
    "plot_gc_content",
    "plot_per_position_quality",
    "read_qc",
    "trim",
]
