"""Read quality control (FastQC-like tables and flags) and adapter/quality trimming.

:func:`read_qc` reads one FASTQ file or a pair (plain or gzipped) and summarises it in the
modules FastQC made familiar, as pandas tables with one ``read`` column (``"R1"``/``"R2"``):

=====================  ========================================  ========  ========
module                 measure                                   warn      fail
=====================  ========================================  ========  ========
per_base_quality       lower quartile / median Phred per base    LQ < 10   LQ < 5
                                                                 or        or
                                                                 med < 25  med < 20
per_sequence_gc        % of reads deviating from a normal fit     > 15 %    > 30 %
per_base_n             % N at any position                       > 5 %     > 20 %
length_distribution    read lengths                              not all   any read
                                                                 equal     of length 0
duplication            % of reads that repeat an earlier one      > 20 %    > 50 %
                       (exact sequence; first 200,000 reads)
adapter_content        cumulative % of reads with the adapter's  > 5 %     > 10 %
                       first 12 bases at or before a position
=====================  ========================================  ========  ========

These are FastQC's default limits (``Configuration/limits.txt``, FastQC 0.12). A pair is
flagged by the worse of its two files. :func:`trim` runs cutadapt (adapter and 3' quality
trimming, length filter) and returns its report as a plain dict.

Inputs are checked: a missing, empty, truncated or corrupt file, or a pair whose read names
or counts differ, raises :class:`~workbench.errors.PipelineInputError` naming the file.
Outputs are written under temporary names and renamed into place only when complete.

References
----------
Andrews S. FastQC: a quality control tool for high throughput sequence data (2010).
Martin M. Cutadapt removes adapter sequences from high-throughput sequencing reads.
EMBnet.journal 17(1):10-12 (2011).
"""

from __future__ import annotations

import gzip
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, PipelineInputError
from ..io import atomic_file

__all__ = [
    "DEFAULT_ADAPTER",
    "MODULES",
    "ReadQC",
    "plot_adapter_content",
    "plot_duplication",
    "plot_gc_content",
    "plot_per_position_quality",
    "read_qc",
    "trim",
]

#: Illumina TruSeq adapter prefix (shared by read 1 and read 2 adapters).
DEFAULT_ADAPTER = "AGATCGGAAGAGC"
#: The QC modules, in report order.
MODULES = (
    "per_base_quality",
    "per_sequence_gc",
    "per_base_n",
    "length_distribution",
    "duplication",
    "adapter_content",
)

_MAX_Q = 94  # Phred+33 printable range
_CHUNK = 50_000
_DUP_TRACK = 200_000
_ADAPTER_KMER = 12
_RANK = {"pass": 0, "warn": 1, "fail": 2}


def _worst(flags) -> str:
    return max(flags, key=_RANK.__getitem__, default="pass")


# -- reading ---------------------------------------------------------------------------------


def _check_path(path) -> Path:
    if not isinstance(path, str | os.PathLike):
        raise InputError(f"expected a FASTQ file path, got {type(path).__name__}")
    path = Path(path)
    if not path.is_file():
        raise PipelineInputError(
            f"FASTQ file {path} does not exist; check the path (simulate reads with "
            "workbench.synth.reads.simulate_reads)",
            path=path,
        )
    if path.stat().st_size == 0:
        raise PipelineInputError(f"FASTQ file {path} is empty (0 bytes); expected reads", path=path)
    return path


def _bad_file(path: Path, err: Exception) -> PipelineInputError:
    return PipelineInputError(
        f"cannot read {path}: it is truncated or not valid (gzipped) FASTQ ({err}); "
        "re-create or re-download it",
        path=path,
    )


def _decompression_errors() -> tuple[type[BaseException], ...]:
    """zlib's error and those of the faster back ends dnaio (through xopen) may use."""
    errors: list[type[BaseException]] = [EOFError, OSError, zlib.error]
    try:
        from isal.igzip_lib import IsalError

        errors.append(IsalError)
    except ImportError:  # pragma: no cover - python-isal is optional for xopen
        pass
    try:
        from zlib_ng.zlib_ng import error as zlib_ng_error

        errors.append(zlib_ng_error)
    except ImportError:  # pragma: no cover - zlib-ng is optional for xopen
        pass
    return tuple(errors)


def _read_errors():
    import dnaio

    return (dnaio.exceptions.FileFormatError, UnicodeDecodeError, *_decompression_errors())


