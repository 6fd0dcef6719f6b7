"""Gene models from real annotation files: Ensembl and GENCODE GFF3 and GTF.

:func:`read_gene_models` reads a GFF3 or GTF file (plain or gzipped) into the workbench's
:class:`~workbench.genome.reference.Gene` / ``Transcript`` models; :func:`load_reference`
pairs it with a FASTA into a :class:`~workbench.genome.reference.Reference` the annotator
takes. Lines are parsed by gffutils' ``DataIterator`` (a kept parser for both dialects: it
infers GFF3 or GTF per line and keeps repeated attributes, such as GTF's several ``tag``
entries, as lists; pyranges keeps only the last of them). No database is built, so a whole
human annotation streams through in one pass.

What is read
------------
* Transcripts: GFF3 features that are the ``Parent`` of exons (``mRNA``, ``transcript``,
  ``lnc_RNA`` …) or GTF ``transcript_id`` groups; their genes from ``Parent``/``gene_id``;
  symbols from ``Name``/``gene_name``. Several transcripts per gene are kept, each annotated.
* Flags: ``canonical`` from the tag ``Ensembl_canonical`` (or the cohort's own ``canonical``),
  ``mane_select`` from ``MANE_Select``; GENCODE's ``ENST….N`` versions are split off.
* The coding sequence from ``CDS`` features, extended over ``stop_codon`` features (GTF and
  GENCODE leave the stop codon out of the CDS, Ensembl GFF3 does too); with the sequence at
  hand, a CDS that stops short of its stop codon by exactly one codon is extended as well.

What is refused, one reason per transcript (:attr:`GeneModels.refused`)
-----------------------------------------------------------------------
Non-coding transcripts (no CDS: ``lncRNA``, ``processed_transcript`` …) are read with their
biotype and annotated as VEP does (``non_coding_transcript_exon_variant``, ``intron_variant``
and the splice terms, HGVS ``n.``). The annotator models complete transcripts, so these are
refused rather than annotated wrongly: incomplete CDS (tags ``cds_start_NF``, ``cds_end_NF``,
``mRNA_start_NF``, ``mRNA_end_NF``, or a CDS without ATG, stop codon or whole codons),
selenoproteins (a ``Selenocysteine`` /
``stop_codon_redefined_as_selenocysteine`` feature or the tag ``seleno``: their in-frame TGA
would read as a stop), and transcripts whose CDS lies outside their exons or whose contig the
FASTA lacks. A gene with no transcript left is left out.

References
----------
The GFF3 specification (Sequence Ontology, v1.26); Ensembl's GTF/GFF3 README (tags,
biotypes); Frankish A et al. (2019) GENCODE reference annotation. Nucleic Acids Res
47:D766 (MANE, ``cds_start_NF``).
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from itertools import pairwise
from pathlib import Path

from ..errors import CohortFormatError, InputError
from ._sequence import STOP_CODONS, reverse_complement
from .reference import Gene, Reference, Transcript

__all__ = [
    "GeneModels",
    "cohort_gff3",
    "load_reference",
    "read_cohort_gff3",
    "read_gene_models",
]

_SOURCE = "workbench"  # column 2 of the rows a cohort's genes.gff3 holds
_INCOMPLETE_TAGS = ("cds_start_NF", "cds_end_NF", "mRNA_start_NF", "mRNA_end_NF")
_SELENO_FEATURES = ("Selenocysteine", "stop_codon_redefined_as_selenocysteine")
_EXON_LIKE = {"exon", "CDS", "five_prime_UTR", "three_prime_UTR", "UTR", "start_codon",
              "stop_codon", *_SELENO_FEATURES}  # fmt: skip


@dataclass(frozen=True)
class GeneModels:
    """Genes read from an annotation file, and the transcripts refused with their reasons.

    Attributes
    ----------
    genes : tuple of Gene
        Genes with at least one accepted transcript (canonical / MANE first).
    refused : tuple of (str, str)
        ``(transcript_id, reason)`` for every transcript left out.
    source : str
        ``"gff3"`` or ``"gtf"``.
    """

    genes: tuple[Gene, ...]
    refused: tuple[tuple[str, str], ...] = ()
    source: str = "gff3"

    @property
    def n_transcripts(self) -> int:
        return sum(len(g.transcripts) for g in self.genes)

    def summary(self) -> str:
        return (
            f"{len(self.genes)} genes, {self.n_transcripts} transcripts annotated, "
            f"{len(self.refused)} transcripts refused"
        )


@dataclass
class _Tx:
    transcript_id: str
    gene_id: str
    contig: str = ""
    strand: str = "+"
    attrs: dict = field(default_factory=dict)
    exons: list = field(default_factory=list)
    cds: list = field(default_factory=list)
    stops: list = field(default_factory=list)
    seleno: bool = False
    kind: str = ""  # the GFF3 feature type, or the GTF source column (old Ensembl: biotype)


def _first(attrs: Mapping, *keys: str, default: str | None = None) -> str | None:
    for k in keys:
        v = attrs.get(k)
        if v:
            return v[0]
    return default


def _strip_prefix(value: str) -> str:
    """Ensembl GFF3 ids carry a type prefix (``transcript:ENST…``, ``gene:ENSG…``)."""
    head, sep, tail = value.partition(":")
    return tail if sep and head in ("gene", "transcript", "CDS", "exon") else value


#: Stable ids whose ``.N`` suffix is a version (Ensembl of any species, RefSeq); elsewhere a
#: suffix may be part of the name (WormBase's ``C41D11.1a.1`` and ``C41D11.1a.2``).
_VERSIONED = re.compile(r"ENS[A-Z]*[TG]\d+|[NX][MR]_\d+")


def _split_version(tid: str, attrs: Mapping) -> tuple[str, int]:
    version = _first(attrs, "version", "transcript_version")
    base, dot, suffix = tid.rpartition(".")
    if version is None and dot and suffix.isdigit() and _VERSIONED.fullmatch(base):
        return base, int(suffix)
    try:
        return tid, int(version or 1)
    except ValueError:
        return tid, 1


def _features(path: Path):
    try:
        from gffutils.iterators import DataIterator
    except ImportError as e:  # pragma: no cover - a declared dependency
        raise InputError("gffutils is not installed; `pip install gffutils`") from e
    try:
        yield from DataIterator(str(path))
    except (ValueError, IndexError, KeyError, UnicodeDecodeError, OSError, EOFError) as e:
        raise CohortFormatError(
            f"{path} is not a readable GFF3 or GTF file ({type(e).__name__}: {e}); check it is "
            "tab-separated with 9 columns",
            path=path,
        ) from e


def read_gene_models(
    path: str | os.PathLike, *, sequences: Mapping[str, str] | None = None
) -> GeneModels:
    """Read genes and transcripts from a GFF3 or GTF file.

    Parameters
    ----------
    path
        ``.gff3``, ``.gff``, ``.gtf``, optionally gzipped; the dialect is read from the lines.
    sequences
        Contig sequences (upper case). With them, each coding sequence is checked (ATG, whole
        codons, a stop codon at the end and none before) and refused when it fails.

    Returns
    -------
    GeneModels

    Raises
    ------
    CohortFormatError
        When the file is missing, not GFF3/GTF, or holds no transcript at all.
    """
    path = Path(path)
    if not path.is_file():
        raise CohortFormatError(f"{path} does not exist; pass a GFF3 or GTF file", path=path)
    genes: dict[str, dict] = {}
    txs: dict[str, _Tx] = {}
    rows: list[tuple] = []  # GFF3 child rows kept until all transcripts are known
    source = None
    for f in _features(path):
        fmt = (f.dialect or {}).get("fmt", "gff3")
        source = source or fmt
        attrs = dict(f.attributes)
        kind = f.featuretype
        if fmt == "gtf":
            gid = _first(attrs, "gene_id")
            tid = _first(attrs, "transcript_id")
            if kind == "gene" or (gid and not tid):
                genes.setdefault(gid, {"attrs": attrs, "span": (f.start, f.end)})
                continue
            if not tid:
                continue
            t = txs.setdefault(tid, _Tx(tid, gid or tid, f.seqid, f.strand, kind=f.source))
            if kind == "transcript":
                t.attrs = attrs
            else:
                t.attrs = t.attrs or attrs
            _add_part(t, kind, f)
            genes.setdefault(gid or tid, {"attrs": attrs, "span": None})
        else:
            fid = _first(attrs, "ID")
            if kind == "gene" or (fid or "").startswith("gene:"):
                genes[fid] = {"attrs": attrs, "span": (f.start, f.end)}
            if kind in _EXON_LIKE:
                for parent in attrs.get("Parent", []):
                    rows.append((parent, kind, f))
            elif fid is not None and attrs.get("Parent"):
                txs[fid] = _Tx(fid, attrs["Parent"][0], f.seqid, f.strand, attrs, kind=kind)
    if source != "gtf":
        for parent, kind, f in rows:
            t = txs.get(parent)
            if t is None:  # exons directly under a gene (some GFF3 writers): one transcript
                t = txs.setdefault(parent, _Tx(parent, parent, f.seqid, f.strand, {}))
            _add_part(t, kind, f)
    # A child feature with neither exons nor an RNA/transcript type is no transcript
    # (FlyBase's `intron` rows carry an ID and a Parent too).
    txs = {
        k: t
        for k, t in txs.items()
        if t.exons or t.cds or (source != "gtf" and t.kind.endswith(("RNA", "transcript")))
    }
    if not txs:
        raise CohortFormatError(
            f"{path} holds no transcript (no exon with a transcript parent); is it a GFF3 or "
            "GTF gene annotation?",
            path=path,
        )
    accepted: dict[str, list[Transcript]] = defaultdict(list)
    refused: list[tuple[str, str]] = []
    for t in txs.values():
        gene_attrs = genes.get(t.gene_id, {}).get("attrs", {})
        result = _transcript(t, gene_attrs, sequences)
        if isinstance(result, str):
            refused.append((_strip_prefix(t.transcript_id), result))
        else:
            accepted[t.gene_id].append(result)
    out = []
    for gid, transcripts in accepted.items():
        info = genes.get(gid, {"attrs": {}, "span": None})
        transcripts.sort(
            key=lambda x: (not x.mane_select, not x.canonical, not x.coding, x.transcript_id)
        )
        span = info["span"] or (
            min(x.start for x in transcripts),
            max(x.end for x in transcripts),
        )
        first = transcripts[0]
        out.append(
            Gene(
                gene_id=first.gene_id,
                symbol=first.gene,
                contig=first.contig,
                strand=first.strand,
                start=min(span[0], *(x.start for x in transcripts)),
                end=max(span[1], *(x.end for x in transcripts)),
                transcripts=tuple(transcripts),
            )
        )
    out.sort(key=lambda g: (g.contig, g.start, g.gene_id))
    return GeneModels(tuple(_unique(out, refused)), tuple(refused), source or "gff3")


def _unique(genes: list[Gene], refused: list[tuple[str, str]]) -> list[Gene]:
    """Genes whose symbol and transcript ids no earlier gene (in genome order) uses; the
    transcripts of the others are refused with the reason (real files reuse names such as
    ``Y_RNA``, and a PAR gene appears on X and Y)."""
    symbols: dict[str, str] = {}
    tids: dict[str, str] = {}
    out = []
    for g in genes:
        clash = symbols.get(g.symbol)
        if clash is None:
            clash = next((tids[t.transcript_id] for t in g.transcripts if t.transcript_id in tids),
                         None)  # fmt: skip
            what = "a transcript id"
        else:
            what = f"the gene symbol {g.symbol}"
        if clash is not None:
            refused += [(t.transcript_id, f"{what} of gene {g.gene_id} is already used by gene "
                         f"{clash}; the first in genome order is kept")
                        for t in g.transcripts]  # fmt: skip
            continue
        symbols[g.symbol] = g.gene_id
        tids.update((t.transcript_id, g.gene_id) for t in g.transcripts)
        out.append(g)
    return out


def _add_part(t: _Tx, kind: str, f) -> None:
    segment = (int(f.start), int(f.end))
    if kind == "exon":
        t.exons.append(segment)
    elif kind == "CDS":
        t.cds.append(segment)
    elif kind == "stop_codon":
        t.stops.append(segment)
    elif kind in _SELENO_FEATURES:
        t.seleno = True


def _transcript(t: _Tx, gene_attrs: Mapping, sequences) -> Transcript | str:
    """A Transcript, or the reason it is refused."""
    a = t.attrs or {}
    tags = set(a.get("tag", []))
    biotype = _first(a, "biotype", "transcript_biotype", "transcript_type") or (
        "protein_coding" if t.cds else (t.kind or "unknown")
    )
    if not t.exons:
        if not t.cds:
            return "no exon features"
        t.exons = list(t.cds)  # some files give only CDS rows for single-exon transcripts
    incomplete = sorted(tags.intersection(_INCOMPLETE_TAGS))
    if incomplete:
        return f"incomplete CDS (tag {', '.join(incomplete)}): the start or end was not found"
    if t.seleno or "seleno" in tags:
        return "selenoprotein: its in-frame TGA (selenocysteine) would read as a stop codon"
    exons = tuple(sorted(set(t.exons)))
    if any(b[0] <= a[1] for a, b in pairwise(exons)):
        return "overlapping exons"
    coding = sorted(t.cds + t.stops)
    cds_start, cds_end = (coding[0][0], coding[-1][1]) if t.cds else (None, None)
    if t.cds and not (
        any(s <= cds_start <= e for s, e in exons) and any(s <= cds_end <= e for s, e in exons)
    ):
        return "CDS outside the exons"
    tid, version = _split_version(_strip_prefix(t.transcript_id), a)
    gid = _strip_prefix(t.gene_id)
    symbol = (
        _first(gene_attrs, "Name", "gene_name")
        or _first(a, "gene_name", "Name")
        or _strip_prefix(_first(gene_attrs, "gene_id", "ID") or gid)
    )
    model = Transcript(
        transcript_id=tid,
        name=_first(a, "Name", "transcript_name") or tid,
        gene_id=gid.rpartition(".")[0] if gid.rpartition(".")[2].isdigit() else gid,
        gene=symbol,
        contig=t.contig,
        strand=t.strand,
        exons=exons,
        cds_start=cds_start,
        cds_end=cds_end,
        version=version,
        canonical=bool(tags & {"Ensembl_canonical", "canonical"}),
        mane_select="MANE_Select" in tags,
        biotype=biotype if t.cds else (biotype if biotype != "protein_coding" else "unknown"),
    )
    if sequences is not None:
        return _checked(model, sequences)
    return model


def _checked(t: Transcript, sequences: Mapping[str, str]) -> Transcript | str:
    """``t`` with its CDS made to end on its stop codon, or why it cannot be annotated."""
    seq = sequences.get(t.contig)
    if seq is None:
        return f"contig {t.contig!r} is not in the FASTA"
    if t.end > len(seq):
        return f"ends at {t.end}, beyond {t.contig} ({len(seq)} bases)"
    if not t.coding:
        return t
    cds = _cds(t, seq)
    if cds[-3:] not in STOP_CODONS and len(cds) % 3 == 0:
        # The stop codon may lie outside the CDS features (GTF convention, no stop_codon row).
        longer = (
            replace(t, cds_end=t.cds_end + 3)
            if t.strand == "+"
            else replace(t, cds_start=t.cds_start - 3)
        )
        if (
            longer.exons[0][0] <= longer.cds_start
            and longer.cds_end <= longer.exons[-1][1]
            and _cds(longer, seq)[-3:] in STOP_CODONS
        ):
            t, cds = longer, _cds(longer, seq)
    try:
        Reference({t.contig: seq}, [Gene(t.gene_id, t.gene, t.contig, t.strand, t.start, t.end,
                                         (t,))])  # fmt: skip
    except InputError as e:
        return str(e).split(": ", 1)[-1]  # drop "transcript … of …", the row says it
    return t


def _cds(t: Transcript, seq: str) -> str:
    parts = "".join(seq[s - 1 : e] for s, e in t.cds_segments())
    return parts if t.strand == "+" else reverse_complement(parts)


def load_reference(
    fasta: str | os.PathLike, genes: str | os.PathLike
) -> tuple[Reference, GeneModels]:
    """A :class:`Reference` from a FASTA and a GFF3/GTF file, and the models read.

    Contigs of the FASTA that no gene touches are kept (variants there are intergenic).
    Transcripts that fail are listed in ``models.refused``, never annotated.

    Raises
    ------
    CohortFormatError
        When either file is missing or unreadable, or no transcript could be used.
    """
    import pysam

    fasta = Path(fasta)
    if not fasta.is_file():
        raise CohortFormatError(f"{fasta} does not exist; pass the reference FASTA", path=fasta)
    try:
        with pysam.FastaFile(str(fasta)) as fa:
            sequences = {name: fa.fetch(name).upper() for name in fa.references}
    except (OSError, ValueError) as e:
        raise CohortFormatError(
            f"{fasta} is not a readable FASTA ({e}); a bgzipped one needs `samtools faidx`",
            path=fasta,
        ) from e
    models = read_gene_models(genes, sequences=sequences)
    if not models.genes:
        reasons = sorted({r for _, r in models.refused})[:3]
        raise CohortFormatError(
            f"{genes}: none of its {len(models.refused)} transcripts can be annotated "
            f"({'; '.join(reasons)})",
            path=Path(genes),
        )
    try:
        reference = Reference(sequences, models.genes)
    except InputError as e:  # e.g. one transcript id used by two genes
        raise CohortFormatError(f"{genes}: {e}; fix the gene models", path=Path(genes)) from e
    return reference, models


# -- the cohort's own dialect: written by the generator, read strictly -------------------


def _gff_row(contig, kind, start, end, strand, phase, attrs) -> str:
    attr = ";".join(f"{k}={v}" for k, v in attrs)
    return "\t".join((contig, _SOURCE, kind, str(start), str(end), ".", strand, phase, attr))


_KIND_ORDER = {"mRNA": 1, "exon": 2, "five_prime_UTR": 3, "CDS": 4, "three_prime_UTR": 5}


def _transcript_rows(g: Gene, t: Transcript) -> list[tuple[int, int, str]]:
    parent = f"transcript:{t.transcript_id}"
    attrs = [
        ("ID", parent),
        ("Parent", f"gene:{g.gene_id}"),
        ("Name", t.name),
        ("biotype", "protein_coding"),
        ("transcript_id", t.transcript_id),
        ("version", str(t.version)),
    ]
    if t.canonical:
        attrs.append(("tag", "canonical"))
    rows = [(t.start, 1, _gff_row(t.contig, "mRNA", t.start, t.end, t.strand, ".", attrs))]
    n = len(t.exons)
    for i, (s, e) in enumerate(t.exons):
        rank = i + 1 if t.strand == "+" else n - i
        exon_id = f"{t.transcript_id}-E{rank}"
        rows.append(
            (
                s,
                2,
                _gff_row(
                    t.contig,
                    "exon",
                    s,
                    e,
                    t.strand,
                    ".",
                    [
                        ("ID", f"exon:{exon_id}"),
                        ("Parent", parent),
                        ("Name", exon_id),
                        ("rank", str(rank)),
                    ],
                ),
            )
        )
    # CDS phase: bases to skip at this segment's 5' end (transcript orientation) to reach
    # the next codon start.
    segs = t.cds_segments()
    ordered = segs if t.strand == "+" else segs[::-1]
    done = 0
    phases = {}
    for s, e in ordered:
        phases[(s, e)] = (3 - done % 3) % 3
        done += e - s + 1
    pid = t.protein_id or t.transcript_id
    for s, e in segs:
        rows.append(
            (
                s,
                4,
                _gff_row(
                    t.contig,
                    "CDS",
                    s,
                    e,
                    t.strand,
                    str(phases[(s, e)]),
                    [("ID", f"CDS:{pid}"), ("Parent", parent), ("protein_id", pid)],
                ),
            )
        )
    for kind, segments in (
        ("five_prime_UTR", t.utr5_segments()),
        ("three_prime_UTR", t.utr3_segments()),
    ):
        for s, e in segments:
            rows.append(
                (
                    s,
                    _KIND_ORDER[kind],
                    _gff_row(t.contig, kind, s, e, t.strand, ".", [("Parent", parent)]),
                )
            )
    return rows


def _parse_attributes(text: str) -> dict[str, str]:
    out = {}
    for part in text.strip().split(";"):
        if part:
            k, _, v = part.partition("=")
            out[k] = v
    return out


def read_cohort_gff3(path: Path) -> list[Gene]:
    """The gene models of a cohort's ``genes.gff3``, read strictly: any fault raises
    :class:`~workbench.errors.CohortFormatError` (a generated file has none to refuse)."""
    genes: dict[str, dict] = {}
    transcripts: dict[str, dict] = {}
    exons: dict[str, list] = {}
    cds: dict[str, list] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CohortFormatError(f"cannot read {path}: {e}", path=path) from e
    if not text.startswith("##gff-version 3"):
        raise CohortFormatError(
            f"{path} does not start with '##gff-version 3'; expected a GFF3 file", path=path
        )
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 9:
            raise CohortFormatError(
                f"{path}:{lineno}: expected 9 tab-separated columns, found {len(cols)}", path=path
            )
        contig, _, kind, start, end, _, strand, _, attr = cols
        try:
            start, end = int(start), int(end)
        except ValueError as e:
            raise CohortFormatError(f"{path}:{lineno}: bad coordinates", path=path) from e
        a = _parse_attributes(attr)
        if kind == "gene":
            genes[a["ID"]] = {"contig": contig, "strand": strand, "start": start, "end": end, **a}
        elif kind == "mRNA":
            transcripts[a["ID"]] = {"contig": contig, "strand": strand, **a}
        elif kind == "exon":
            exons.setdefault(a["Parent"], []).append((start, end))
        elif kind == "CDS":
            cds.setdefault(a["Parent"], []).append((start, end))
    by_gene: dict[str, list[Transcript]] = {gid: [] for gid in genes}
    for tid, t in transcripts.items():
        gid = t.get("Parent")
        if gid not in genes:
            raise CohortFormatError(f"{path}: transcript {tid} has no gene {gid}", path=path)
        if tid not in exons or tid not in cds:
            raise CohortFormatError(
                f"{path}: transcript {tid} needs exon and CDS features (only protein-coding "
                "transcripts are supported)",
                path=path,
            )
        g = genes[gid]
        coding = sorted(cds[tid])
        by_gene[gid].append(
            Transcript(
                transcript_id=t.get("transcript_id", tid.removeprefix("transcript:")),
                name=t.get("Name", tid),
                gene_id=g.get("gene_id", gid.removeprefix("gene:")),
                gene=g.get("Name", gid),
                contig=t["contig"],
                strand=t["strand"],
                exons=tuple(sorted(exons[tid])),
                cds_start=coding[0][0],
                cds_end=coding[-1][1],
                version=int(t.get("version", 1)),
                canonical="canonical" in t.get("tag", "").split(","),
            )
        )
    out = []
    for gid, g in genes.items():
        txs = sorted(by_gene[gid], key=lambda t: (not t.canonical, t.transcript_id))
        if not txs:
            raise CohortFormatError(f"{path}: gene {gid} has no mRNA", path=path)
        out.append(
            Gene(
                gene_id=g.get("gene_id", gid.removeprefix("gene:")),
                symbol=g.get("Name", gid),
                contig=g["contig"],
                strand=g["strand"],
                start=g["start"],
                end=g["end"],
                transcripts=tuple(txs),
            )
        )
    return out


def cohort_gff3(reference: Reference) -> str:
    """A reference's gene models as the GFF3 text a cohort's ``reference/genes.gff3`` holds
    (Ensembl-style: ``ID=gene:…``, ``ID=transcript:…``, ``biotype``; equal references give
    byte-identical text)."""
    lines = ["##gff-version 3"]
    lines += [f"##sequence-region {c} 1 {n}" for c, n in reference.contigs.items()]
    for g in reference.genes:
        rows = [
            (
                g.start,
                0,
                _gff_row(
                    g.contig,
                    "gene",
                    g.start,
                    g.end,
                    g.strand,
                    ".",
                    [
                        ("ID", f"gene:{g.gene_id}"),
                        ("Name", g.symbol),
                        ("biotype", "protein_coding"),
                        ("gene_id", g.gene_id),
                    ],
                ),
            )
        ]
        for t in g.transcripts:
            rows += _transcript_rows(g, t)
        rows.sort(key=lambda r: (r[0], r[1]))
        lines += [r[2] for r in rows]
        lines.append("###")
    return "\n".join(lines) + "\n"
