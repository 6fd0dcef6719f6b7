"""A chromosome-length sequence that holds bases only where they are known.

A synthetic genome at real chromosome lengths (3.1 Gb) cannot be held as Python strings within
a few gigabytes of memory, and does not need to be: its genes, their splice regions and a set
of neutral windows are the only places where a cohort varies or reads align. Everywhere else the
reference reads ``N``, as GRCh38 does across its gaps and centromeres.

:class:`SparseSequence` behaves like the ``str`` the rest of the package slices
(``seq[i]``, ``seq[a:b]``, ``len(seq)``), returning ``N`` between its windows, so the annotator,
the variant designer and the simulators work on it unchanged. Its FASTA form is bgzipped with
``.fai`` and ``.gzi`` indexes (:func:`write_bgzf_fasta`): the N runs compress to almost nothing,
so a whole synthetic genome is a few megabytes on disk, and htslib tools, pysam and minimap2
read it as they read GRCh38.
"""

from __future__ import annotations

import bisect
import operator
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from ..errors import InputError

__all__ = ["SparseSequence", "read_bgzf_fasta", "write_bgzf_fasta"]

_LINE = 60
#: Bases per write when streaming N runs into the BGZF writer (a multiple of the line length).
_N_BLOCK = _LINE * (1 << 14)
_N_LINE = b"N" * _LINE + b"\n"


class SparseSequence:
    """A sequence of ``length`` bases known only inside ``windows``, ``N`` elsewhere.

    Parameters
    ----------
    length : int
        Length of the whole sequence (for a chromosome, its real length).
    windows : iterable of (int, str)
        ``(start0, bases)`` pairs: 0-based start and the upper-case bases from there.
        Windows must be sorted, non-overlapping and inside ``length``; adjacent windows are
        merged.

    Notes
    -----
    Indexing and slicing return ``str``, as on a ``str``; slices with a step, and conversion
    of the whole sequence with ``str()``, are refused, because a chromosome-length string is
    what this class exists to avoid.
    """

    __slots__ = ("_ends", "_length", "_seqs", "_starts")

    def __init__(self, length: int, windows: Iterable[tuple[int, str]]):
        if isinstance(length, bool) or not isinstance(length, int) or length < 0:
            raise InputError(f"length must be a non-negative integer, got {length!r}")
        starts: list[int] = []
        seqs: list[str] = []
        end = 0
        for start, bases in windows:
            bases = str(bases).upper()
            if not bases:
                continue
            if start < end or start + len(bases) > length:
                raise InputError(
                    f"window at {start} ({len(bases)} bp) overlaps the previous one or runs "
                    f"past the sequence end ({length}); give sorted, non-overlapping windows"
                )
            if starts and start == end:
                seqs[-1] += bases
            else:
                starts.append(int(start))
                seqs.append(bases)
            end = start + len(bases)
        self._length = int(length)
        self._starts = starts
        self._seqs = seqs
        self._ends = [s + len(q) for s, q in zip(starts, seqs, strict=True)]

    def __len__(self) -> int:
        return self._length

    def __repr__(self) -> str:
        return (
            f"<SparseSequence {self._length:,} bp, {len(self._starts):,} windows, "
            f"{self.known:,} bp known>"
        )

    def __str__(self) -> str:
        raise TypeError(
            "a SparseSequence is not turned into one string (it may be a whole chromosome); "
            "slice the part you need"
        )

    @property
    def known(self) -> int:
        """Bases held (the rest read ``N``)."""
        return sum(len(q) for q in self._seqs)

    def windows(self) -> Iterator[tuple[int, str]]:
        """The ``(start0, bases)`` windows, in order."""
        return zip(self._starts, self._seqs, strict=True)

    def upper(self) -> SparseSequence:
        return self

    def __getitem__(self, key):
        if isinstance(key, slice):
            start, stop, step = key.indices(self._length)
            if step != 1:
                raise TypeError("a SparseSequence slice takes no step")
            return self._slice(start, max(start, stop))
        i = operator.index(key)
        i = i + self._length if i < 0 else i
        if not 0 <= i < self._length:
            raise IndexError("SparseSequence index out of range")
        k = bisect.bisect_right(self._starts, i) - 1
        if k >= 0 and i < self._ends[k]:
            return self._seqs[k][i - self._starts[k]]
        return "N"

    def _slice(self, start: int, stop: int) -> str:
        parts = []
        cursor = start
        k = max(0, bisect.bisect_right(self._starts, start) - 1)
        while cursor < stop and k < len(self._starts):
            s, e = self._starts[k], self._ends[k]
            if e <= cursor:
                k += 1
                continue
            if s >= stop:
                break
            if s > cursor:
                parts.append("N" * (s - cursor))
                cursor = s
            take = min(e, stop)
            parts.append(self._seqs[k][cursor - s : take - s])
            cursor = take
            k += 1
        if cursor < stop:
            parts.append("N" * (stop - cursor))
        return "".join(parts)

    def __eq__(self, other) -> bool:
        if isinstance(other, SparseSequence):
            return (
                self._length == other._length
                and self._starts == other._starts
                and self._seqs == other._seqs
            )
        return NotImplemented

    __hash__ = None  # mutable-free but large: compare, do not hash


