"""Annotate a VCF: consequences, population frequencies and clinical assertions as ``CSQ``.

:func:`annotate_vcf` adds to every record a VEP-style ``CSQ`` INFO field with one entry per
ALT allele and overlapping transcript (entries separated by ``,``, fields by ``|``)::

    Allele|Consequence|IMPACT|SYMBOL|Feature|BIOTYPE|HGVSc|HGVSp|CANONICAL|MANE_SELECT|AF|…|CLNREVSTAT

* ``Consequence`` … ``MANE_SELECT`` come from :func:`workbench.genome.annotate.annotate`
  (``BIOTYPE`` is the transcript's: ``protein_coding``, ``lncRNA`` …; several Sequence
  Ontology terms joined by ``&`` as VEP does; ``CANONICAL`` and
  ``MANE_SELECT`` are ``YES`` for the gene's canonical / MANE Select transcript, as VEP's
  flags, and every overlapping transcript has an entry);
* ``AF`` and ``AF_<POP>`` from the cohort's ``knowledge/population_frequencies`` (empty
  when the allele is not in the frequency table: a novel allele);
* ``CLNSIG`` and ``CLNREVSTAT`` from ``knowledge/clinical_assertions`` (empty when there is
  no assertion).

Without a cohort's knowledge (``knowledge=None``: real files annotated with
``workbench annotate``) the ``AF`` and ``CLN`` fields are left out. A record the annotator
cannot take (a REF that differs from the reference, an allele of other letters) is written
without ``CSQ`` and with ``CSQ_ERROR`` saying why; the rest of the file is annotated.

Characters that would break the field (space, ``,``, ``|``, ``;``, ``=``, ``%``) are
percent-encoded as VCF 4.3 recommends; :func:`read_csq` decodes them and adds the review
status's gold ``stars``.

References
----------
McLaren W et al. (2016) The Ensembl Variant Effect Predictor. Genome Biol 17:122 (the CSQ
field). Landrum MJ et al. (2018) ClinVar. Nucleic Acids Res 46:D1062 (review status, stars).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from ..errors import InputError, PipelineInputError
from .call import _open_vcf

__all__ = ["CSQ_FIELDS", "annotate_vcf", "csq_fields", "read_csq"]

#: ``CSQ`` sub-fields when the cohort's populations are NOR, MEN and SAS.
_TRANSCRIPT_FIELDS = (
    "Allele", "Consequence", "IMPACT", "SYMBOL", "Feature", "BIOTYPE", "HGVSc", "HGVSp",
    "CANONICAL", "MANE_SELECT",
)  # fmt: skip
CSQ_FIELDS = (
    *_TRANSCRIPT_FIELDS, "AF", "AF_NOR", "AF_MEN", "AF_SAS", "CLNSIG", "CLNREVSTAT",
)  # fmt: skip

_ENCODE = {"%": "%25", " ": "%20", ",": "%2C", "|": "%7C", ";": "%3B", "=": "%3D"}
_DESCRIPTION = "Consequence annotations from workbench. Format: "


def _encode(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    text = str(value)
    return "".join(_ENCODE.get(ch, ch) for ch in text)


def _decode(text: str) -> str:
    for ch, code in sorted(_ENCODE.items(), key=lambda kv: kv[0] == "%"):
        text = text.replace(code, ch)
    return text


def _populations(frequencies: pd.DataFrame) -> list[str]:
    return [c[3:] for c in frequencies.columns if c.startswith("af_")]


def csq_fields(knowledge) -> tuple[str, ...]:
    """The ``CSQ`` sub-fields for a cohort's knowledge (one ``AF_<POP>`` per population), or
    the transcript fields alone when ``knowledge`` is ``None``."""
    if knowledge is None:
        return _TRANSCRIPT_FIELDS
    pops = _populations(knowledge.frequencies)
    return (*_TRANSCRIPT_FIELDS, "AF", *(f"AF_{p}" for p in pops), "CLNSIG", "CLNREVSTAT")


def _af(value) -> str:
    if value is None or value != value:
        return ""
    return f"{float(value):.6g}"


def annotate_vcf(
    vcf: str | os.PathLike,
    *,
    reference,
    knowledge=None,
    out_vcf: str | os.PathLike,
    errors: list | None = None,
) -> Path:
    """Write ``vcf`` with a ``CSQ`` INFO field on every record, bgzipped and indexed.

    Parameters
    ----------
    vcf : path
        A VCF against ``reference`` (normalised calls from
        :func:`~workbench.pipeline.call.call_variants`). Symbolic and ``*`` alleles get no
        CSQ entry.
    reference : workbench.genome.Reference
        ``cohort.reference``.
    knowledge : workbench.synth.knowledge.Knowledge, optional
        ``cohort.knowledge`` (frequencies and clinical assertions, matched on the normalised
        spelling of each allele); ``None`` for consequences alone.
    out_vcf : path
        Output ``.vcf.gz``; the ``.tbi`` index is written beside it. Both appear only when
        complete.
    errors : list, optional
        Receives ``(contig, pos, ref, alt, reason)`` for every allele left unannotated
        (its record carries ``CSQ_ERROR``).

    Returns
    -------
    Path
        ``out_vcf``.

    Raises
    ------
    PipelineInputError
        The VCF is missing or unreadable.
    """
    vcf, out_vcf = Path(vcf), Path(out_vcf)
    if not str(out_vcf).endswith(".vcf.gz"):
        raise InputError(f"out_vcf must end with .vcf.gz, got {out_vcf}")
    if not vcf.is_file():
        raise PipelineInputError(f"VCF {vcf} does not exist", path=vcf)
    fields = csq_fields(knowledge)

    try:  # before anything is created: a bad input leaves no trace
        vin = _open_vcf(vcf)
    except (OSError, ValueError) as e:
        raise PipelineInputError(f"{vcf} is not a readable VCF ({e})", path=vcf) from e
    made = [p for p in (out_vcf.parent, *out_vcf.parent.parents) if not p.exists()]
    out_vcf.parent.mkdir(parents=True, exist_ok=True)
    try:
        _write_annotated(vin, out_vcf, vcf, fields, reference, knowledge, errors)
    except BaseException:
        for p in made:  # a failed call leaves no folder behind either
            with contextlib.suppress(OSError):
                p.rmdir()
        raise
    return out_vcf


def _write_annotated(vin, out_vcf: Path, vcf: Path, fields, reference, knowledge, errors):
    import pysam

    from ..genome.annotate import annotate
    from ..genome.normalize import normalize

    if knowledge is not None:
        freq = knowledge.frequencies
        pops = _populations(freq)
        freq_by = {
            (r.contig, int(r.position), r.ref, r.alt): r for r in freq.itertuples(index=False)
        }
        assertions = {
            (r.contig, int(r.position), r.ref, r.alt): r
            for r in knowledge.assertions.itertuples(index=False)
        }
    with tempfile.TemporaryDirectory(prefix=".annotate.", dir=out_vcf.parent) as tmp:
        staged = Path(tmp) / "out.vcf.gz"
        with vin:
            header = vin.header.copy()
            if "CSQ" in header.info:
                header.info.remove_header("CSQ")
            header.info.add("CSQ", ".", "String", _DESCRIPTION + "|".join(fields))
            if "CSQ_ERROR" not in header.info:
                header.info.add(
                    "CSQ_ERROR", ".", "String", "Why an allele has no CSQ (percent-encoded)"
                )
            with pysam.VariantFile(str(staged), "wz", header=header) as vout:
                done: set[str] = set()  # contigs whose records are behind us
                last = (None, 0)
                for rec in vin:
                    if rec.chrom != last[0]:
                        done.add(last[0])
                        if rec.chrom in done:
                            raise PipelineInputError(
                                f"{vcf} is not sorted: records of {rec.chrom} are split by "
                                f"other contigs; sort it first (`bcftools sort`)",
                                path=vcf,
                            )
                    elif rec.pos < last[1]:
                        raise PipelineInputError(
                            f"{vcf} is not sorted: {rec.chrom}:{rec.pos} comes after "
                            f"{rec.chrom}:{last[1]}; sort it first (`bcftools sort`)",
                            path=vcf,
                        )
                    last = (rec.chrom, rec.pos)
                    rec.translate(header)
                    entries, failed = [], []
                    for alt in rec.alts or ():
                        if alt.startswith("<") or alt == "*":
                            continue
                        try:
                            anns = annotate(reference, rec.chrom, rec.pos, rec.ref, alt)
                            seq = reference.sequence(rec.chrom)
                            key = (rec.chrom, *normalize(seq, rec.pos, rec.ref, alt))
                        except InputError as e:
                            failed.append(_encode(str(e)))
                            if errors is not None:
                                errors.append((rec.chrom, rec.pos, rec.ref, alt, str(e)))
                            continue
                        tail = []
                        if knowledge is not None:
                            f = freq_by.get(key)
                            a = assertions.get(key)
                            tail = [
                                _af(f.af) if f is not None else "",
                                *(
                                    _af(getattr(f, f"af_{p}")) if f is not None else ""
                                    for p in pops
                                ),
                                _encode(a.classification) if a is not None else "",
                                _encode(a.review_status) if a is not None else "",
                            ]
                        for ann in anns:
                            entries.append(
                                "|".join(
                                    [
                                        _encode(alt),
                                        "&".join(ann.consequences),
                                        ann.impact,
                                        _encode(ann.gene),
                                        _encode(ann.transcript),
                                        _encode(ann.biotype),
                                        _encode(ann.hgvs_c),
                                        _encode(ann.hgvs_p),
                                        "YES" if ann.canonical else "",
                                        "YES" if ann.mane_select else "",
                                        *tail,
                                    ]
                                )
                            )
                    if entries:
                        rec.info["CSQ"] = tuple(entries)
                    if failed:
                        rec.info["CSQ_ERROR"] = tuple(failed)
                    vout.write(rec)
        pysam.tabix_index(str(staged), preset="vcf", force=True)
        os.replace(staged, out_vcf)
        shutil.move(str(staged) + ".tbi", str(out_vcf) + ".tbi")


def read_csq(vcf: str | os.PathLike, *, pass_only: bool = False) -> pd.DataFrame:
    """The ``CSQ`` entries of an annotated VCF as a table, one row per allele and transcript.

    Columns: ``contig, pos, ref, alt, filter`` then the CSQ sub-fields named in the header
    (``Consequence`` holds the most severe term; all terms are in ``consequences``), with
    ``AF*`` as floats (NaN when absent), empty strings as ``None`` and ``stars`` (gold stars
    of ``CLNREVSTAT``, ``-1`` without an assertion).
    """

    from ..synth.knowledge import REVIEW_STARS

    vcf = Path(vcf)
    if not vcf.is_file():
        raise PipelineInputError(f"VCF {vcf} does not exist", path=vcf)
    with _open_vcf(vcf) as f:
        if "CSQ" not in f.header.info:
            raise PipelineInputError(
                f"{vcf} has no CSQ INFO field; annotate it with annotate_vcf first", path=vcf
            )
        desc = f.header.info["CSQ"].description
        fields = desc.split("Format: ", 1)[-1].strip().split("|")
        rows = []
        for rec in f:
            filt = ";".join(rec.filter.keys()) or "."
            if pass_only and filt != "PASS":
                continue
            for entry in rec.info.get("CSQ", ()):
                values = [_decode(v) for v in entry.split("|")]
                rows.append([rec.chrom, rec.pos, rec.ref, values[0], filt, *values])
    df = pd.DataFrame(rows, columns=["contig", "pos", "ref", "alt", "filter", *fields])
    df["consequences"] = df["Consequence"].str.split("&")
    df["Consequence"] = df["consequences"].str[0]
    for col in fields:
        if col == "AF" or col.startswith("AF_"):
            df[col] = pd.to_numeric(df[col].replace("", None), errors="coerce").astype(float)
        elif col not in ("Allele", "Consequence"):
            df[col] = df[col].where(df[col] != "", None)
    if "CLNREVSTAT" in df:
        df["stars"] = df["CLNREVSTAT"].map(REVIEW_STARS).fillna(-1).astype(int)
    return df