def _iter_chunks(paths: tuple[Path, ...], max_reads: int | None):
    """Yield lists of records (tuples for pairs), checking integrity and pairing."""
    import dnaio

    errors = _read_errors()
    try:
        if len(paths) == 2:
            reader = dnaio.open(paths[0], file2=paths[1], mode="r")
        else:
            reader = dnaio.open(paths[0], mode="r")
    except errors as e:
        raise _bad_file(paths[0], e) from e
    n = 0
    chunk = []
    try:
        with reader:
            iterator = iter(reader)
            while max_reads is None or n < max_reads:
                try:
                    rec = next(iterator)
                except StopIteration:
                    break
                except dnaio.exceptions.FileFormatError as e:
                    raise _pair_or_format_error(paths, e) from e
                except errors as e:
                    raise _bad_file(_which_file(paths, e), e) from e
                chunk.append(rec)
                n += 1
                if len(chunk) == _CHUNK:
                    yield chunk
                    chunk = []
    except errors as e:  # raised while closing (e.g. a gzip trailer)
        raise _bad_file(_which_file(paths, e), e) from e
    if chunk:
        yield chunk
    if n == 0:
        raise PipelineInputError(
            f"{paths[0]} holds no reads; expected at least one FASTQ record", path=paths[0]
        )


def _which_file(paths, err) -> Path:
    """The file of a pair a low-level read error most likely came from."""
    for p in paths:
        try:
            with gzip.open(p, "rb") if _is_gzip(p) else open(p, "rb") as f:
                while f.read(1 << 20):
                    pass
        except _decompression_errors():
            return p
    return paths[0]


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _pair_or_format_error(paths, err) -> PipelineInputError:
    text = str(err)
    if len(paths) == 2 and "paired" in text.lower():
        return PipelineInputError(
            f"{paths[0]} and {paths[1]} are not a matching pair ({text.strip()}); "
            "both files must list the same reads in the same order",
            path=paths[1],
        )
    return _bad_file(_which_file(paths, err), err)


# -- statistics ------------------------------------------------------------------------------


@dataclass
class _Stats:
    """Accumulated per-file statistics."""

    qual: np.ndarray = field(default_factory=lambda: np.zeros((0, _MAX_Q), np.int64))
    n_at: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    gc: np.ndarray = field(default_factory=lambda: np.zeros(101))
    lengths: Counter = field(default_factory=Counter)
    seqs: Counter = field(default_factory=Counter)
    tracked: int = 0
    adapter_at: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    reads: int = 0
    bases: int = 0
    qsum: int = 0

    def _grow(self, size: int) -> None:
        if size > len(self.n_at):
            extra = size - len(self.n_at)
            self.qual = np.vstack([self.qual, np.zeros((extra, _MAX_Q), np.int64)])
            self.n_at = np.concatenate([self.n_at, np.zeros(extra, np.int64)])
            self.adapter_at = np.concatenate([self.adapter_at, np.zeros(extra, np.int64)])

    def add(self, seqs: list[str], quals: list[str], kmer: str) -> None:
        lens = np.fromiter((len(s) for s in seqs), np.int64, len(seqs))
        self.reads += len(seqs)
        self.lengths.update(lens.tolist())
        total = int(lens.sum())
        self.bases += total
        if total:
            self._grow(int(lens.max()))
            starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
            pos = np.arange(total) - np.repeat(starts, lens)
            q = np.frombuffer("".join(quals).encode("ascii"), np.uint8).astype(np.int64) - 33
            if q.size != total or q.min(initial=0) < 0 or q.max(initial=0) >= _MAX_Q:
                raise ValueError("qualities out of the Phred+33 range")
            self.qsum += int(q.sum())
            flat = np.bincount(pos * _MAX_Q + q, minlength=len(self.n_at) * _MAX_Q)
            self.qual += flat.reshape(-1, _MAX_Q)
            b = np.frombuffer("".join(seqs).encode("ascii"), np.uint8)
            self.n_at += np.bincount(
                pos[(b == ord("N")) | (b == ord("n"))], minlength=len(self.n_at)
            )
            is_gc = (b == ord("G")) | (b == ord("C")) | (b == ord("g")) | (b == ord("c"))
            nonempty = lens > 0
            gc_counts = np.add.reduceat(is_gc.astype(np.int64), starts[nonempty])
            self.gc += _gc_histogram(gc_counts, lens[nonempty])
        room = max(0, _DUP_TRACK - self.tracked)
        if room:
            self.seqs.update(seqs[:room])
            self.tracked += min(room, len(seqs))
        hits = [s.find(kmer) for s in seqs]
        found = np.array([h for h in hits if h >= 0], np.int64)
        if found.size:
            self.adapter_at += np.bincount(found, minlength=len(self.adapter_at))[
                : len(self.adapter_at)
            ]


