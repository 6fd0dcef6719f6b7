"""Simulated Illumina-like paired-end reads from the people of a cohort.

:func:`haplotype_sequences` applies a person's phased alleles (SNVs and indels) to the
reference; :func:`simulate_reads` cuts fragments from those haplotypes and writes gzipped
paired FASTQ files, one pair per person, for the pipeline exercises (QC, trimming, alignment,
calling).

The read model, in order:

* **Windows.** Each requested region (a ``(contig, start, end)`` tuple, or a gene symbol padded
  by :data:`GENE_PADDING` bp) is widened on both sides by ``insert_mean + 3 * insert_sd`` bp
  (clipped to the contig) so that the requested bases receive the full depth; overlapping
  windows on one contig are merged.
* **Fragments.** ``round(depth * window_length / (2 * read_length))`` read pairs per window
  (so ``depth`` counts both reads, PCR duplicates included). Fragments come uniformly from the
  person's haplotypes (one haplotype at full depth on a male's X) with normally distributed
  insert sizes (at least :data:`MIN_INSERT` bp) and a uniformly random start and strand.
  A share ``duplicate_rate`` of the pairs are PCR duplicates: exact copies of another
  fragment of the window, sequenced again (with their own qualities and errors).
* **Read-through.** An insert shorter than ``read_length`` is followed by the adapter
  (for the default TruSeq adapter, the rest of the TruSeq read 1 / read 2 adapter), then
  ``G`` (no signal in two-colour chemistry).
* **Qualities.** Phred qualities follow a plateau at ``Q_hi = -10 log10(error_rate)``
  decaying towards the 3' end, ``Q_hi - 8 x**3`` with ``x`` the relative position, plus
  per-read (sd 1.5) and per-base (sd 1.5) normal noise; 2 % of reads are "poor" (10 lower).
  Qualities are clipped to 2..41.
* **Errors.** Each base is substituted (by one of the three other bases) with probability
  ``10**(-Q/10)`` of its own quality, so the qualities are calibrated by construction. Before
  that, single-base insertions and deletions occur at ``indel_error_rate`` per base.

Read names carry the person id and the fragment's true origin, nothing else:
``<person>:<serial>:<contig>:<position>:<haplotype>:<strand>:<insert>`` where ``position``
is the 1-based reference coordinate of the fragment's leftmost base, ``haplotype`` 0 or 1
(the genotype column; 0 for the single X of a male), ``strand`` ``+`` when read 1 is on the
forward strand, and ``insert`` the fragment length in haplotype bases. Duplicates share
everything but the serial number. Both files of a pair use the same name.
"""

from __future__ import annotations

import bisect
import gzip
import io
import re
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..errors import CohortFormatError, InputError
from ..io import atomic_file

__all__ = [
    "DEFAULT_ADAPTER",
    "GENE_PADDING",
    "MIN_INSERT",
    "haplotype_sequences",
    "parse_read_name",
    "plain_regions",
    "read_pair",
    "read_parameters",
    "simulate_reads",
]

#: The first 13 bases shared by the Illumina TruSeq read 1 and read 2 adapters.
DEFAULT_ADAPTER = "AGATCGGAAGAGC"
#: Bases added on each side of a gene given by symbol.
GENE_PADDING = 100
#: Shortest fragment simulated (shorter draws are raised to this).
MIN_INSERT = 35

# What a sequencer reads after a short insert when the library uses TruSeq adapters:
# the adapter, the index read region and the flow-cell binding sequence.
_TRUSEQ_R1 = "AGATCGGAAGAGCACACGTCTGAACTCCAGTCACATCACGATCTCGTATGCCGTCTTCTGCTTG"
_TRUSEQ_R2 = "AGATCGGAAGAGCGTCGTGTAGGGAAAGAGTGTAGATCTCGGTGGTCGCCGTATCATT"

