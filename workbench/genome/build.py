"""The compact synthetic genome: a few short contigs, one gene model per clinical gene.

:func:`build_reference` draws random contig sequence (about 41 % GC, with a sprinkling of
microsatellites) and lays out one protein-coding gene per requested symbol on its contig:
non-overlapping, on both strands, separated by intergenic sequence. Every gene has one
canonical transcript (``<SYMBOL>-T1``, accession ``SYNT000001.1``) whose coding sequence starts
with ``ATG``, ends with a stop codon and has no premature in-frame stop; its introns start with
``GT`` and end with ``AG``. The genes borrow real clinical names so exercises read naturally,
but their sequence, size and structure are invented. The helpers that draw sequence and turn
placed models into genes are shared with :mod:`workbench.genome.genemodels`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ._sequence import CODON_TABLE, STOP_CODONS, reverse_complement
from .reference import Gene, GeneSpec, Reference, Transcript

__all__ = ["build_reference"]

# Gene-model size ranges (bp), chosen so a dozen genes fit a 150 kb contig.
_EXONS = (3, 12)  # exons per transcript, inclusive
_CODING_EXON = (60, 250)  # coding bases per exon
_INTRON = (200, 2500)  # drawn log-uniformly, so most introns are short
_UTR = (50, 400)
_MIN_GAP = 500  # intergenic bases before, between and after genes
_MIN_LAYOUT_SPAN = _UTR[0] + 3 * _CODING_EXON[0] + _UTR[0] + 2 * _INTRON[0]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")
_SENSE_CODONS = tuple(sorted(c for c in CODON_TABLE if c not in STOP_CODONS))
_STOPS = ("TAA", "TAG", "TGA")
_MICROSATELLITES = ("A", "T", "CA", "TG", "AT", "GAA", "CAG", "AAT", "AAAT", "GATA")


# -- building -------------------------------------------------------------------------------


@dataclass
class _Layout:
    """Lengths of one gene model in transcript orientation."""

    utr5_first: int  # 5'UTR bases in exon 1
    utr5_second: int  # 5'UTR bases in exon 2 (only when exon 1 is non-coding)
    noncoding_first: bool
    coding: list[int]  # coding bases per coding exon
    utr3: int
    introns: list[int]

    def fix_frame(self) -> None:
        self.coding[-1] -= sum(self.coding) % 3

    def exon_lengths(self) -> list[int]:
        c = list(self.coding)
        if self.noncoding_first:
            ex = [self.utr5_first, self.utr5_second + c[0], *c[1:]]
        else:
            ex = [self.utr5_first + c[0], *c[1:]]
        ex[-1] += self.utr3
        return ex

    def exonic(self) -> int:
        return sum(self.exon_lengths())

    def span(self) -> int:
        return self.exonic() + sum(self.introns)


def _minimal_layout() -> _Layout:
    return _Layout(_UTR[0], 0, False, [_CODING_EXON[0]] * 3, _UTR[0], [_INTRON[0]] * 2)


def _draw_layout(rng: np.random.Generator) -> _Layout:
    n_exons = int(rng.integers(_EXONS[0], _EXONS[1] + 1))
    noncoding_first = n_exons >= 4 and rng.random() < 0.2
    n_coding = n_exons - 1 if noncoding_first else n_exons
    coding = [int(x) for x in rng.integers(_CODING_EXON[0], _CODING_EXON[1] + 1, n_coding)]
    lo, hi = np.log(_INTRON[0]), np.log(_INTRON[1])
    introns = [int(np.exp(x) + 0.5) for x in rng.uniform(lo, hi, n_exons - 1)]
    layout = _Layout(
        utr5_first=int(rng.integers(_UTR[0], _UTR[1] + 1)),
        utr5_second=int(rng.integers(5, 60)) if noncoding_first else 0,
        noncoding_first=noncoding_first,
        coding=coding,
        utr3=int(rng.integers(_UTR[0], _UTR[1] + 1)),
        introns=introns,
    )
    layout.fix_frame()
    return layout


def _fit(layouts: list[_Layout], length: int) -> None:
    """Shrink ``layouts`` in place until they and the minimal gaps fit in ``length``."""
    gaps = (len(layouts) + 1) * _MIN_GAP
    if sum(x.span() for x in layouts) + gaps <= length:
        return
    # 1. Shorten introns proportionally (keeping each at least the minimum).
    exonic = sum(x.exonic() for x in layouts)
    introns = [i for x in layouts for i in x.introns]
    room = length - gaps - exonic
    floor = _INTRON[0] * len(introns)
    if room >= floor:
        f = (room - floor) / max(1, sum(introns) - floor)
        for x in layouts:
            x.introns = [_INTRON[0] + int((i - _INTRON[0]) * f) for i in x.introns]
        return
    # 2. Minimal introns and fewer exons, largest genes first.
    for x in layouts:
        x.introns = [_INTRON[0]] * len(x.introns)
    while sum(x.span() for x in layouts) + gaps > length:
        x = max(layouts, key=lambda y: (len(y.coding), y.span()))
        if len(x.coding) <= 3:
            break
        del x.coding[len(x.coding) // 2]
        x.introns.pop()
        x.fix_frame()
    # 3. Failing that, minimal genes everywhere (fits: the caller checked the bound).
    if sum(x.span() for x in layouts) + gaps > length:
        layouts[:] = [_minimal_layout() for _ in layouts]


_ACGT = np.frombuffer(b"ACGT", dtype=np.uint8)


def _random_bases(n: int, rng: np.random.Generator, gc: float) -> np.ndarray:
    p = np.array([1 - gc, gc, gc, 1 - gc]) / 2
    return _ACGT[rng.choice(4, size=n, p=p)]


def _random_str(n: int, rng: np.random.Generator, gc: float = 0.5) -> str:
    return _random_bases(n, rng, gc).tobytes().decode("ascii")


def _splice_motifs(rng: np.random.Generator) -> tuple[str, str]:
    """An intron's donor (``GT`` + consensus) and acceptor (polypyrimidine tract, ``AG``) ends."""
    donor = "GT" + "AG"[int(rng.integers(0, 2))] + "AGT"
    tract = "".join("CT"[j] for j in rng.integers(0, 2, 12))
    acceptor = tract + "ACGT"[int(rng.integers(0, 4))] + ("CAG", "TAG")[int(rng.integers(0, 2))]
    return donor, acceptor


