"""Synthetic reference genome, gene models, and the consequence + HGVS annotator.

>>> import numpy as np
>>> from workbench.genome import build_reference, annotate
>>> ref = build_reference(contigs={"chr1": 150_000}, genes=[("SCN1A", "chr1")],
...                       rng=np.random.default_rng(1))
>>> ref.gene("SCN1A").transcript.name
'SCN1A-T1'
"""

from ._sequence import reverse_complement, translate
from .annotate import (
    CONSEQUENCES,
    IMPACT,
    Annotation,
    annotate,
    gene_impact,
    most_severe,
)
from .build import build_reference
from .design import DESIGNABLE_EFFECTS, design_variant
from .reference import Gene, GeneSpec, Reference, Transcript

__all__ = [
    "CONSEQUENCES",
    "DESIGNABLE_EFFECTS",
    "IMPACT",
    "Annotation",
    "Gene",
    "GeneSpec",
    "Reference",
    "Transcript",
    "annotate",
    "build_reference",
    "design_variant",
    "gene_impact",
    "most_severe",
    "reverse_complement",
    "translate",
]