_CODES = np.frombuffer(b"ACGTN", dtype=np.uint8)
_LOOKUP = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate(b"ACGTN"):
    _LOOKUP[_b] = _i
    _LOOKUP[ord(chr(_b).lower())] = _i
_COMPLEMENT = np.array([3, 2, 1, 0, 4], dtype=np.uint8)
_X_NAMES = {"chrX", "X"}
_BASES_RE = re.compile(r"^[ACGTN]+$")
_PLATEAU_DROP = 8.0  # quality lost at the last base relative to the plateau
_POOR_READS = 0.02
_PAD = 16  # template bases beyond the read, consumed by simulated deletions
_MAX_PAIRS_PER_BATCH = 20_000


# -- haplotypes -------------------------------------------------------------------------------


def _sample_index(cohort, person_id: str) -> int:
    try:
        return cohort.sample_ids.index(person_id)
    except ValueError:
        raise InputError(
            f"person {person_id!r} is not in cohort {cohort.name!r}; person ids look like "
            f"{cohort.sample_ids[0]!r} (see cohort.samples())"
        ) from None


def _is_male(cohort, person_id: str) -> bool:
    samples = cohort.samples()
    sex = samples.loc[samples.person_id == person_id, "sex"]
    return bool(len(sex)) and str(sex.iloc[0]) == "male"


def _window(cohort, contig: str, start: int, end: int, genomes=None) -> dict:
    """Reference bases, variants and everyone's genotypes over a window (shared by all people).

    ``genomes`` (default: the cohort's calls) has ``variants``, ``genotypes`` and ``sample_ids``
    as :class:`workbench.cohort.GenotypeStore` does.
    """
    genomes = cohort if genomes is None else genomes
    length = cohort.reference.contigs.get(contig)
    if length is None:
        raise InputError(
            f"unknown contig {contig!r}; the reference has {', '.join(cohort.reference.contigs)}"
        )
    if not (1 <= start <= end <= length):
        raise InputError(
            f"region {contig}:{start}-{end} must satisfy 1 <= start <= end <= {length} "
            "(1-based, inclusive)"
        )
    variants = genomes.variants(contig=contig, region=(start, end))
    return {
        "samples": list(genomes.sample_ids),
        "contig": contig,
        "start": start,
        "end": end,
        "ref": cohort.reference.fetch(contig, start - 1, end),
        "positions": variants.position.to_numpy(),
        "refs": variants.ref.to_numpy(),
        "alts": [a.split(",") if a else [] for a in variants.alt],
        "calls": np.asarray(genomes.genotypes(contig=contig, region=(start, end)).values),
    }


def _haplotypes(cohort, person_id: str, window: dict):
    """Haplotype strings with, for each base, its 1-based reference coordinate.

    Returns a list of ``(column, sequence, refpos)`` for the haplotypes the person carries.
    """
    _sample_index(cohort, person_id)
    idx = window["samples"].index(person_id)
    contig, start, end, ref = window["contig"], window["start"], window["end"], window["ref"]
    calls = window["calls"][:, idx, :]
    if len(calls):
        absent = [c for c in (0, 1) if (calls[:, c] == -2).any()]
    else:
        absent = [1] if contig in _X_NAMES and _is_male(cohort, person_id) else []
    out = []
    positions, refs, alts = window["positions"], window["refs"], window["alts"]
    for column in (0, 1):
        if column in absent:
            continue
        pieces, coords = [], []
        cursor = start  # next reference base (1-based) not yet copied
        for pos, r, alt, allele in zip(positions, refs, alts, calls[:, column], strict=True):
            if allele <= 0:  # reference, missing (-1) or no allele (-2)
                continue
            pos, allele = int(pos), int(allele)
            if pos < cursor or pos + len(r) - 1 > end:
                continue  # overlaps an allele already applied, or crosses the window end
            if ref[pos - start : pos - start + len(r)] != r:
                raise CohortFormatError(
                    f"{contig}:{pos} REF {r!r} disagrees with the reference "
                    f"({ref[pos - start : pos - start + len(r)]!r}); the cohort is inconsistent, "
                    "regenerate it"
                )
            a = alt[allele - 1] if allele - 1 < len(alt) else ""
            if not _BASES_RE.match(a):
                raise CohortFormatError(
                    f"{contig}:{pos} ALT {a!r} of allele {allele} is not a sequence of bases; "
                    "only sequence alleles can be simulated"
                )
            pieces.append(ref[cursor - start : pos - start])
            coords.append(np.arange(cursor, pos, dtype=np.int64))
            pieces.append(a)
            # Inserted bases take the coordinate of the reference base they follow.
            shared = min(len(a), len(r))
            coords.append(
                np.concatenate(
                    [
                        np.arange(pos, pos + shared, dtype=np.int64),
                        np.full(len(a) - shared, pos + shared - 1, dtype=np.int64),
                    ]
                )
            )
            cursor = pos + len(r)
        pieces.append(ref[cursor - start :])
        coords.append(np.arange(cursor, end + 1, dtype=np.int64))
        out.append((column, "".join(pieces), np.concatenate(coords)))
    return out