def _gc_histogram(gc_counts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Reads per integer GC percent, each read spread over the percents its count spans.

    A read of length L with g G/C bases stands for GC fractions ``(g ± 0.5) / L``; spreading
    it over the integer-percent bins that interval covers (as FastQC does) avoids the comb
    a plain rounding leaves for reads whose length is not a multiple of 100.
    """
    out = np.zeros(101)
    keys, counts = np.unique(np.stack([lengths, gc_counts]), axis=1, return_counts=True)
    edges = np.arange(102) - 0.5
    for (length, g), n in zip(keys.T.tolist(), counts.tolist(), strict=True):
        lo = max(0.0, 100.0 * (g - 0.5) / length)
        hi = min(100.0, 100.0 * (g + 0.5) / length)
        if hi <= lo:
            out[round(lo)] += n
            continue
        overlap = np.clip(np.minimum(edges[1:], hi) - np.maximum(edges[:-1], lo), 0, None)
        out += n * overlap / overlap.sum()
    return out


def _quantile_from_hist(hist: np.ndarray, q: float) -> np.ndarray:
    """Per-row quantile of integer values 0..K-1 from their count histogram."""
    cum = np.cumsum(hist, axis=1)
    total = cum[:, -1:]
    target = np.maximum(1, np.ceil(q * total))
    return np.argmax(cum >= target, axis=1).astype(float)


def _normal_expected(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    x = np.arange(len(counts), dtype=float)
    if total == 0:
        return np.zeros_like(x)
    mean = float((x * counts).sum() / total)
    sd = math.sqrt(float(((x - mean) ** 2 * counts).sum() / total)) or 0.5
    cdf = np.array([0.5 * (1 + math.erf((v - mean) / (sd * math.sqrt(2)))) for v in x + 0.5])
    lower = np.concatenate([[0.0], cdf[:-1]])
    return total * (cdf - lower)


def _tables(label: str, s: _Stats) -> dict[str, pd.DataFrame]:
    covered = s.qual.sum(axis=1)
    keep = covered > 0
    positions = np.arange(1, len(covered) + 1)[keep]
    hist = s.qual[keep]
    mean_q = (hist * np.arange(_MAX_Q)).sum(axis=1) / covered[keep]
    quality = pd.DataFrame(
        {
            "read": label,
            "position": positions,
            "mean": mean_q,
            "p10": _quantile_from_hist(hist, 0.10),
            "q1": _quantile_from_hist(hist, 0.25),
            "median": _quantile_from_hist(hist, 0.50),
            "q3": _quantile_from_hist(hist, 0.75),
            "p90": _quantile_from_hist(hist, 0.90),
        }
    )
    n_content = pd.DataFrame(
        {
            "read": label,
            "position": positions,
            "n_percent": 100.0 * s.n_at[keep] / covered[keep],
        }
    )
    gc = pd.DataFrame(
        {
            "read": label,
            "gc_percent": np.arange(101),
            "count": s.gc,
            "expected": _normal_expected(s.gc),
        }
    )
    lengths = pd.DataFrame(
        sorted(s.lengths.items()), columns=["length", "count"], dtype=np.int64
    ).assign(read=label)[["read", "length", "count"]]
    levels = Counter(min(c, 10) for c in s.seqs.values())
    dup_rows = []
    for level in range(1, 11):
        distinct = sum(1 for c in s.seqs.values() if min(c, 10) == level) if levels[level] else 0
        reads = sum(c for c in s.seqs.values() if min(c, 10) == level) if levels[level] else 0
        dup_rows.append(
            {
                "read": label,
                "copies": f"{level}" if level < 10 else ">=10",
                "distinct_sequences": distinct,
                "reads": reads,
                "percent_of_reads": 100.0 * reads / s.tracked if s.tracked else 0.0,
            }
        )
    adapter = pd.DataFrame(
        {
            "read": label,
            "position": np.arange(1, len(s.adapter_at) + 1),
            "percent": 100.0 * np.cumsum(s.adapter_at) / s.reads if s.reads else 0.0,
        }
    )
    return {
        "per_position_quality": quality,
        "gc_content": gc,
        "length_distribution": lengths,
        "n_content": n_content,
        "duplication": pd.DataFrame(dup_rows),
        "adapter_content": adapter,
    }


def _flags(s: _Stats, t: dict[str, pd.DataFrame]) -> dict[str, tuple[str, str]]:
    """``module -> (flag, detail)`` for one file, with FastQC's default limits."""
    q = t["per_position_quality"]
    lq, med = float(q.q1.min()), float(q["median"].min())
    flag = "fail" if lq < 5 or med < 20 else "warn" if lq < 10 or med < 25 else "pass"
    out = {"per_base_quality": (flag, f"lowest lower quartile {lq:g}, lowest median {med:g}")}
    g = t["gc_content"]
    dev = 100.0 * float(np.abs(g["count"] - g["expected"]).sum()) / max(1, s.reads)
    flag = "fail" if dev > 30 else "warn" if dev > 15 else "pass"
    out["per_sequence_gc"] = (flag, f"{dev:.1f} % of reads deviate from a normal fit")
    n_max = float(t["n_content"].n_percent.max()) if len(t["n_content"]) else 0.0
    flag = "fail" if n_max > 20 else "warn" if n_max > 5 else "pass"
    out["per_base_n"] = (flag, f"at most {n_max:.2f} % N at a position")
    lengths = set(s.lengths)
    flag = "fail" if 0 in lengths else "warn" if len(lengths) > 1 else "pass"
    out["length_distribution"] = (flag, f"{min(lengths)}-{max(lengths)} bp")
    dup = 100.0 * (1 - len(s.seqs) / s.tracked) if s.tracked else 0.0
    flag = "fail" if dup > 50 else "warn" if dup > 20 else "pass"
    out["duplication"] = (flag, f"{dup:.1f} % of reads repeat an earlier sequence")
    ad = float(t["adapter_content"].percent.max()) if len(t["adapter_content"]) else 0.0
    flag = "fail" if ad > 10 else "warn" if ad > 5 else "pass"
    out["adapter_content"] = (flag, f"{ad:.2f} % of reads contain the adapter")
    return out


@dataclass(frozen=True)
class ReadQC:
    """The QC of one FASTQ file or pair. Tables have a ``read`` column (``"R1"``/``"R2"``).

    Attributes
    ----------
    files : tuple of Path
    n_reads : int
        Reads per file (read pairs for a pair).
    n_bases : int
        Bases in all files.
    mean_quality : float
        Mean Phred quality over all bases.
    duplicate_percent : float
        Percent of reads (first 200,000 per file) repeating an earlier sequence exactly,
        averaged over the files.
    adapter_percent : float
        Percent of reads containing the adapter's first 12 bases, averaged over the files.
    per_position_quality : DataFrame
        ``read, position`` (1-based), ``mean, p10, q1, median, q3, p90`` Phred.
    gc_content : DataFrame
        ``read, gc_percent`` (0-100), ``count`` of reads, ``expected`` under a normal fit.
    length_distribution : DataFrame
        ``read, length, count``.
    n_content : DataFrame
        ``read, position, n_percent``.
    duplication : DataFrame
        ``read, copies`` (``"1"``..``"9"``, ``">=10"``), ``distinct_sequences, reads,
        percent_of_reads``.
    adapter_content : DataFrame
        ``read, position, percent`` (cumulative, as FastQC).
    flags : dict
        Module (see :data:`MODULES`) → ``"pass"``, ``"warn"`` or ``"fail"``.
    details : dict
        Module → the measured value behind the flag, in words.
    """

    files: tuple[Path, ...]
    n_reads: int
    n_bases: int
    mean_quality: float
    duplicate_percent: float
    adapter_percent: float
    per_position_quality: pd.DataFrame
    gc_content: pd.DataFrame
    length_distribution: pd.DataFrame
    n_content: pd.DataFrame
    duplication: pd.DataFrame
    adapter_content: pd.DataFrame
    flags: dict[str, str]
    details: dict[str, str]

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The six tables by name."""
        return {
            "per_position_quality": self.per_position_quality,
            "gc_content": self.gc_content,
            "length_distribution": self.length_distribution,
            "n_content": self.n_content,
            "duplication": self.duplication,
            "adapter_content": self.adapter_content,
        }

    def summary(self) -> pd.DataFrame:
        """One row per module: ``module, flag, detail``."""
        return pd.DataFrame(
            [(m, self.flags[m], self.details[m]) for m in MODULES],
            columns=["module", "flag", "detail"],
        )

    def _repr_html_(self) -> str:
        head = (
            f"<p>{', '.join(p.name for p in self.files)}: {self.n_reads:,} reads per file, "
            f"mean quality {self.mean_quality:.1f}</p>"
        )
        return head + self.summary().to_html(index=False)


def read_qc(r1, r2=None, *, max_reads: int | None = None, adapter: str = DEFAULT_ADAPTER) -> ReadQC:
    """Quality-control tables and pass/warn/fail flags for a FASTQ file or pair.

    Parameters
    ----------
    r1, r2 : path
        FASTQ files (gzipped or plain). With ``r2`` the files must list the same reads in
        the same order.
    max_reads : int, optional
        Read at most this many reads (pairs) from the start of the file(s).
    adapter : str
        The adapter whose first 12 bases ``adapter_content`` looks for.

    Returns
    -------
    ReadQC
        Thresholds for the flags are in the module docstring.

    Raises
    ------
    PipelineInputError
        For a missing, empty, truncated or corrupt file, or a mismatched pair; ``path``
        names the file.
    """
    paths = (_check_path(r1),) if r2 is None else (_check_path(r1), _check_path(r2))
    if max_reads is not None and (
        isinstance(max_reads, bool) or not isinstance(max_reads, int) or max_reads < 1
    ):
        raise InputError(f"max_reads must be a positive integer or None, got {max_reads!r}")
    if not isinstance(adapter, str) or len(adapter) < _ADAPTER_KMER:
        raise InputError(f"adapter must be a sequence of at least {_ADAPTER_KMER} bases")
    kmer = adapter.upper()[:_ADAPTER_KMER]
    stats = [_Stats() for _ in paths]
    for chunk in _iter_chunks(paths, max_reads):
        mates = zip(*chunk, strict=True) if len(paths) == 2 else [chunk]
        for s, (path, recs) in zip(stats, zip(paths, mates, strict=True), strict=True):
            try:
                s.add([r.sequence for r in recs], [r.qualities for r in recs], kmer)
            except ValueError as e:
                raise _bad_file(path, e) from e
    labels = ("R1", "R2")[: len(paths)]
    per_file = [_tables(lab, s) for lab, s in zip(labels, stats, strict=True)]
    tables = {k: pd.concat([t[k] for t in per_file], ignore_index=True) for k in per_file[0]}
    file_flags = [_flags(s, t) for s, t in zip(stats, per_file, strict=True)]
    flags, details = {}, {}
    for m in MODULES:
        flags[m] = _worst(f[m][0] for f in file_flags)
        details[m] = "; ".join(
            f"{lab}: {f[m][1]}" for lab, f in zip(labels, file_flags, strict=True)
        )
    bases = sum(s.bases for s in stats)
    return ReadQC(
        files=paths,
        n_reads=stats[0].reads,
        n_bases=bases,
        mean_quality=sum(s.qsum for s in stats) / bases if bases else float("nan"),
        duplicate_percent=float(
            np.mean([100.0 * (1 - len(s.seqs) / s.tracked) if s.tracked else 0.0 for s in stats])
        ),
        adapter_percent=float(
            np.mean([100.0 * s.adapter_at.sum() / s.reads if s.reads else 0.0 for s in stats])
        ),
        flags=flags,
        details=details,
        **tables,
    )


# -- plots -----------------------------------------------------------------------------------


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 3.5))
    return ax


def plot_per_position_quality(qc: ReadQC, ax=None):
    """Median, interquartile and 10-90 % range of Phred quality along the read; returns ax."""
    ax = _axes(ax)
    for (read, t), colour in zip(
        qc.per_position_quality.groupby("read", sort=True), ("C0", "C1"), strict=False
    ):
        ax.fill_between(t.position, t.p10, t.p90, color=colour, alpha=0.12, linewidth=0)
        ax.fill_between(t.position, t.q1, t.q3, color=colour, alpha=0.3, linewidth=0)
        ax.plot(t.position, t["median"], color=colour, label=f"{read} median")
        ax.plot(t.position, t["mean"], color=colour, linestyle=":", label=f"{read} mean")
    ax.axhspan(0, 20, color="red", alpha=0.06)
    ax.axhspan(20, 28, color="orange", alpha=0.06)
    ax.set_xlabel("position in read (bp)")
    ax.set_ylabel("Phred quality")
    ax.set_ylim(0, 42)
    ax.legend(loc="lower left", fontsize="small")
    return ax


def plot_gc_content(qc: ReadQC, ax=None):
    """Per-read GC content against a fitted normal distribution; returns ax."""
    ax = _axes(ax)
    for (read, t), colour in zip(
        qc.gc_content.groupby("read", sort=True), ("C0", "C1"), strict=False
    ):
        ax.plot(t.gc_percent, t["count"], color=colour, label=f"{read} observed")
        ax.plot(t.gc_percent, t.expected, color=colour, linestyle="--", label=f"{read} normal fit")
    ax.set_xlabel("GC content of read (%)")
    ax.set_ylabel("reads")
    ax.legend(fontsize="small")
    return ax


def plot_adapter_content(qc: ReadQC, ax=None):
    """Cumulative percent of reads with the adapter by position; returns ax."""
    ax = _axes(ax)
    for read, t in qc.adapter_content.groupby("read", sort=True):
        ax.plot(t.position, t.percent, label=read)
    ax.axhline(5, color="orange", linewidth=0.8, linestyle=":")
    ax.axhline(10, color="red", linewidth=0.8, linestyle=":")
    ax.set_xlabel("position in read (bp)")
    ax.set_ylabel("reads with adapter (%)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize="small")
    return ax


def plot_duplication(qc: ReadQC, ax=None):
    """Percent of reads by how often their exact sequence occurs; returns ax."""
    ax = _axes(ax)
    table = qc.duplication.pivot(index="copies", columns="read", values="percent_of_reads")
    order = [str(i) for i in range(1, 10)] + [">=10"]
    table = table.reindex(order)
    width = 0.8 / max(1, table.shape[1])
    x = np.arange(len(order))
    for i, read in enumerate(table.columns):
        ax.bar(x + i * width, table[read].to_numpy(), width=width, label=read)
    ax.set_xticks(x + width * (table.shape[1] - 1) / 2, order)
    ax.set_xlabel("copies of the sequence")
    ax.set_ylabel("reads (%)")
    ax.legend(fontsize="small")
    return ax


# -- trimming --------------------------------------------------------------------------------


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".fastq.gz", ".fq.gz", ".fastq", ".fq"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _first_record(path: Path) -> None:
    """Raise PipelineInputError unless ``path`` starts with a readable FASTQ record."""
    import dnaio

    try:
        with dnaio.open(path, mode="r") as reader:
            for _ in reader:
                return
    except _read_errors() as e:
        raise _bad_file(path, e) from e
    raise PipelineInputError(
        f"{path} holds no reads; expected at least one FASTQ record", path=path
    )


def _validate(paths: tuple[Path, ...]) -> None:
    for _ in _iter_chunks(paths, None):
        pass


def trim(
    r1,
    r2=None,
    *,
    out_dir,
    adapter: str = DEFAULT_ADAPTER,
    quality: int = 20,
    min_length: int = 30,
) -> tuple[Path, Path | None, dict]:
    """Trim adapters and low-quality 3' ends with cutadapt; drop pairs that get too short.

    Runs ``python -m cutadapt -a ADAPTER [-A ADAPTER] -q QUALITY -m MIN_LENGTH`` on one
    core (cutadapt trims 3' bases by the BWA algorithm, then finds the adapter allowing 10 %
    errors and as little as 3 bases of overlap at the read end), then gzips its output
    deterministically.

    Parameters
    ----------
    r1, r2 : path
        FASTQ files (``r2`` optional for single-end reads).
    out_dir : path
        Folder for ``<stem>.trimmed.fastq.gz`` per input (``P1_R1.fastq.gz`` →
        ``P1_R1.trimmed.fastq.gz``); existing outputs are replaced.
    adapter : str
        3' adapter of both reads.
    quality : int
        Phred cutoff for 3' quality trimming.
    min_length : int
        Reads (pairs: either read) shorter than this after trimming are discarded.

    Returns
    -------
    tuple
        ``(r1_out, r2_out or None, report)``; ``report`` holds ``tool, version, adapter,
        quality, min_length, paired, reads_in, reads_out, too_short`` (pairs when paired),
        ``r1_with_adapter, r2_with_adapter, percent_r1_with_adapter,
        percent_r2_with_adapter, bases_in, bases_quality_trimmed, bases_out,
        percent_bases_out``.

    Raises
    ------
    PipelineInputError
        For a missing, empty, truncated or corrupt input, or a mismatched pair; nothing is
        written then.
    """
    paths = (_check_path(r1),) if r2 is None else (_check_path(r1), _check_path(r2))
    if len(paths) == 2 and paths[0].resolve() == paths[1].resolve():
        raise InputError(f"r1 and r2 are the same file ({paths[0]}); pass the two mates")
    if not isinstance(adapter, str) or not adapter or set(adapter.upper()) - set("ACGTN"):
        raise InputError(f"adapter must be a DNA sequence such as {DEFAULT_ADAPTER!r}")
    for name, value, lo in (("quality", quality, 0), ("min_length", min_length, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < lo:
            raise InputError(f"{name} must be an integer >= {lo}, got {value!r}")
    for p in paths:
        _first_record(p)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    outs = tuple(out_dir / f"{_stem(p)}.trimmed.fastq.gz" for p in paths)
    if len(outs) == 2 and outs[0] == outs[1]:
        raise InputError(f"both inputs would be written to {outs[0]}; rename one of them")
    tmp = Path(tempfile.mkdtemp(prefix=".trim.", suffix=".partial", dir=out_dir))
    try:
        plain = [tmp / f"r{i + 1}.fastq" for i in range(len(paths))]
        cmd = [sys.executable, "-m", "cutadapt", "--cores", "1", "-a", adapter.upper()]
        if len(paths) == 2:
            cmd += ["-A", adapter.upper()]
        cmd += ["-q", str(quality), "-m", str(min_length), "--json", str(tmp / "report.json")]
        cmd += ["-o", str(plain[0])]
        if len(paths) == 2:
            cmd += ["-p", str(plain[1])]
        cmd += [str(p) for p in paths]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            _validate(paths)  # raises a precise PipelineInputError when the input is bad
            raise PipelineInputError(
                f"cutadapt could not trim {', '.join(map(str, paths))}: "
                f"{done.stderr.strip().splitlines()[-1] if done.stderr.strip() else 'no message'}",
                path=paths[0],
            )
        raw = json.loads((tmp / "report.json").read_text(encoding="utf-8"))
        report = _report(raw, adapter.upper(), quality, min_length, len(paths) == 2)
        if report["reads_in"] == 0:
            raise PipelineInputError(f"{paths[0]} holds no reads", path=paths[0])
        if len(paths) == 2:
            with atomic_file(outs[0], "wb") as f1, atomic_file(outs[1], "wb") as f2:
                _gzip_copy(plain[0], f1)
                _gzip_copy(plain[1], f2)
        else:
            with atomic_file(outs[0], "wb") as f1:
                _gzip_copy(plain[0], f1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return outs[0], (outs[1] if len(outs) == 2 else None), report


def _gzip_copy(src: Path, raw) -> None:
    # filename="" and mtime=0: equal reads give byte-identical files.
    with (
        open(src, "rb") as f,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=1, mtime=0) as gz,
    ):
        shutil.copyfileobj(f, gz, 1 << 20)


def _report(raw: dict, adapter: str, quality: int, min_length: int, paired: bool) -> dict:
    reads, bases = raw["read_counts"], raw["basepair_counts"]
    n_in = int(reads["input"])

    def pct(x, total):
        return round(100.0 * x / total, 2) if total else 0.0

    r1a = int(reads.get("read1_with_adapter") or 0)
    r2a = int(reads.get("read2_with_adapter") or 0) if paired else None
    return {
        "tool": "cutadapt",
        "version": raw.get("cutadapt_version"),
        "adapter": adapter,
        "quality": quality,
        "min_length": min_length,
        "paired": paired,
        "reads_in": n_in,
        "reads_out": int(reads["output"]),
        "too_short": int(reads["filtered"].get("too_short") or 0),
        "r1_with_adapter": r1a,
        "r2_with_adapter": r2a,
        "percent_r1_with_adapter": pct(r1a, n_in),
        "percent_r2_with_adapter": pct(r2a, n_in) if paired else None,
        "bases_in": int(bases["input"]),
        "bases_quality_trimmed": int(bases.get("quality_trimmed") or 0),
        "bases_out": int(bases["output"]),
        "percent_bases_out": pct(int(bases["output"]), int(bases["input"])),
    }