def write_bgzf_fasta(
    path: str | os.PathLike, sequences: Mapping[str, str | SparseSequence]
) -> None:
    """Write ``sequences`` as a bgzipped FASTA at ``path``, with ``.fai`` and ``.gzi`` beside it.

    Sparse sequences are streamed window by window, their N runs in large blocks, so a
    3.1 Gb genome is written in seconds without ever being held whole. Lines are 60 bases.
    The caller renames the three files into place (see ``Reference.write``).
    """
    import pysam

    path = Path(path)
    with pysam.BGZFile(str(path), "wb") as f:
        for name, seq in sequences.items():
            f.write(f">{name}\n".encode("ascii"))
            writer = _LineWriter(f)
            if isinstance(seq, SparseSequence):
                cursor = 0
                for start, bases in seq.windows():
                    writer.n_run(start - cursor)
                    writer.bases(bases)
                    cursor = start + len(bases)
                writer.n_run(len(seq) - cursor)
            else:
                writer.bases(str(seq))
            writer.finish()
    pysam.faidx(str(path))


class _LineWriter:
    """Writes bases to a binary file in 60-base lines, whatever the size of each piece."""

    def __init__(self, f):
        self.f = f
        self.column = 0

    def bases(self, text: str) -> None:
        if not text:
            return
        out = []
        i = 0
        if self.column:
            take = min(_LINE - self.column, len(text))
            out.append(text[:take])
            self.column += take
            i = take
            if self.column == _LINE:
                out.append("\n")
                self.column = 0
        while len(text) - i >= _LINE:
            out.append(text[i : i + _LINE])
            out.append("\n")
            i += _LINE
        if i < len(text):
            out.append(text[i:])
            self.column = len(text) - i
        self.f.write("".join(out).encode("ascii"))

    def n_run(self, n: int) -> None:
        if n <= 0:
            return
        head = min(n, (_LINE - self.column) % _LINE)
        self.bases("N" * head)
        # Whole lines as bytes, a block at a time: most runs (introns, the gaps between genes)
        # are thousands of lines, too many to cut one by one.
        lines, rest = divmod(n - head, _LINE)
        while lines:
            k = min(lines, _N_BLOCK // _LINE)
            self.f.write(_N_LINE * k)
            lines -= k
        self.bases("N" * rest)

    def finish(self) -> None:
        if self.column:
            self.f.write(b"\n")
            self.column = 0


def read_bgzf_fasta(
    path: str | os.PathLike, windows: Mapping[str, list[tuple[int, int]]] | None = None
) -> dict[str, SparseSequence]:
    """Read a (bgzipped) FASTA with its ``.fai`` as sparse sequences: N runs are not held.

    Parameters
    ----------
    path
        The FASTA; plain or bgzipped, indexed.
    windows
        Contig → 0-based half-open ``(start, end)`` intervals known to hold every base that is
        not ``N`` (what :func:`write_bgzf_fasta`'s caller records beside the file). Only those
        are read. Without it, each contig is read whole once and runs of 60 or more ``N``
        become gaps.
    """
    import pysam

    out: dict[str, SparseSequence] = {}
    with pysam.FastaFile(str(path)) as fa:
        for name, length in zip(fa.references, fa.lengths, strict=True):
            if windows is not None:
                parts = [(a, fa.fetch(name, a, b)) for a, b in windows.get(name, ())]
            else:
                text = fa.fetch(name).upper()
                parts = [(m.start(), m.group()) for m in _KNOWN.finditer(text)]
                del text
            out[name] = SparseSequence(int(length), parts)
    return out


#: Known sequence: anything between runs of 60 or more N (shorter N runs stay inside windows).
_KNOWN = re.compile(r"(?:[^N]|N{1,59}(?!N))+")