def haplotype_sequences(
    cohort, person_id: str, *, contig: str, start: int, end: int
) -> tuple[str, str | None]:
    """The two haplotypes of a person over ``contig:start-end`` (1-based, inclusive).

    Parameters
    ----------
    cohort : workbench.Cohort
    person_id : str
        A sample id of the cohort (``"P00003"``).
    contig, start, end
        The reference window.

    Returns
    -------
    tuple of (str, str or None)
        The paternal (genotype column 0) and maternal (column 1) haplotype, with every
        non-reference allele the person carries applied: SNVs, insertions and deletions. A
        male's X has one haplotype: ``(haplotype, None)``. The alleles are the simulated ones
        (``cohort.simulated``) for members of the rare-disease families, so reads show the
        genome as it is and not the calling noise; for anyone else they are the calls, where
        a missing call is read as the reference allele. An allele overlapping one already
        applied on the same haplotype, or whose reference allele runs past ``end``, is left
        out.

    Raises
    ------
    InputError
        For an unknown person or contig, or a window outside the contig.
    """
    window = _window(cohort, contig, int(start), int(end), cohort.genomes([person_id]))
    haps = _haplotypes(cohort, person_id, window)
    if len(haps) == 1:
        return haps[0][1], None
    return haps[0][1], haps[1][1]


# -- arguments -------------------------------------------------------------------------------


def _parse_regions(cohort, regions) -> list[tuple[str, int, int]]:
    if isinstance(regions, str | tuple):
        regions = [regions]
    try:
        items = list(regions)
    except TypeError:
        raise InputError(
            f"regions must be a list of gene symbols or (contig, start, end) tuples, "
            f"got {type(regions).__name__}"
        ) from None
    if not items:
        raise InputError("regions is empty; name at least one gene or (contig, start, end)")
    out = []
    contigs = cohort.reference.contigs
    for item in items:
        if isinstance(item, str):
            out.extend(_gene_targets(cohort.reference, item))
            continue
        if not (isinstance(item, Sequence) and len(item) == 3):
            raise InputError(
                f"each region must be a gene symbol or a (contig, start, end) tuple, got {item!r}"
            )
        contig, start, end = item
        if contig not in contigs:
            raise InputError(
                f"unknown contig {contig!r} in region {item!r}; the reference has "
                f"{', '.join(contigs)}"
            )
        try:
            start, end = int(start), int(end)
        except (TypeError, ValueError):
            raise InputError(f"region {item!r}: start and end must be integers") from None
        if not 1 <= start <= end <= contigs[contig]:
            raise InputError(
                f"region {item!r} must satisfy 1 <= start <= end <= {contigs[contig]} "
                "(1-based, inclusive)"
            )
        out.append((contig, start, end))
    return out


