"""A synthetic reference genome with synthetic gene models named after clinical genes.

:func:`build_reference` draws random contig sequence (about 41 % GC, with a sprinkling of
microsatellites) and lays out one protein-coding gene per requested symbol on its contig:
non-overlapping, on both strands, separated by intergenic sequence. Every gene has one
canonical transcript (``<SYMBOL>-T1``, accession ``SYNT000001.1``) whose coding sequence starts
with ``ATG``, ends with a stop codon and has no premature in-frame stop; its introns start with
``GT`` and end with ``AG``. The genes borrow real clinical names so exercises read naturally,
but their sequence, size and structure are invented.

:class:`Reference` holds sequences and gene models in memory and writes and reads the cohort
folder's ``reference/`` part: ``genome.fa`` (+ ``.fai``) and ``genes.gff3``.

Coordinates follow the files they mirror: gene, transcript, exon and CDS coordinates are
1-based and inclusive (as in GFF3 and VCF); :meth:`Reference.fetch` takes 0-based half-open
``start0, end0`` (as pysam does). The CDS of a transcript includes its stop codon.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np

from ..errors import CohortFormatError, InputError
from ..io import atomic_file
from ._sequence import CODON_TABLE, STOP_CODONS, reverse_complement, translate
from .sparse import SparseSequence, read_bgzf_fasta, write_bgzf_fasta

__all__ = [
    "FASTA_BGZF_NAME",
    "FASTA_NAME",
    "GFF3_NAME",
    "Gene",
    "GeneSpec",
    "Reference",
    "Transcript",
    "build_reference",
    "fasta_path",
]

#: A gene to lay out: ``(symbol, contig)``.
GeneSpec = tuple[str, str]

FASTA_NAME = "genome.fa"
#: A sparse reference's FASTA (bgzipped, with .fai and .gzi) and its list of known windows.
FASTA_BGZF_NAME = "genome.fa.gz"
KNOWN_NAME = "known.bed"
GFF3_NAME = "genes.gff3"
_LINE = 60

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


@dataclass(frozen=True)
class Transcript:
    """A transcript: protein-coding, or non-coding (``cds_start`` and ``cds_end`` ``None``).

    Attributes
    ----------
    transcript_id : str
        Stable id without version (``"SYNT000001"``).
    name : str
        Display name (``"SCN1A-T1"``).
    gene_id, gene : str
        The parent gene's id and symbol.
    contig : str
    strand : str
        ``"+"`` or ``"-"``.
    exons : tuple of (int, int)
        Exon coordinates, 1-based inclusive, in ascending genomic order (for a minus-strand
        transcript the last tuple is exon 1).
    cds_start, cds_end : int or None
        Lowest and highest genomic coordinate of the coding sequence, stop codon included;
        ``None`` for a non-coding transcript.
    version : int
    canonical : bool
        Ensembl's canonical transcript of the gene (tag ``Ensembl_canonical``).
    mane_select : bool
        The MANE Select transcript (tag ``MANE_Select``), the one clinical reports use.
    biotype : str
        ``"protein_coding"``, or the file's biotype of a non-coding one (``"lncRNA"`` …).
    """

    transcript_id: str
    name: str
    gene_id: str
    gene: str
    contig: str
    strand: str
    exons: tuple[tuple[int, int], ...]
    cds_start: int | None
    cds_end: int | None
    version: int = 1
    canonical: bool = True
    mane_select: bool = False
    biotype: str = "protein_coding"

    @property
    def coding(self) -> bool:
        """Whether the transcript has a coding sequence."""
        return self.cds_start is not None

    @property
    def accession(self) -> str:
        """Versioned id as HGVS uses it (``"SYNT000001.1"``)."""
        return f"{self.transcript_id}.{self.version}"

    @property
    def protein_id(self) -> str:
        return "SYNP" + self.transcript_id[4:] if self.transcript_id.startswith("SYNT") else ""

    @property
    def start(self) -> int:
        return self.exons[0][0]

    @property
    def end(self) -> int:
        return self.exons[-1][1]

    @property
    def introns(self) -> tuple[tuple[int, int], ...]:
        """Intron coordinates, ascending genomic order."""
        return tuple((a[1] + 1, b[0] - 1) for a, b in pairwise(self.exons))

    def exons_in_transcript_order(self) -> tuple[tuple[int, int], ...]:
        return self.exons if self.strand == "+" else self.exons[::-1]

    def cds_segments(self) -> tuple[tuple[int, int], ...]:
        """Coding parts of the exons (stop codon included), ascending genomic order."""
        if not self.coding:
            return ()
        return _clip(self.exons, self.cds_start, self.cds_end)

    def utr5_segments(self) -> tuple[tuple[int, int], ...]:
        if not self.coding:
            return ()
        if self.strand == "+":
            return _clip(self.exons, self.start, self.cds_start - 1)
        return _clip(self.exons, self.cds_end + 1, self.end)

    def utr3_segments(self) -> tuple[tuple[int, int], ...]:
        if not self.coding:
            return ()
        if self.strand == "+":
            return _clip(self.exons, self.cds_end + 1, self.end)
        return _clip(self.exons, self.start, self.cds_start - 1)


@dataclass(frozen=True)
class Gene:
    """A gene: its symbol, place and transcripts (the canonical one first)."""

    gene_id: str
    symbol: str
    contig: str
    strand: str
    start: int
    end: int
    transcripts: tuple[Transcript, ...]

    @property
    def transcript(self) -> Transcript:
        """The canonical transcript."""
        for t in self.transcripts:
            if t.canonical:
                return t
        return self.transcripts[0]


def _clip(segments, lo: int, hi: int) -> tuple[tuple[int, int], ...]:
    out = []
    for s, e in segments:
        a, b = max(s, lo), min(e, hi)
        if a <= b:
            out.append((a, b))
    return tuple(out)


class Reference:
    """Contig sequences and gene models, held in memory.

    Parameters
    ----------
    sequences : mapping of str to str or SparseSequence
        Contig name to upper-case sequence over ``ACGTN``, in the order contigs should be
        listed; a :class:`~workbench.genome.sparse.SparseSequence` for a chromosome-length
        contig known only in windows.
    genes : iterable of Gene
        Gene models on those contigs. Each transcript is checked: exons ordered and inside
        the contig, the CDS inside the exons, a multiple of three long, starting with ``ATG``,
        ending with a stop codon and free of premature stops.

    Raises
    ------
    InputError
        When a gene model does not fit its sequence.
    """

    def __init__(self, sequences: Mapping[str, str], genes: Iterable[Gene]):
        self._seqs: dict[str, str | SparseSequence] = {
            str(k): v if isinstance(v, SparseSequence) else str(v).upper()
            for k, v in sequences.items()
        }
        self.contigs: dict[str, int] = {k: len(v) for k, v in self._seqs.items()}
        order = {c: i for i, c in enumerate(self.contigs)}
        genes = list(genes)
        for g in genes:
            if g.contig not in order:
                raise InputError(
                    f"gene {g.symbol} is on contig {g.contig!r}, which is not in the reference "
                    f"({', '.join(order)}); add the contig or drop the gene"
                )
        self.genes: list[Gene] = sorted(genes, key=lambda g: (order[g.contig], g.start, g.symbol))
        self._by_symbol: dict[str, Gene] = {}
        tx_ids: set[str] = set()
        for g in self.genes:
            if g.symbol in self._by_symbol:
                raise InputError(f"gene symbol {g.symbol} appears twice; symbols must be unique")
            self._by_symbol[g.symbol] = g
            for t in g.transcripts:
                if t.transcript_id in tx_ids:
                    raise InputError(f"transcript id {t.transcript_id} appears twice")
                tx_ids.add(t.transcript_id)
                self._check_transcript(t)
        # Private caches for the annotator (per-contig interval index, transcript models).
        self._cache: dict = {}

    # -- access ----------------------------------------------------------------------------

    def sequence(self, contig: str) -> str:
        """The whole sequence of ``contig`` (upper case)."""
        try:
            return self._seqs[contig]
        except KeyError:
            raise InputError(
                f"unknown contig {contig!r}; the reference has {', '.join(self._seqs)}"
            ) from None

    def known_windows(self, contig: str) -> list[tuple[int, int]]:
        """0-based half-open intervals of ``contig`` that hold sequence (all of it, unless the
        contig is a :class:`~workbench.genome.sparse.SparseSequence`)."""
        return _known_intervals(self.sequence(contig))

    def fetch(self, contig: str, start0: int, end0: int) -> str:
        """Bases ``start0`` (0-based, inclusive) to ``end0`` (exclusive) of ``contig``."""
        seq = self.sequence(contig)
        if not 0 <= start0 <= end0 <= len(seq):
            raise InputError(
                f"fetch({contig!r}, {start0}, {end0}) is outside the contig (0..{len(seq)}); "
                "use 0-based half-open coordinates within the contig"
            )
        return seq[start0:end0]

    def gene(self, symbol: str) -> Gene:
        """The gene called ``symbol``."""
        try:
            return self._by_symbol[symbol]
        except KeyError:
            near = [s for s in self._by_symbol if s.upper().startswith(str(symbol)[:3].upper())]
            hint = f"; did you mean {', '.join(near[:5])}?" if near else ""
            raise InputError(
                f"no gene called {symbol!r} in this reference ({len(self._by_symbol)} genes)" + hint
            ) from None

    @property
    def transcripts(self) -> list[Transcript]:
        return [t for g in self.genes for t in g.transcripts]

    def transcript(self, transcript_id: str) -> Transcript:
        """The transcript with this id (with or without ``.version``)."""
        key = transcript_id.split(".")[0]
        for t in self.transcripts:
            if t.transcript_id == key:
                return t
        raise InputError(f"no transcript {transcript_id!r} in this reference")

    def transcript_sequence(self, transcript: Transcript) -> str:
        """The spliced transcript (mRNA as DNA), 5' to 3' on the transcript's strand."""
        seq = self.sequence(transcript.contig)
        spliced = "".join(seq[s - 1 : e] for s, e in transcript.exons)
        return spliced if transcript.strand == "+" else reverse_complement(spliced)

    def cds_sequence(self, transcript: Transcript) -> str:
        """The coding sequence, ``ATG`` to stop codon inclusive, on the transcript's strand."""
        seq = self.sequence(transcript.contig)
        cds = "".join(seq[s - 1 : e] for s, e in transcript.cds_segments())
        return cds if transcript.strand == "+" else reverse_complement(cds)

    def protein(self, transcript: Transcript) -> str:
        """The translated protein, one-letter codes, without the final ``*``."""
        return translate(self.cds_sequence(transcript))[:-1]

    def __repr__(self) -> str:
        size = sum(self.contigs.values())
        return f"<Reference {len(self.contigs)} contigs, {size:,} bp, {len(self.genes)} genes>"

    # -- checks ----------------------------------------------------------------------------

    def _check_transcript(self, t: Transcript) -> None:
        where = f"transcript {t.transcript_id} of {t.gene}"
        length = self.contigs[t.contig]
        if t.strand not in ("+", "-"):
            raise InputError(f"{where}: strand must be '+' or '-', got {t.strand!r}")
        if not t.exons:
            raise InputError(f"{where} has no exons")
        prev = 0
        for s, e in t.exons:
            if not (prev < s <= e <= length):
                raise InputError(
                    f"{where}: exons must be ordered, non-overlapping and within "
                    f"{t.contig} (1..{length}); found {t.exons}"
                )
            prev = e + 1
        if not t.coding:
            return
        if not any(s <= t.cds_start <= e for s, e in t.exons) or not any(
            s <= t.cds_end <= e for s, e in t.exons
        ):
            raise InputError(f"{where}: CDS {t.cds_start}-{t.cds_end} does not lie in its exons")
        cds = self.cds_sequence(t)
        protein = translate(cds)
        if (
            len(cds) % 3
            or not cds.startswith("ATG")
            or cds[-3:] not in STOP_CODONS
            or "*" in protein[:-1]
        ):
            raise InputError(
                f"{where}: the CDS must be a multiple of 3 long, start with ATG, end with a "
                f"stop codon and have no premature stop; found {len(cds)} bp starting "
                f"{cds[:3]!r}, ending {cds[-3:]!r}, stops at codons "
                f"{[i + 1 for i, a in enumerate(protein) if a == '*'][:5]}"
            )

    # -- files -----------------------------------------------------------------------------

    @property
    def sparse(self) -> bool:
        """Whether any contig is a :class:`~workbench.genome.sparse.SparseSequence`."""
        return any(isinstance(s, SparseSequence) for s in self._seqs.values())

    def write(self, folder: str | os.PathLike) -> dict[str, Path]:
        """Write the FASTA, its index and ``genes.gff3`` into ``folder``.

        A reference of plain sequences is written as ``genome.fa`` with ``genome.fa.fai``. A
        sparse one (chromosomes at real length, see :mod:`workbench.genome.genemodels`) is
        written bgzipped as ``genome.fa.gz`` with ``.fai`` and ``.gzi``, and ``known.bed``
        lists the windows that hold bases other than ``N``, so :meth:`read` loads only those.
        Each file is written under a temporary name and renamed into place when complete;
        equal references give byte-identical files.

        Returns
        -------
        dict
            ``{"fasta": path, "fai": path, "gff3": path}``, plus ``"gzi"`` and ``"known"``
            for a sparse reference.
        """
        import pysam

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        name = FASTA_BGZF_NAME if self.sparse else FASTA_NAME
        suffixes = (".fai", ".gzi") if self.sparse else (".fai",)
        out = {"fasta": folder / name, "gff3": folder / GFF3_NAME}
        # pysam.faidx writes its index beside the FASTA it reads, so build all of them in a
        # temporary folder next to the destination and rename them in.
        tmp = Path(tempfile.mkdtemp(prefix=".reference.", suffix=".partial", dir=folder))
        try:
            if self.sparse:
                write_bgzf_fasta(tmp / name, self._seqs)
                with open(tmp / KNOWN_NAME, "w", encoding="ascii", newline="\n") as f:
                    for contig, seq in self._seqs.items():
                        for a, b in _known_intervals(seq):
                            f.write(f"{contig}\t{a}\t{b}\n")
                out["known"] = folder / KNOWN_NAME
            else:
                with open(tmp / name, "w", encoding="ascii", newline="\n") as f:
                    for contig, seq in self._seqs.items():
                        f.write(f">{contig}\n")
                        f.writelines(seq[i : i + _LINE] + "\n" for i in range(0, len(seq), _LINE))
                pysam.faidx(str(tmp / name))
            for suffix in suffixes:
                out[suffix[1:]] = folder / (name + suffix)
                os.replace(tmp / (name + suffix), out[suffix[1:]])
            if self.sparse:
                os.replace(tmp / KNOWN_NAME, out["known"])
            # The FASTA last: a reader that finds it finds its indexes too.
            os.replace(tmp / name, out["fasta"])
        finally:
            for p in tmp.iterdir():
                p.unlink()
            tmp.rmdir()
        # The other form, left by an earlier write, would shadow or contradict this one.
        for stale in (FASTA_NAME, FASTA_BGZF_NAME):
            if stale != name:
                for suffix in ("", ".fai", ".gzi"):
                    (folder / (stale + suffix)).unlink(missing_ok=True)
        if not self.sparse:
            (folder / KNOWN_NAME).unlink(missing_ok=True)
        gff = out["gff3"]
        with atomic_file(gff, "w", encoding="utf-8", newline="\n") as f:
            f.write(self.gff3())
        return out

    def gff3(self) -> str:
        """The gene models as GFF3 text (what :meth:`write` puts in ``genes.gff3``;
        :func:`workbench.genome.gff.cohort_gff3`)."""
        from .gff import cohort_gff3

        return cohort_gff3(self)

    @classmethod
    def read(cls, folder: str | os.PathLike) -> Reference:
        """Read a reference written by :meth:`write` (``genome.fa`` and ``genes.gff3``).

        Raises
        ------
        CohortFormatError
            When a file is missing or does not parse, or the gene models do not fit the
            sequence.
        """
        folder = Path(folder)
        fasta, gff = fasta_path(folder), folder / GFF3_NAME
        for p in (fasta, gff):
            if not p.is_file():
                raise CohortFormatError(
                    f"{p} is missing; a reference folder holds {FASTA_NAME} (or {FASTA_BGZF_NAME}) "
                    f"and {GFF3_NAME} "
                    "(write one with Reference.write or `workbench generate`)",
                    path=p,
                )
        from .gff import read_cohort_gff3

        seqs = _read_sparse(fasta) if fasta.name == FASTA_BGZF_NAME else _read_fasta(fasta)
        genes = read_cohort_gff3(gff)
        try:
            return cls(seqs, genes)
        except InputError as e:
            raise CohortFormatError(f"{gff}: {e}", path=gff) from e


