"""Gene models at human sizes on chromosomes of human length, with sequence only where it counts.

:func:`build_genome` lays out protein-coding genes on chromosomes at GRCh38's lengths. Each gene's
structure is drawn from the distributions of human RefSeq protein-coding transcripts
(:class:`GeneSizes`): about 8 coding exons of about 120 bp, introns of about 1.7 kb with a tail
past 100 kb, 5′ UTRs of about 170 bp and 3′ UTRs of about 0.5–1 kb. Genes are spread over each
chromosome in random order, on random strands, in numbers proportional to the chromosome's
real gene count.

Sequence is drawn only where a clinical exome or genome pipeline looks: every exon with
``flank`` bases of intron on either side (the splice sites and the splice region included), and
a neutral window every ``neutral_spacing`` bases between genes, for population structure and
relatedness. The rest of the chromosome reads ``N``. The reference holds its chromosomes as
:class:`~workbench.genome.sparse.SparseSequence`, so 3.1 Gb of coordinates cost about as much
memory as the ~100 Mb of known sequence.

References
----------
Piovesan A et al. Human protein-coding genes and gene feature statistics in 2019. BMC Res Notes
2019;12:315, Table 2 (exons, coding exons and introns per RefSeq transcript).
Lin Z, Li WH. The evolution of 5′ UTR length in vertebrates. BMC Res Notes 2011;4:312, Table 1
(human 5′ UTR median 169, mean 254 bp, Ensembl).
Tian B et al. A large-scale analysis of mRNA polyadenylation of human and mouse genes. Nucleic
Acids Res 2005;33:201–12 (median 324 bp from the stop codon to the nearest poly(A) site);
Hendrickson DG et al. PLoS Biol 2009;7:e1000238 (mammalian 3′ UTRs about 1,000 nt on average).
Chromosome lengths: GRCh38 primary assembly (GCA_000001405.15). Protein-coding genes per
chromosome: Ensembl's GRCh38 annotation as tabulated in Wikipedia's "Human genome" article
(used only as relative weights).
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Collection, Mapping, Sequence

import numpy as np

from ..errors import InputError
from ._sequence import reverse_complement
from .build import (
    _SENSE_CODONS,
    _STOPS,
    _canonical_genes,
    _coordinates,
    _parse_build_args,
    _random_str,
    _splice_motifs,
)
from .reference import GeneSpec, Reference
from .sparse import SparseSequence

__all__ = [
    "GRCH38_LENGTHS",
    "PROTEIN_CODING_GENES",
    "GeneSizes",
    "build_genome",
    "genes_per_chromosome",
]

#: GRCh38 chromosome lengths (bp), primary assembly.
GRCH38_LENGTHS: dict[str, int] = {
    "chr1": 248_956_422,
    "chr2": 242_193_529,
    "chr3": 198_295_559,
    "chr4": 190_214_555,
    "chr5": 181_538_259,
    "chr6": 170_805_979,
    "chr7": 159_345_973,
    "chr8": 145_138_636,
    "chr9": 138_394_717,
    "chr10": 133_797_422,
    "chr11": 135_086_622,
    "chr12": 133_275_309,
    "chr13": 114_364_328,
    "chr14": 107_043_718,
    "chr15": 101_991_189,
    "chr16": 90_338_345,
    "chr17": 83_257_441,
    "chr18": 80_373_285,
    "chr19": 58_617_616,
    "chr20": 64_444_167,
    "chr21": 46_709_983,
    "chr22": 50_818_468,
    "chrX": 156_040_895,
}

#: Protein-coding genes per chromosome in Ensembl's GRCh38 annotation (relative weights only:
#: gene-rich chr19 and chr17 get many genes, chr13 and chr18 few).
PROTEIN_CODING_GENES: dict[str, int] = {
    "chr1": 2058,
    "chr2": 1309,
    "chr3": 1078,
    "chr4": 752,
    "chr5": 876,
    "chr6": 1048,
    "chr7": 989,
    "chr8": 677,
    "chr9": 786,
    "chr10": 733,
    "chr11": 1298,
    "chr12": 1034,
    "chr13": 327,
    "chr14": 830,
    "chr15": 613,
    "chr16": 873,
    "chr17": 1197,
    "chr18": 270,
    "chr19": 1472,
    "chr20": 544,
    "chr21": 234,
    "chr22": 488,
    "chrX": 842,
}


@dataclasses.dataclass(frozen=True)
class GeneSizes:
    """Distributions of gene-model sizes, each a log-normal given by its median and mean (bp).

    The defaults are human RefSeq protein-coding transcripts (see the module's references):
    coding exons per transcript (median 8, mean 10.3), coding bases per exon (median 120,
    mean 160), introns (median 1,747, mean 6,938), 5′ UTRs (median 169, mean 254) and 3′ UTRs
    (median 550, mean 1,000). ``single_exon`` is the share of genes whose coding sequence is
    one exon (1,068 of 19,116 genes have a one-exon transcript, Piovesan 2019), and
    ``split_utr5`` the share whose first exon is non-coding.
    """

    coding_exons: tuple[float, float] = (8.0, 10.3)
    coding_exon: tuple[float, float] = (120.0, 160.0)
    intron: tuple[float, float] = (1_747.0, 6_938.0)
    utr5: tuple[float, float] = (169.0, 254.0)
    utr3: tuple[float, float] = (550.0, 1_000.0)
    single_exon: float = 0.056
    split_utr5: float = 0.2
    min_coding_exon: int = 12
    min_intron: int = 60
    max_intron: int = 1_000_000


def _lognormal(rng: np.random.Generator, median_mean: tuple[float, float], size=None):
    median, mean = median_mean
    sigma = np.sqrt(2 * np.log(mean / median))
    return rng.lognormal(np.log(median), sigma, size)


@dataclasses.dataclass
class _Model:
    """One gene's lengths, in transcript orientation."""

    utr5: list[int]  # UTR bases per 5' exon (one entry, or two when exon 1 is non-coding)
    coding: list[int]  # coding bases per coding exon
    utr3: int
    introns: list[int]

    def exon_lengths(self) -> list[int]:
        c = list(self.coding)
        if len(self.utr5) == 2:
            ex = [self.utr5[0], self.utr5[1] + c[0], *c[1:]]
        else:
            ex = [self.utr5[0] + c[0], *c[1:]]
        ex[-1] += self.utr3
        return ex

    def span(self) -> int:
        return sum(self.exon_lengths()) + sum(self.introns)


def _draw_model(rng: np.random.Generator, sizes: GeneSizes, min_coding_exons: int = 1) -> _Model:
    model = _draw_one(rng, sizes)
    while len(model.coding) < min_coding_exons:
        model = _draw_one(rng, sizes)
    return model


def _draw_one(rng: np.random.Generator, sizes: GeneSizes) -> _Model:
    if rng.random() < sizes.single_exon:
        n_coding = 1
        coding = [int(_lognormal(rng, sizes.coding_exon, 8).sum())]
    else:
        n_coding = max(2, round(float(_lognormal(rng, sizes.coding_exons))))
        coding = [
            max(sizes.min_coding_exon, int(x)) for x in _lognormal(rng, sizes.coding_exon, n_coding)
        ]
    cds = sum(coding)
    coding[-1] -= cds % 3
    while sum(coding) < 9:  # ATG, one codon, a stop
        coding[-1] += 3
    split = n_coding > 1 and rng.random() < sizes.split_utr5
    utr5_total = max(12, int(_lognormal(rng, sizes.utr5)))
    utr5 = [max(6, utr5_total - 40), 40] if split else [utr5_total]
    utr3 = max(30, int(_lognormal(rng, sizes.utr3)))
    n_introns = len(coding) - 1 + (1 if split else 0)
    introns = [
        int(np.clip(x, sizes.min_intron, sizes.max_intron))
        for x in _lognormal(rng, sizes.intron, n_introns)
    ]
    return _Model(utr5=utr5, coding=coding, utr3=utr3, introns=introns)


def genes_per_chromosome(chromosomes: Sequence[str], n_genes: int) -> dict[str, int]:
    """Share ``n_genes`` among ``chromosomes`` in proportion to their real gene counts."""
    unknown = [c for c in chromosomes if c not in PROTEIN_CODING_GENES]
    if unknown:
        raise InputError(
            f"no gene count is known for {', '.join(unknown)}; use GRCh38 names "
            f"({', '.join(PROTEIN_CODING_GENES)})"
        )
    w = np.array([PROTEIN_CODING_GENES[c] for c in chromosomes], dtype=float)
    exact = n_genes * w / w.sum()
    counts = np.floor(exact).astype(int)
    for i in np.argsort(counts - exact)[: n_genes - counts.sum()]:
        counts[i] += 1
    return {c: int(n) for c, n in zip(chromosomes, counts, strict=True)}


#: Largest share of a chromosome that genes may span (GRCh38: about 40 % is genic).
_MAX_GENIC = 0.5
#: Intergenic bases kept free around every gene, beyond its flanks.
_MIN_GAP = 2_000


def build_genome(
    *,
    chromosomes: Mapping[str, int],
    genes: Sequence[GeneSpec],
    rng: np.random.Generator,
    sizes: GeneSizes | None = None,
    flank: int = 50,
    neutral_spacing: int = 500_000,
    neutral_length: int = 1_000,
    multi_exon: Collection[str] = (),
) -> Reference:
    """Lay out protein-coding genes at human sizes on chromosomes, with sparse sequence.

    Parameters
    ----------
    chromosomes : mapping of str to int
        Chromosome names and lengths (for a human-like genome, :data:`GRCH38_LENGTHS`).
    genes : sequence of (symbol, chromosome)
        The genes, each on its chromosome (share them with :func:`genes_per_chromosome`).
    rng : numpy.random.Generator
        The only source of randomness.
    sizes : GeneSizes, optional
        Distributions of exon, intron and UTR lengths (default: human).
    flank : int
        Intron bases with sequence on either side of each exon (the splice region is 8).
    neutral_spacing, neutral_length : int
        One neutral window of ``neutral_length`` bases every ``neutral_spacing`` bases of
        intergenic sequence (``neutral_spacing=0``: none).
    multi_exon : collection of str
        Genes drawn with at least three coding exons: the disease genes variants are planted
        in, which need introns and splice sites (Mendelian disease genes are larger than
        average ones; a one-exon model would give them no splice variant to plant).

    Returns
    -------
    Reference
        One canonical transcript per gene (ids ``SYNG…``/``SYNT…`` in genome order), on
        chromosomes of :class:`~workbench.genome.sparse.SparseSequence`. When a chromosome's
        genes would span more than half of it, their introns are shortened in proportion.

    Raises
    ------
    InputError
        For malformed arguments, or genes that cannot fit their chromosome.
    """
    chromosomes, specs = _parse_build_args(chromosomes, genes, rng)
    sizes = sizes or GeneSizes()
    for name, value in (("flank", flank), ("neutral_length", neutral_length)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 25:
            raise InputError(f"{name} must be a whole number of at least 25 bp, got {value!r}")
    if isinstance(neutral_spacing, bool) or not isinstance(neutral_spacing, int):
        raise InputError(f"neutral_spacing must be a whole number, got {neutral_spacing!r}")
    if neutral_spacing and neutral_spacing < 2 * neutral_length:
        raise InputError(
            f"neutral_spacing ({neutral_spacing}) must be 0 or at least twice neutral_length "
            f"({neutral_length})"
        )
    per: dict[str, list[str]] = {c: [] for c in chromosomes}
    for symbol, chrom in specs:
        per[chrom].append(symbol)

    placed = []  # (chrom, start0, symbol, strand, exons, cds_start, cds_end)
    sequences: dict[str, SparseSequence] = {}
    for chrom, length in chromosomes.items():
        symbols = list(per[chrom])
        order = rng.permutation(len(symbols))
        symbols = [symbols[i] for i in order]
        models = [_draw_model(rng, sizes, 3 if s in multi_exon else 1) for s in symbols]
        _shrink(models, length, flank, sizes)
        pads = [m.span() + 2 * flank for m in models]
        free = length - sum(pads) - (len(models) + 1) * _MIN_GAP
        if free < 0:
            raise InputError(
                f"{len(models)} genes need {sum(pads) + (len(models) + 1) * _MIN_GAP:,} bp on "
                f"{chrom} but it is {length:,} bp long; lengthen it or place fewer genes"
            )
        gaps = _MIN_GAP + np.floor(free * rng.dirichlet(np.ones(len(models) + 1))).astype(int)
        windows: list[tuple[int, str]] = []
        cursor = int(gaps[0])
        intergenic = [(0, cursor)]
        for i, (symbol, model) in enumerate(zip(symbols, models, strict=True)):
            strand = "+-"[int(rng.integers(0, 2))]
            g0 = cursor + flank  # first base of the first exon (transcript orientation start)
            span = model.span()
            gene_windows, exon_offsets, cds0, cds_len = _gene_windows(model, rng, flank)
            for off, seq in gene_windows:
                if strand == "+":
                    windows.append((g0 + off, seq))
                else:
                    windows.append((g0 + span - off - len(seq), reverse_complement(seq)))
            placed.append(
                (
                    chrom,
                    g0,
                    symbol,
                    strand,
                    *_coordinates(g0, span, strand, exon_offsets, cds0, cds_len),
                )
            )
            cursor = g0 + span + flank
            intergenic.append((cursor, cursor + int(gaps[i + 1])))
            cursor += int(gaps[i + 1])
        if neutral_spacing:
            windows.extend(_neutral_windows(intergenic, neutral_spacing, neutral_length, rng))
        windows.sort()
        sequences[chrom] = SparseSequence(length, windows)

    return Reference(sequences, _canonical_genes(placed, list(chromosomes)))


def _shrink(models: list[_Model], length: int, flank: int, sizes: GeneSizes) -> None:
    """Shorten introns in proportion until the genes span at most half the chromosome."""
    room = _MAX_GENIC * length
    total = sum(m.span() + 2 * flank for m in models)
    if total <= room:
        return
    introns = sum(sum(m.introns) for m in models)
    fixed = total - introns
    factor = max(0.0, (room - fixed) / max(1, introns))
    for m in models:
        m.introns = [max(sizes.min_intron, int(i * factor)) for i in m.introns]


def _gene_windows(model: _Model, rng: np.random.Generator, flank: int):
    """The gene's known sequence in transcript orientation, as ``(offset, bases)`` windows.

    Offsets count from the first base of the first exon. Returns the windows, each exon's
    ``(offset, length)``, and the CDS's offset and length in the spliced mRNA.
    """
    n5 = sum(model.utr5)
    cds_len = sum(model.coding)
    codons = rng.integers(0, len(_SENSE_CODONS), cds_len // 3 - 2)
    cds = "ATG" + "".join(_SENSE_CODONS[i] for i in codons) + _STOPS[int(rng.integers(0, 3))]
    tail = max(0, model.utr3 - 26)
    utr3 = (_random_str(tail, rng, 0.4) + "AATAAA" + _random_str(20, rng, 0.4))[: model.utr3]
    mrna = _random_str(n5, rng, 0.55) + cds + utr3
    windows = [(-flank, _random_str(flank, rng, 0.45))]  # promoter side
    exon_offsets = []
    cursor = pos = 0
    lengths = model.exon_lengths()
    for i, n in enumerate(lengths):
        exon_offsets.append((cursor, n))
        windows.append((cursor, mrna[pos : pos + n]))
        pos += n
        cursor += n
        if i < len(model.introns):
            size = model.introns[i]
            donor, acceptor = _splice_motifs(rng)
            if size <= 2 * flank + 100:
                middle = _random_str(size - len(donor) - len(acceptor), rng, 0.38)
                windows.append((cursor, donor + middle + acceptor))
            else:
                head = donor + _random_str(flank - len(donor), rng, 0.38)
                end = _random_str(flank - len(acceptor), rng, 0.38) + acceptor
                windows.append((cursor, head))
                windows.append((cursor + size - flank, end))
            cursor += size
    windows.append((cursor, _random_str(flank, rng, 0.4)))  # downstream
    return windows, exon_offsets, n5, cds_len


def _neutral_windows(intergenic, spacing: int, length: int, rng: np.random.Generator):
    """Random sequence windows on a grid of ``spacing``: one per grid cell, kept where it falls
    between genes (with ``_MIN_GAP // 2`` to spare)."""
    out = []
    starts = [a for a, _ in intergenic]
    end = intergenic[-1][1]
    for cell in range(0, end - spacing + 1, spacing):
        start = cell + int(rng.integers(0, spacing - length))
        k = bisect.bisect_right(starts, start) - 1
        a, b = intergenic[k]
        if a + _MIN_GAP // 2 <= start and start + length <= b - _MIN_GAP // 2:
            out.append((start, _random_str(length, rng, 0.41)))
    return out