def _gene_targets(reference, symbol: str) -> list[tuple[str, int, int]]:
    """A gene's capture targets: its span and ``GENE_PADDING`` on either side, where the
    reference has sequence. On a sparse (exome-scale) genome these are its exons with their
    flanks, as an exome capture would target; on a compact one, the whole padded gene."""
    gene = reference.gene(symbol)
    lo = max(1, gene.start - GENE_PADDING)
    hi = min(reference.contigs[gene.contig], gene.end + GENE_PADDING)
    out = []
    for a, b in reference.known_windows(gene.contig):  # 0-based half-open
        s, e = max(lo, a + 1), min(hi, b)
        if s <= e:
            out.append((gene.contig, s, e))
    return out


def _windows(cohort, regions, flank: int) -> list[tuple[str, int, int]]:
    contigs = cohort.reference.contigs
    order = {c: i for i, c in enumerate(contigs)}
    widened = sorted(
        ((c, max(1, s - flank), min(contigs[c], e + flank)) for c, s, e in regions),
        key=lambda r: (order[r[0]], r[1]),
    )
    merged: list[list] = []
    for c, s, e in widened:
        if merged and merged[-1][0] == c and s <= merged[-1][2] + 1:
            merged[-1][2] = max(merged[-1][2], e)
        else:
            merged.append([c, s, e])
    return _with_sequence(cohort.reference, [tuple(m) for m in merged])


def _with_sequence(reference, windows) -> list[tuple[str, int, int]]:
    """The parts of 1-based inclusive ``windows`` where the reference has bases.

    On an exome-scale genome the bases beyond an exon's flanks read ``N``: a fragment cut
    there would be reads of ``N`` that align nowhere, so fragments come only from the known
    sequence (a capture's fragments reach further into the intron, but those bases are not
    modelled). A compact genome is sequence throughout, and its windows stay whole.
    """
    out = []
    seen: dict[str, tuple[list, list[int]]] = {}
    for c, s, e in windows:
        if c not in seen:
            known = reference.known_windows(c)  # 0-based half-open, sorted
            seen[c] = known, [b for _, b in known]
        known, ends = seen[c]
        k = bisect.bisect_right(ends, s - 1)
        while k < len(known) and known[k][0] < e:
            a, b = known[k]
            out.append((c, max(s, a + 1), min(e, b)))
            k += 1
    return out


def _check_number(name, value, lo, hi=None, *, integer=False, lo_open=False):
    ok_type = isinstance(value, int | np.integer) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok_type:
        kind = "an integer" if integer else "a number"
        raise InputError(f"{name} must be {kind}, got {value!r}")
    if (value <= lo if lo_open else value < lo) or (hi is not None and value > hi):
        bound = f"> {lo}" if lo_open else f">= {lo}"
        bound += f" and <= {hi}" if hi is not None else ""
        raise InputError(f"{name} must be {bound}, got {value!r}")


# -- reads -----------------------------------------------------------------------------------


def _tail(adapter: str, mate: int, width: int) -> np.ndarray:
    text = adapter
    if adapter == DEFAULT_ADAPTER:
        text = _TRUSEQ_R1 if mate == 1 else _TRUSEQ_R2
    text = (text + "G" * width)[:width]
    return _LOOKUP[np.frombuffer(text.encode(), np.uint8)]


def _templates(hap, starts, inserts, forward, tail) -> np.ndarray:
    """Template bases (codes) each read of a mate is sequenced from: insert, then tail."""
    width = len(tail)
    j = np.arange(width)[None, :]
    inside = j < inserts[:, None]
    fwd_idx = starts[:, None] + j
    rev_idx = starts[:, None] + inserts[:, None] - 1 - j
    idx = np.where(forward[:, None], fwd_idx, rev_idx)
    idx = np.clip(idx, 0, len(hap) - 1)
    genomic = hap[idx]
    genomic = np.where(forward[:, None], genomic, _COMPLEMENT[genomic])
    tail_idx = np.clip(j - inserts[:, None], 0, width - 1)
    return np.where(inside, genomic, tail[tail_idx]).astype(np.uint8)