def _gene_sequence(layout: _Layout, rng: np.random.Generator):
    """The gene in transcript orientation, with exon offsets and the CDS's mRNA offset."""
    utr5 = _random_str(layout.utr5_first + layout.utr5_second, rng, 0.55)
    cds_len = sum(layout.coding)
    codons = rng.integers(0, len(_SENSE_CODONS), cds_len // 3 - 2)
    cds = "ATG" + "".join(_SENSE_CODONS[i] for i in codons) + _STOPS[int(rng.integers(0, 3))]
    utr3 = _random_str(layout.utr3 - 26, rng, 0.4) + "AATAAA" + _random_str(20, rng, 0.4)
    mrna = utr5 + cds + utr3
    parts, offsets = [], []
    cursor = pos = 0
    lengths = layout.exon_lengths()
    for i, n in enumerate(lengths):
        offsets.append((cursor, n))
        parts.append(mrna[pos : pos + n])
        pos += n
        cursor += n
        if i < len(layout.introns):
            size = layout.introns[i]
            donor, acceptor = _splice_motifs(rng)
            middle = _random_str(size - len(donor) - len(acceptor), rng, 0.38)
            parts.append(donor + middle + acceptor)
            cursor += size
    return "".join(parts), offsets, len(utr5), cds_len


def _parse_build_args(contigs, genes, rng):
    if not isinstance(rng, np.random.Generator):
        raise InputError(
            f"rng must be a numpy.random.Generator, got {type(rng).__name__}; "
            "pass numpy.random.default_rng(seed)"
        )
    if not isinstance(contigs, Mapping) or not contigs:
        raise InputError("contigs must be a non-empty mapping of contig name to length")
    parsed = {}
    for name, length in contigs.items():
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise InputError(f"contig name {name!r} must be a word such as 'chr1'")
        if isinstance(length, bool) or not isinstance(length, int | np.integer) or length <= 0:
            raise InputError(f"contig {name} length must be a positive integer, got {length!r}")
        parsed[name] = int(length)
    specs = []
    seen = set()
    for item in genes:
        if not (isinstance(item, Sequence) and len(item) == 2):
            raise InputError(f"each gene must be a (symbol, contig) pair, got {item!r}")
        symbol, contig = item
        if not isinstance(symbol, str) or not _NAME_RE.match(symbol):
            raise InputError(f"gene symbol {symbol!r} must be a word such as 'SCN1A'")
        if contig not in parsed:
            raise InputError(
                f"gene {symbol} is placed on contig {contig!r}, which is not among "
                f"{', '.join(parsed)}; add the contig or move the gene"
            )
        if symbol in seen:
            raise InputError(f"gene {symbol} is listed twice; each symbol must appear once")
        seen.add(symbol)
        specs.append((symbol, contig))
    return parsed, specs


def build_reference(
    *,
    contigs: Mapping[str, int],
    genes: Sequence[GeneSpec],
    rng: np.random.Generator,
    gc: float = 0.41,
) -> Reference:
    """Draw a random genome and lay out one synthetic protein-coding gene per symbol.

    Parameters
    ----------
    contigs : mapping of str to int
        Contig names and lengths (bp), in the order the FASTA should list them.
    genes : sequence of (symbol, contig)
        Genes to create, each on the named contig. Genes are laid out in the given order,
        non-overlapping, at least 500 bp apart and from the contig ends.
    rng : numpy.random.Generator
        The only source of randomness: the same seed gives the same reference.
    gc : float
        Target GC fraction of the background sequence.

    Returns
    -------
    Reference
        Genes have 3–12 exons, 60–250 coding bases per exon, introns of 200–2,500 bp (most
        short) and UTRs of 50–400 bp; about a fifth have a non-coding first exon. Strands
        are random, but a reference of two or more genes always has both. When the genes
        crowd a contig, introns (and then exon counts) are shrunk to fit.

    Raises
    ------
    InputError
        For malformed arguments, or when the genes cannot fit their contig even at minimal
        size (the message says how many bp are needed).
    """
    contigs, specs = _parse_build_args(contigs, genes, rng)
    if not 0.2 <= gc <= 0.8:
        raise InputError(f"gc must be between 0.2 and 0.8, got {gc}")
    per_contig: dict[str, list[str]] = {c: [] for c in contigs}
    for symbol, contig in specs:
        per_contig[contig].append(symbol)
    for contig, symbols in per_contig.items():
        need = len(symbols) * _MIN_LAYOUT_SPAN + (len(symbols) + 1) * _MIN_GAP
        if symbols and contigs[contig] < need:
            raise InputError(
                f"{len(symbols)} genes need at least {need:,} bp on {contig} but it is "
                f"{contigs[contig]:,} bp long; make {contig} longer or put fewer genes on it"
            )
    strands = ["+-"[int(b)] for b in rng.integers(0, 2, len(specs))]
    if len(specs) >= 2 and len(set(strands)) == 1:
        strands[1] = "-" if strands[0] == "+" else "+"
    strand_of = {s: strands[i] for i, (s, _) in enumerate(specs)}

    sequences: dict[str, str] = {}
    placed = []  # (contig, start1, symbol, strand, exons, cds_start, cds_end)
    for contig, length in contigs.items():
        arr = _random_bases(length, rng, gc)
        for _ in range(length // 10_000 + 1):
            motif = _MICROSATELLITES[int(rng.integers(0, len(_MICROSATELLITES)))]
            unit = np.frombuffer((motif * int(rng.integers(6, 25)))[:40].encode(), np.uint8)
            at = int(rng.integers(0, max(1, length - len(unit))))
            arr[at : at + len(unit)] = unit[: length - at]
        symbols = per_contig[contig]
        layouts = [_draw_layout(rng) for _ in symbols]
        _fit(layouts, length)
        spans = [x.span() for x in layouts]
        extra = length - sum(spans) - (len(symbols) + 1) * _MIN_GAP
        weights = rng.dirichlet(np.ones(len(symbols) + 1))
        gaps = [_MIN_GAP + int(extra * w) for w in weights]
        cursor = gaps[0]
        for i, (symbol, layout) in enumerate(zip(symbols, layouts, strict=True)):
            strand = strand_of[symbol]
            gene_seq, offsets, cds0, cds_len = _gene_sequence(layout, rng)
            span = len(gene_seq)
            if strand == "+":
                arr[cursor : cursor + span] = np.frombuffer(gene_seq.encode(), np.uint8)
            else:
                rc = reverse_complement(gene_seq).encode()
                arr[cursor : cursor + span] = np.frombuffer(rc, np.uint8)
            placed.append(
                (
                    contig,
                    cursor,
                    symbol,
                    strand,
                    *_coordinates(cursor, span, strand, offsets, cds0, cds_len),
                )
            )
            cursor += span + gaps[i + 1]
        sequences[contig] = arr.tobytes().decode("ascii")

    return Reference(sequences, _canonical_genes(placed, list(contigs)))


def _canonical_genes(placed, contigs: Sequence[str]) -> list[Gene]:
    """One gene with one canonical transcript per placed model, numbered in genome order.

    ``placed`` holds ``(contig, start, symbol, strand, exons, cds_start, cds_end)`` tuples;
    ids are ``SYNG000001``/``SYNT000001``… by contig order, then start.
    """
    order = {c: i for i, c in enumerate(contigs)}
    out = []
    ordered = sorted(placed, key=lambda p: (order[p[0]], p[1]))
    for n, (contig, _, symbol, strand, exons, cds_start, cds_end) in enumerate(ordered, 1):
        gene_id, tx_id = f"SYNG{n:06d}", f"SYNT{n:06d}"
        tx = Transcript(
            transcript_id=tx_id,
            name=f"{symbol}-T1",
            gene_id=gene_id,
            gene=symbol,
            contig=contig,
            strand=strand,
            exons=exons,
            cds_start=cds_start,
            cds_end=cds_end,
        )
        out.append(Gene(gene_id, symbol, contig, strand, exons[0][0], exons[-1][1], (tx,)))
    return out


def _coordinates(g0: int, span: int, strand: str, offsets, cds0: int, cds_len: int):
    """Genomic exons and CDS bounds of a gene whose transcript-oriented string starts at g0."""

    def to_genome(gene_offset: int) -> int:  # 0-based offset in gene string -> 1-based
        return g0 + gene_offset + 1 if strand == "+" else g0 + span - gene_offset

    def mrna_to_gene(x: int) -> int:
        done = 0
        for o, n in offsets:
            if x < done + n:
                return o + x - done
            done += n
        raise AssertionError("mRNA offset beyond the transcript")

    exons = sorted(tuple(sorted((to_genome(o), to_genome(o + n - 1)))) for o, n in offsets)
    a, b = to_genome(mrna_to_gene(cds0)), to_genome(mrna_to_gene(cds0 + cds_len - 1))
    return tuple(exons), min(a, b), max(a, b)
