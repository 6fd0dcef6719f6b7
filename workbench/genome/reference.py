"""A reference genome and its gene models, in memory and on disk.

:class:`Reference` holds sequences and gene models in memory and writes and reads the cohort
folder's ``reference/`` part: ``genome.fa`` (+ ``.fai``) and ``genes.gff3``, or for a genome
at real chromosome lengths ``genome.fa.gz`` (+ ``.fai``, ``.gzi``) and ``known.bed``. The
synthetic genomes are drawn by :mod:`workbench.genome.build` (the compact model) and
:mod:`workbench.genome.genemodels` (the exome-scale one).

Coordinates follow the files they mirror: gene, transcript, exon and CDS coordinates are
1-based and inclusive (as in GFF3 and VCF); :meth:`Reference.fetch` takes 0-based half-open
``start0, end0`` (as pysam does). The CDS of a transcript includes its stop codon.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from ..errors import CohortFormatError, InputError
from ..io import atomic_file
from ._sequence import STOP_CODONS, reverse_complement, translate
from .sparse import SparseSequence, read_bgzf_fasta, write_bgzf_fasta

__all__ = [
    "FASTA_BGZF_NAME",
    "FASTA_NAME",
    "GFF3_NAME",
    "Gene",
    "GeneSpec",
    "Reference",
    "Transcript",
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