def _apply_indels(templates, rate, read_length, rng) -> np.ndarray:
    """Single-base insertions and deletions at ``rate`` per read base; returns reads' bases."""
    n = len(templates)
    out = templates[:, :read_length].copy()
    if rate <= 0 or n == 0:
        return out
    events = rng.binomial(read_length, rate, size=n)
    for i in np.flatnonzero(events):
        row = list(templates[i])
        for _ in range(int(events[i])):
            at = int(rng.integers(0, read_length))
            if rng.random() < 0.5:
                row.insert(at, int(rng.integers(0, 4)))
            else:
                del row[at]
        out[i] = np.asarray(row[:read_length], dtype=np.uint8)
    return out


def _qualities(n, read_length, q_hi, rng) -> np.ndarray:
    x = np.arange(read_length) / max(1, read_length - 1)
    curve = q_hi - _PLATEAU_DROP * x**3
    offset = rng.normal(0.0, 1.5, size=(n, 1)) - 10.0 * (rng.random((n, 1)) < _POOR_READS)
    q = np.rint(curve[None, :] + offset + rng.normal(0.0, 1.5, size=(n, read_length)))
    return np.clip(q, 2, 41).astype(np.uint8)


def _substitute(bases, quals, rng) -> np.ndarray:
    p = np.power(10.0, -quals.astype(np.float64) / 10.0)
    hit = (rng.random(bases.shape) < p) & (bases < 4)
    shift = rng.integers(1, 4, size=bases.shape, dtype=np.uint8)
    return np.where(hit, (bases + shift) % 4, bases).astype(np.uint8)


def _fragments(haps, n_pairs, dup_rate, insert_mean, insert_sd, rng):
    """Fragment table ``(hap_index, start, insert, forward)`` for one window."""
    n_dup = round(n_pairs * dup_rate)
    n_unique = n_pairs - n_dup
    which = rng.integers(0, len(haps), size=n_unique)
    lengths = np.array([len(h) for h in haps])[which]
    inserts = np.rint(rng.normal(insert_mean, insert_sd, size=n_unique)).astype(np.int64)
    inserts = np.clip(inserts, MIN_INSERT, lengths)
    starts = (rng.random(n_unique) * (lengths - inserts + 1)).astype(np.int64)
    forward = rng.random(n_unique) < 0.5
    if n_dup and n_unique:
        src = rng.integers(0, n_unique, size=n_dup)
        which, starts, inserts, forward = (
            np.concatenate([a, a[src]]) for a in (which, starts, inserts, forward)
        )
    return which, starts, inserts, forward


def _fastq_records(names, bases, quals) -> bytes:
    seqs = _CODES[bases]
    qtext = (quals + 33).astype(np.uint8)
    lines = []
    for name, s, q in zip(names, seqs, qtext, strict=True):
        lines.append(b"@%s\n%s\n+\n%s\n" % (name, s.tobytes(), q.tobytes()))
    return b"".join(lines)