def fasta_path(folder: str | os.PathLike) -> Path:
    """The FASTA of a reference folder: ``genome.fa.gz`` for a sparse genome, else ``genome.fa``.

    Returns the plain name when neither exists, so an error names what is missing.
    """
    folder = Path(folder)
    bgzf = folder / FASTA_BGZF_NAME
    return bgzf if bgzf.is_file() else folder / FASTA_NAME


def _known_intervals(seq) -> list[tuple[int, int]]:
    if isinstance(seq, SparseSequence):
        return [(a, a + len(b)) for a, b in seq.windows()]
    return [(0, len(seq))]


def _read_sparse(path: Path) -> dict[str, SparseSequence]:
    """A bgzipped FASTA with its ``known.bed`` (or, without it, scanned for N runs)."""
    known = path.parent / KNOWN_NAME
    windows: dict[str, list[tuple[int, int]]] | None = None
    try:
        if known.is_file():
            windows = {}
            with open(known, encoding="ascii") as f:
                for line in f:
                    contig, a, b = line.split("\t")
                    windows.setdefault(contig, []).append((int(a), int(b)))
        return read_bgzf_fasta(path, windows)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise CohortFormatError(
            f"cannot read {path} with {known.name}: {e}; write the reference again "
            "(`workbench generate`)",
            path=path,
        ) from e


def _read_fasta(path: Path) -> dict[str, str]:
    seqs: dict[str, list[str]] = {}
    current = None
    try:
        with open(path, encoding="ascii") as f:
            for line in f:
                line = line.rstrip("\r\n")
                if line.startswith(">"):
                    current = line[1:].split()[0]
                    seqs[current] = []
                elif current is None:
                    raise CohortFormatError(f"{path} does not start with a '>' header", path=path)
                else:
                    seqs[current].append(line)
    except (OSError, UnicodeDecodeError) as e:
        raise CohortFormatError(f"cannot read {path}: {e}", path=path) from e
    return {k: "".join(v).upper() for k, v in seqs.items()}


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