def _person_reads(cohort, person_id, label, windows: list[dict], params, rng):
    """All read pairs of one person: names, R1 bases/quals, R2 bases/quals (shuffled)."""
    rl = params["read_length"]
    width = rl + _PAD
    tails = (_tail(params["adapter"], 1, width), _tail(params["adapter"], 2, width))
    q_hi = min(41.0, -10.0 * np.log10(params["error_rate"]))
    meta, r1s, q1s, r2s, q2s = [], [], [], [], []
    for window in windows:
        contig, start, end = window["contig"], window["start"], window["end"]
        haps = _haplotypes(cohort, person_id, window)
        codes = [_LOOKUP[np.frombuffer(h.encode(), np.uint8)] for _, h, _ in haps]
        n_pairs = round(params["depth"] * (end - start + 1) / (2 * rl))
        which, starts, inserts, forward = _fragments(
            codes,
            n_pairs,
            params["duplicate_rate"],
            params["insert_mean"],
            params["insert_sd"],
            rng,
        )
        for h, (column, _, refpos) in enumerate(haps):
            sel = np.flatnonzero(which == h)
            for lo in range(0, len(sel), _MAX_PAIRS_PER_BATCH):
                part = sel[lo : lo + _MAX_PAIRS_PER_BATCH]
                st, ins, fw = starts[part], inserts[part], forward[part]
                for mate, orient in ((1, fw), (2, ~fw)):
                    t = _templates(codes[h], st, ins, orient, tails[mate - 1])
                    b = _apply_indels(t, params["indel_error_rate"], rl, rng)
                    q = _qualities(len(part), rl, q_hi, rng)
                    b = _substitute(b, q, rng)
                    (r1s if mate == 1 else r2s).append(b)
                    (q1s if mate == 1 else q2s).append(q)
                meta.extend(
                    (contig, int(refpos[s]), column, "+" if f else "-", int(i))
                    for s, i, f in zip(st, ins, fw, strict=True)
                )
    if not meta:
        empty = np.zeros((0, rl), np.uint8)
        return [], empty, empty, empty, empty
    order = rng.permutation(len(meta))
    names = [
        ":".join(map(str, (label, serial, *meta[k]))).encode() for serial, k in enumerate(order, 1)
    ]
    r1, q1, r2, q2 = (np.concatenate(x)[order] for x in (r1s, q1s, r2s, q2s))
    return names, r1, q1, r2, q2


def _gzip(payload: bytes) -> bytes:
    # filename="" and mtime=0 keep the gzip header free of names and times.
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=1, mtime=0) as gz:
        gz.write(payload)
    return buf.getvalue()


def _write_pair(paths: tuple[Path, Path], payloads: tuple[bytes, bytes]) -> None:
    """Write both files of a pair; neither replaces its destination unless both are written."""
    with atomic_file(paths[0], "wb") as f1, atomic_file(paths[1], "wb") as f2:
        f1.write(payloads[0])
        f2.write(payloads[1])


def parse_read_name(name: str) -> dict:
    """The true origin a simulated read's name records.

    Returns
    -------
    dict
        ``person_id, serial, contig, position`` (1-based reference coordinate of the
        fragment's leftmost base), ``haplotype`` (genotype column), ``strand`` (of read 1)
        and ``insert``.
    """
    parts = name.split()[0].split(":")
    if len(parts) != 7:
        raise InputError(
            f"{name!r} is not a simulated read name "
            "(<person>:<serial>:<contig>:<position>:<haplotype>:<strand>:<insert>)"
        )
    person, serial, contig, pos, hap, strand, insert = parts
    return {
        "person_id": person,
        "serial": int(serial),
        "contig": contig,
        "position": int(pos),
        "haplotype": int(hap),
        "strand": strand,
        "insert": int(insert),
    }


def simulate_reads(
    cohort,
    *,
    person_ids: Sequence[str],
    regions: Sequence,
    out_dir,
    depth: float = 30.0,
    read_length: int = 150,
    insert_mean: float = 300,
    insert_sd: float = 60,
    error_rate: float = 0.001,
    indel_error_rate: float = 1e-5,
    duplicate_rate: float = 0.03,
    adapter: str = DEFAULT_ADAPTER,
    seed: int,
    progress: bool = True,
) -> dict[str, tuple[Path, Path]]:
    """Simulate paired-end reads of people over regions and write them as gzipped FASTQ.

    The model (windows, fragments, duplicates, adapter read-through, qualities, errors and
    read names) is described in the module docstring.

    Parameters
    ----------
    cohort : workbench.Cohort
    person_ids : sequence of str
        People to sequence (``["P00001", "P00002", "P00003"]``).
    regions : sequence
        Gene symbols (the gene, padded by 100 bp) and/or ``(contig, start, end)`` tuples
        (1-based, inclusive).
    out_dir : path
        Folder for ``<person>_R1.fastq.gz`` and ``<person>_R2.fastq.gz`` (created if needed;
        existing files of these names are replaced).
    depth : float
        Mean sequencing depth over the requested regions (both reads of a pair count,
        duplicates included).
    read_length : int
    insert_mean, insert_sd : float
        Fragment length distribution (normal; at least :data:`MIN_INSERT` bp).
    error_rate : float
        Substitution rate of the quality plateau: ``Q_hi = -10 log10(error_rate)``.
        Qualities decay towards the 3' end and errors follow each base's quality.
    indel_error_rate : float
        Single-base insertion/deletion errors per read base.
    duplicate_rate : float
        Share of read pairs that are PCR duplicates of another fragment.
    adapter : str
        Adapter sequence read after short inserts.
    seed : int
        Each person's reads are drawn from ``numpy.random.default_rng([seed, crc32(id)])``:
        the same seed gives byte-identical files, whatever else is simulated with them.
    progress : bool
        Show a tqdm progress bar (one step per person).

    Returns
    -------
    dict
        ``person_id -> (r1_path, r2_path)``.

    Raises
    ------
    InputError
        For unknown people, genes or contigs, and out-of-range parameters.
    """
    if isinstance(person_ids, str):
        person_ids = [person_ids]
    person_ids = list(person_ids)
    if not person_ids:
        raise InputError("person_ids is empty; name at least one person (see cohort.samples())")
    if len(set(person_ids)) != len(person_ids):
        raise InputError(f"person_ids lists someone twice: {person_ids}")
    params = read_parameters(
        depth=depth, read_length=read_length, insert_mean=insert_mean, insert_sd=insert_sd,
        error_rate=error_rate, indel_error_rate=indel_error_rate,
        duplicate_rate=duplicate_rate, adapter=adapter, seed=seed,
    )  # fmt: skip
    if _is_session(cohort):
        # The sequencer is the session's: it reads the genomes, and only the reads come back.
        def pair(pid):
            got = cohort.reads(pid, regions=plain_regions(regions), **params)
            return got["R1"], got["R2"]
    else:
        for pid in person_ids:
            _sample_index(cohort, pid)
        windows = _read_windows(cohort, regions, params, person_ids)

        def pair(pid):
            return _gzipped_pair(cohort, pid, pid, windows, params)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = {}
    for pid in tqdm(person_ids, desc="simulate reads", unit="person", disable=not progress):
        paths = (out_dir / f"{pid}_R1.fastq.gz", out_dir / f"{pid}_R2.fastq.gz")
        _write_pair(paths, pair(pid))
        result[pid] = paths
    return result


def read_pair(
    cohort,
    person_id: str,
    *,
    regions,
    label: str | None = None,
    max_pairs: int | None = None,
    **params,
):
    """One person's reads as :func:`simulate_reads` writes them: two gzipped FASTQ payloads.

    This is the sequencer behind a session (:meth:`workbench.access.session.Session.reads`):
    the genomes are read here and only the reads leave. ``label`` names the person in the read
    names (a pseudonym outside care; the id by default). ``params`` are the read options of
    :func:`simulate_reads`, ``seed`` among them; the bytes equal that function's files.
    ``max_pairs`` refuses, before anything is read or made, a request for more read pairs
    than that (a service must not let one caller exhaust its memory).
    """
    _sample_index(cohort, person_id)
    params = read_parameters(**params)
    if max_pairs is not None:
        flank = int(params["insert_mean"] + 3 * params["insert_sd"])
        spans = _windows(cohort, _parse_regions(cohort, regions), flank)
        pairs = sum(
            round(params["depth"] * (end - start + 1) / (2 * params["read_length"]))
            for _, start, end in spans
        )
        if pairs > max_pairs:
            raise InputError(
                f"this asks for {pairs:,} read pairs; at most {max_pairs:,} are sequenced at "
                "a time (a gene panel at clinical depth is far fewer): lower depth or regions"
            )
    windows = _read_windows(cohort, regions, params, [person_id])
    return _gzipped_pair(cohort, person_id, label or person_id, windows, params)


def read_parameters(
    *,
    seed,
    depth=30.0,
    read_length=150,
    insert_mean=300,
    insert_sd=60,
    error_rate=0.001,
    indel_error_rate=1e-5,
    duplicate_rate=0.03,
    adapter=DEFAULT_ADAPTER,
    **unknown,
) -> dict:
    """The read options, checked and made plain (:class:`InputError` names one out of range)."""
    if unknown:
        raise InputError(
            f"unknown read option(s) {', '.join(sorted(unknown))}; the options are depth, "
            "read_length, insert_mean, insert_sd, error_rate, indel_error_rate, "
            "duplicate_rate, adapter and seed"
        )
    _check_number("depth", depth, 0, lo_open=True)
    _check_number("read_length", read_length, 20, 1000, integer=True)
    _check_number("insert_mean", insert_mean, MIN_INSERT)
    _check_number("insert_sd", insert_sd, 0)
    _check_number("error_rate", error_rate, 1e-5, 0.5)
    _check_number("indel_error_rate", indel_error_rate, 0, 0.05)
    _check_number("duplicate_rate", duplicate_rate, 0, 0.9)
    _check_number("seed", seed, 0, integer=True)
    if not isinstance(adapter, str) or not _BASES_RE.match(adapter.upper()):
        raise InputError(f"adapter must be a DNA sequence such as {DEFAULT_ADAPTER!r}")
    return {
        "depth": float(depth),
        "read_length": int(read_length),
        "insert_mean": float(insert_mean),
        "insert_sd": float(insert_sd),
        "error_rate": float(error_rate),
        "indel_error_rate": float(indel_error_rate),
        "duplicate_rate": float(duplicate_rate),
        "adapter": adapter.upper(),
        "seed": int(seed),
    }


def _is_session(source) -> bool:
    """Whether ``source`` is a session (in process or remote), whose ``reads`` sequence people."""
    return callable(getattr(source, "reads", None)) and callable(getattr(source, "decision", None))


def plain_regions(regions) -> list:
    """Regions as plain values (symbols, ``[contig, start, end]``), for a session's call."""
    if isinstance(regions, str | tuple):
        regions = [regions]
    try:
        return [r if isinstance(r, str) else [str(r[0]), int(r[1]), int(r[2])] for r in regions]
    except (TypeError, ValueError, IndexError, KeyError):
        raise InputError(
            f"regions must be a list of gene symbols or (contig, start, end) tuples, "
            f"got {regions!r}"
        ) from None


def _read_windows(cohort, regions, params, person_ids) -> list[dict]:
    parsed = _parse_regions(cohort, regions)
    genomes = cohort.genomes(person_ids)
    flank = int(params["insert_mean"] + 3 * params["insert_sd"])
    return [_window(cohort, *w, genomes) for w in _windows(cohort, parsed, flank)]


def _gzipped_pair(cohort, person_id, label, windows, params) -> tuple[bytes, bytes]:
    # Each person has a generator of their own: the same seed gives the same reads, whoever
    # else is sequenced with them and whether they are made here or by the service.
    rng = np.random.default_rng([params["seed"], zlib.crc32(person_id.encode())])
    names, r1, q1, r2, q2 = _person_reads(cohort, person_id, label, windows, params, rng)
    return _gzip(_fastq_records(names, r1, q1)), _gzip(_fastq_records(names, r2, q2))
