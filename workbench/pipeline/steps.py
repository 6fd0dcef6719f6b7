"""Composable, cached pipeline steps: from a family's genomes to an annotated, truth-checked VCF.

A :class:`Step` declares its input files, its parameters and the files it writes, and a
function that does the work. :func:`run_step` runs it in a temporary folder that replaces
``<out_dir>/<step>/`` only when the step succeeded, and writes a provenance sidecar
(``provenance.json``, :func:`workbench.provenance.record`) beside the outputs. The next time,
a step whose cache key is unchanged and whose outputs still have the recorded checksums is
not run again::

    cache key = sha256( sha256 of every input file, by name
                        + canonical JSON of the parameters
                        + the workbench version )

:func:`run_pipeline` chains the steps of one family (``simulate_reads → trim → align → call
→ compare``, ``call → annotate``; ``qc`` reports on the raw reads)::

    out_dir/
      simulate_reads/  <person>_R1.fastq.gz, <person>_R2.fastq.gz
      qc/              <person>.json                       (raw-read QC)
      trim/            <person>_R1.fastq.gz, …, <person>.json (trimming report)
      align/           <person>.bam(.bai), coverage.tsv
      call/            family.vcf.gz(.tbi), regions.bed
      compare/         metrics.json, misses.tsv, truth.vcf.gz(.tbi)
      annotate/        family.annotated.vcf.gz(.tbi)

Caching is by content: a step reruns when its parameters or the bytes of its inputs changed,
so changing a caller option reruns ``call`` and whatever reads the VCF, never the alignment.
The genomes enter as ``cohort.json``, the cohort's name and version (a digest of its
manifest), so reads are made again when the cohort changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputError, PipelineInputError
from ..genome.reference import fasta_path
from ..io import atomic_dir, atomic_file, file_sha256, write_json
from .compare import public_parts

__all__ = [
    "STEPS",
    "PipelineResult",
    "Step",
    "StepResult",
    "cache_key",
    "run_pipeline",
    "run_step",
]

#: Step names in the order :func:`run_pipeline` runs them.
STEPS = ("simulate_reads", "qc", "trim", "align", "call", "compare", "annotate")
#: What each step needs before it can run.
_NEEDS = {
    "simulate_reads": (),
    "qc": ("simulate_reads",),
    "trim": ("simulate_reads",),
    "align": ("trim",),
    "call": ("align",),
    "compare": ("align", "call"),
    "annotate": ("call",),
}
PROVENANCE = "provenance.json"


def _version() -> str:
    from .. import __version__

    return __version__


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


@dataclass(frozen=True)
class Step:
    """One pipeline step.

    Attributes
    ----------
    name : str
        Also the name of its folder under the output folder.
    run : callable
        ``run(folder, inputs, params)`` writes every file named in ``outputs`` into
        ``folder`` (a temporary folder; the runner renames it into place).
    inputs : mapping of str to Path
        Input files by role; their checksums enter the cache key.
    params : mapping
        JSON-serialisable parameters; they enter the cache key.
    outputs : tuple of str
        File names (relative to the step folder) the step promises to write.
    """

    name: str
    run: Callable[[Path, Mapping[str, Path], Mapping[str, Any]], None]
    inputs: Mapping[str, Path]
    params: Mapping[str, Any]
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class StepResult:
    """What :func:`run_step` did: the outputs, and whether they came from the cache."""

    name: str
    folder: Path
    outputs: dict[str, Path]
    cached: bool
    cache_key: str
    seconds: float


def cache_key(inputs: Mapping[str, os.PathLike], params: Mapping[str, Any]) -> str:
    """The cache key of a step: sha256 over input checksums, parameters and version."""
    h = hashlib.sha256()
    for role in sorted(inputs):
        path = Path(inputs[role])
        if not path.is_file():
            raise PipelineInputError(
                f"input {role!r} of the step is missing: {path}; run the step that makes it",
                path=path,
            )
        h.update(f"{role}\0{file_sha256(path)}\n".encode())
    h.update(_canonical(dict(params)).encode())
    h.update(f"\0workbench {_version()}".encode())
    return h.hexdigest()


def _is_current(folder: Path, key: str, outputs: Sequence[str]) -> bool:
    sidecar = folder / PROVENANCE
    if not sidecar.is_file():
        return False
    try:
        rec = json.loads(sidecar.read_text(encoding="utf-8"))
        recorded = rec["parameters"]["cache_key"], rec["parameters"]["outputs"]
    except (ValueError, KeyError, TypeError):
        return False
    if recorded[0] != key or sorted(recorded[1]) != sorted(outputs):
        return False
    return all(
        (folder / name).is_file() and file_sha256(folder / name) == digest
        for name, digest in recorded[1].items()
    )


def run_step(step: Step, *, out_dir: str | os.PathLike, force: bool = False) -> StepResult:
    """Run ``step`` into ``out_dir/<step.name>/`` unless its outputs are current.

    Parameters
    ----------
    step : Step
    out_dir : path
        The pipeline's output folder.
    force : bool
        Run even when the cache says the outputs are current.

    Returns
    -------
    StepResult
        ``cached`` is True when the step was not run.

    Raises
    ------
    PipelineInputError
        An input file is missing, or the step did not write an output it declared.
    """
    from ..provenance import record

    folder = Path(out_dir) / step.name
    key = cache_key(step.inputs, step.params)
    t0 = time.perf_counter()
    if not force and _is_current(folder, key, step.outputs):
        outputs = {name: folder / name for name in step.outputs}
        return StepResult(step.name, folder, outputs, True, key, time.perf_counter() - t0)
    with atomic_dir(folder, force=True) as tmp:
        step.run(tmp, dict(step.inputs), dict(step.params))
        missing = [name for name in step.outputs if not (tmp / name).is_file()]
        if missing:
            raise PipelineInputError(
                f"step {step.name!r} did not write {', '.join(missing)}", path=folder
            )
        rec = record(
            f"workbench pipeline {step.name}",
            {
                "step": step.name,
                "cache_key": key,
                "step_parameters": json.loads(_canonical(dict(step.params))),
                "inputs": {role: file_sha256(p) for role, p in sorted(step.inputs.items())},
                "outputs": {name: file_sha256(tmp / name) for name in sorted(step.outputs)},
            },
        )
        write_json(tmp / PROVENANCE, rec)
    outputs = {name: folder / name for name in step.outputs}
    return StepResult(step.name, folder, outputs, False, key, time.perf_counter() - t0)


# -- the family pipeline ------------------------------------------------------------------------


@dataclass(frozen=True)
class PipelineResult:
    """The steps :func:`run_pipeline` ran (or reused) for one family.

    Attributes
    ----------
    family : str
    members : list of str
        Person ids, in VCF sample order.
    out_dir : Path
    steps : dict of str to StepResult
        In run order.
    """

    family: str
    members: list[str]
    out_dir: Path
    steps: dict[str, StepResult] = field(default_factory=dict)

    def _out(self, step: str, name: str) -> Path:
        if step not in self.steps:
            raise InputError(f"step {step!r} was not run; add it to steps=")
        return self.steps[step].outputs[name]

    @property
    def ran(self) -> list[str]:
        """Steps that ran this time."""
        return [n for n, r in self.steps.items() if not r.cached]

    @property
    def cached(self) -> list[str]:
        """Steps whose outputs were reused."""
        return [n for n, r in self.steps.items() if r.cached]

    @property
    def bams(self) -> dict[str, Path]:
        return {p: self._out("align", f"{p}.bam") for p in self.members}

    @property
    def vcf(self) -> Path:
        """The filtered calls (``call/family.vcf.gz``)."""
        return self._out("call", "family.vcf.gz")

    @property
    def annotated_vcf(self) -> Path:
        return self._out("annotate", "family.annotated.vcf.gz")

    @property
    def regions(self) -> Path:
        return self._out("call", "regions.bed")

    def metrics(self) -> dict:
        """Precision, recall, F1, concordance by variant type (``compare/metrics.json``)."""
        return json.loads(self._out("compare", "metrics.json").read_text(encoding="utf-8"))

    def misses(self) -> pd.DataFrame:
        return pd.read_csv(self._out("compare", "misses.tsv"), sep="\t")

    def coverage(self) -> pd.DataFrame:
        return pd.read_csv(self._out("align", "coverage.tsv"), sep="\t")

    def timings(self) -> dict[str, float]:
        """Wall seconds of each step this time (near zero when cached)."""
        return {n: r.seconds for n, r in self.steps.items()}


def _jsonable(obj):
    """Reports of other steps as plain JSON (dicts, dataclasses, DataFrames, paths)."""
    import dataclasses

    import numpy as np

    if isinstance(obj, pd.DataFrame):
        return json.loads(obj.to_json(orient="records"))
    if isinstance(obj, pd.Series):
        return _jsonable(obj.to_dict())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _jsonable(dataclasses.asdict(obj))
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return obj.name
    return obj


def _members(cohort, family: str) -> tuple[list[str], dict[str, str]]:
    samples = cohort.samples()
    fam = samples[samples["family_id"] == family]
    if fam.empty:
        known = sorted(samples["family_id"].dropna().unique())
        raise InputError(
            f"unknown family {family!r}; this cohort has {len(known)} families "
            f"({', '.join(known[:5])}{', …' if len(known) > 5 else ''})"
        )
    order = {"father": 0, "mother": 1, "proband": 2, "sibling": 3}
    fam = fam.assign(_o=fam["role"].map(order).fillna(9)).sort_values(["_o", "person_id"])
    sexes = {
        p: ("M" if s == "male" else "F") for p, s in zip(fam["person_id"], fam["sex"], strict=True)
    }
    return fam["person_id"].tolist(), sexes


def _source_file(parts, out_dir: Path) -> Path:
    """A file naming the cohort's contents, the steps' input for "the genomes": when the cohort
    changes, the reads (and all that follows) are made again."""
    path = out_dir / "cohort.json"
    text = json.dumps({"cohort": parts.name, "version": parts.version}, sort_keys=True) + "\n"
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        with atomic_file(path, "w") as f:
            f.write(text)
    return path


def _tq(iterable, desc: str, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, unit="person", disable=not progress, leave=False)


def run_pipeline(
    cohort,
    *,
    family: str,
    out_dir: str | os.PathLike,
    steps: Sequence[str] | None = None,
    genes: Sequence[str] | None = None,
    depth: float = 30.0,
    seed: int = 1,
    read_length: int = 150,
    error_rate: float = 0.001,
    duplicate_rate: float = 0.03,
    threads: int = 2,
    min_mapq: int = 20,
    min_baseq: int = 20,
    min_qual: float = 20.0,
    min_depth: int = 8,
    min_gq: int = 20,
    coverage_min_depth: int = 20,
    force: bool = False,
    progress: bool = True,
) -> PipelineResult:
    """Run the sequencing pipeline for one family, reusing every step that is current.

    Parameters
    ----------
    cohort : workbench.Cohort or session
        The cohort folder (in process), or a treatment session of a clinician whose care
        covers the family (in process or through the data-access service): then the session
        sequences each member (:meth:`~workbench.access.session.Session.reads`) and gives the
        genomes the calls are scored against, each an audited call, and the reference and
        knowledge bases are the cohort's public parts.
    family : str
        Family id (``"F0001"``); every member the cohort, or the session, shows is sequenced.
    out_dir : path
        Output folder (one sub-folder per step, see the module docstring).
    steps : sequence of str, optional
        Steps to bring up to date (default: all of :data:`STEPS`). The steps they depend on
        are brought up to date too (from the cache when unchanged); ``["call"]`` therefore
        also checks ``simulate_reads``, ``trim`` and ``align``.
    genes : sequence of str, optional
        Genes to sequence and call (default: every gene of the reference).
    depth, seed, read_length, error_rate, duplicate_rate
        Read simulation (:func:`workbench.synth.reads.simulate_reads`).
    threads : int
        Alignment threads.
    min_mapq, min_baseq, min_qual, min_depth, min_gq
        Caller options (:func:`workbench.pipeline.call.call_variants`).
    coverage_min_depth : int
        Depth counted as covered in the per-gene coverage table.
    force : bool
        Rerun the selected steps even when current.
    progress : bool
        tqdm progress bars.

    Returns
    -------
    PipelineResult
    """
    from tqdm.auto import tqdm

    from .call import gene_regions

    wanted = list(STEPS) if steps is None else ([steps] if isinstance(steps, str) else list(steps))
    unknown = [s for s in wanted if s not in STEPS]
    if unknown:
        raise InputError(f"unknown step(s) {unknown}; choose from {', '.join(STEPS)}")
    if not wanted:
        raise InputError(f"steps is empty; choose from {', '.join(STEPS)}")
    todo = set()

    def need(s):
        if s not in todo:
            todo.add(s)
            for d in _NEEDS[s]:
                need(d)

    for s in wanted:
        need(s)
    _check_options(
        depth=depth, seed=seed, threads=threads, min_qual=min_qual, min_depth=min_depth,
        min_gq=min_gq, min_mapq=min_mapq, min_baseq=min_baseq,
        coverage_min_depth=coverage_min_depth,
    )  # fmt: skip
    members, sexes = _members(cohort, family)
    parts = public_parts(cohort)
    genes = None if genes is None else ([genes] if isinstance(genes, str) else list(genes))
    regions = gene_regions(parts.reference, genes)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ref_fa = fasta_path(parts.public_folder / "reference")
    manifest = _source_file(parts, out_dir)
    region_list = [list(r) for r in regions]
    result = PipelineResult(family=family, members=members, out_dir=out_dir)
    builders = _builders(
        cohort, parts, members=members, sexes=sexes, regions=regions, region_list=region_list,
        genes=genes, ref_fa=ref_fa, manifest=manifest, progress=progress,
        opts=dict(
            depth=float(depth), seed=int(seed), read_length=int(read_length),
            error_rate=float(error_rate), duplicate_rate=float(duplicate_rate),
            threads=int(threads), min_mapq=int(min_mapq), min_baseq=int(min_baseq),
            min_qual=float(min_qual), min_depth=int(min_depth), min_gq=int(min_gq),
            coverage_min_depth=int(coverage_min_depth),
        ),
    )  # fmt: skip
    order = [s for s in STEPS if s in todo]
    bar = tqdm(order, desc=f"pipeline {family}", unit="step", disable=not progress)
    for name in bar:
        bar.set_postfix_str(name)
        step = builders[name](result.steps)
        result.steps[name] = run_step(step, out_dir=out_dir, force=force and name in wanted)
    return result


def _check_options(*, depth, seed, threads, **at_least_zero) -> None:
    """Refuse out-of-range options before anything is written (each step checks them again
    at its own boundary, but only once the output folder exists)."""
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise InputError(f"threads must be a positive integer, got {threads!r}")
    if isinstance(depth, bool) or not isinstance(depth, int | float) or not depth > 0:
        raise InputError(f"depth must be > 0, got {depth!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"seed must be >= 0, got {seed!r}")
    for name, value in at_least_zero.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise InputError(f"{name} must be a number >= 0, got {value!r}")


def _builders(cohort, parts, *, members, sexes, regions, region_list, genes, ref_fa, manifest,
              progress, opts):  # fmt: skip
    """One function per step name: ``f(done_steps) -> Step``.

    ``cohort`` is where the genomes are read (a cohort, or a session), ``parts`` the cohort
    whose public parts (reference, knowledge) the steps use.
    """

    def simulate(done):
        params = {
            "members": members, "regions": region_list, "depth": opts["depth"],
            "seed": opts["seed"], "read_length": opts["read_length"],
            "error_rate": opts["error_rate"], "duplicate_rate": opts["duplicate_rate"],
        }  # fmt: skip

        def run(folder, inputs, p):
            from ..synth.reads import simulate_reads

            simulate_reads(
                cohort, person_ids=p["members"], regions=[tuple(r) for r in p["regions"]],
                out_dir=folder, depth=p["depth"], read_length=p["read_length"],
                error_rate=p["error_rate"], duplicate_rate=p["duplicate_rate"],
                seed=p["seed"], progress=progress,
            )  # fmt: skip

        outs = tuple(f"{m}_R{i}.fastq.gz" for m in members for i in (1, 2))
        return Step("simulate_reads", run, {"cohort": manifest}, params, outs)

    def reads_of(done, step):
        return {
            f"{m}_R{i}": done[step].outputs[f"{m}_R{i}.fastq.gz"] for m in members for i in (1, 2)
        }

    def qc(done):
        def run(folder, inputs, p):
            from .qc import read_qc

            for m in _tq(members, "read QC", progress):
                report = read_qc(inputs[f"{m}_R1"], inputs[f"{m}_R2"])
                write_json(folder / f"{m}.json", _jsonable(report))

        return Step(
            "qc", run, reads_of(done, "simulate_reads"), {"members": members},
            tuple(f"{m}.json" for m in members),
        )  # fmt: skip

    def trim(done):
        def run(folder, inputs, p):
            from .qc import trim as trim_reads

            for m in _tq(members, "trim", progress):
                work = folder / f".{m}"
                r1, r2, report = trim_reads(inputs[f"{m}_R1"], inputs[f"{m}_R2"], out_dir=work)
                os.replace(r1, folder / f"{m}_R1.fastq.gz")
                os.replace(r2, folder / f"{m}_R2.fastq.gz")
                write_json(folder / f"{m}.json", _jsonable(report))
                shutil.rmtree(work)

        outs = tuple(f"{m}{s}" for m in members for s in ("_R1.fastq.gz", "_R2.fastq.gz", ".json"))
        return Step("trim", run, reads_of(done, "simulate_reads"), {"members": members}, outs)

    def align_(done):
        inputs = {**reads_of(done, "trim"), "reference": ref_fa}
        params = {
            "members": members, "threads": opts["threads"], "genes": genes,
            "coverage_min_depth": opts["coverage_min_depth"],
        }  # fmt: skip

        def run(folder, inputs, p):
            from .align import align, coverage

            tables = []
            for m in _tq(members, "align", progress):
                bam = align(
                    inputs["reference"], inputs[f"{m}_R1"], inputs[f"{m}_R2"],
                    out_bam=folder / f"{m}.bam", sample=m, threads=p["threads"],
                )  # fmt: skip
                _ensure_bai(bam)
                cov = coverage(
                    bam, parts.reference, genes=p["genes"], min_depth=p["coverage_min_depth"]
                )
                tables.append(cov.assign(sample=m))
            table = pd.concat(tables, ignore_index=True)
            table.to_csv(folder / "coverage.tsv", sep="\t", index=False, float_format="%.6g")

        outs = (*(f"{m}.bam{s}" for m in members for s in ("", ".bai")), "coverage.tsv")
        return Step("align", run, inputs, params, outs)

    def bam_inputs(done):
        out = {}
        for m in members:
            out[f"{m}.bam"] = done["align"].outputs[f"{m}.bam"]
            out[f"{m}.bam.bai"] = done["align"].outputs[f"{m}.bam.bai"]
        return out

    def call(done):
        from .call import write_bed

        params = {
            "members": members, "sexes": sexes, "regions": region_list,
            **{k: opts[k] for k in ("min_mapq", "min_baseq", "min_qual", "min_depth", "min_gq")},
        }  # fmt: skip

        def run(folder, inputs, p):
            from .call import call_variants

            write_bed(regions, folder / "regions.bed")
            call_variants(
                inputs["reference"], [inputs[f"{m}.bam"] for m in members],
                out_vcf=folder / "family.vcf.gz", regions=regions, sexes=p["sexes"],
                min_mapq=p["min_mapq"], min_baseq=p["min_baseq"], min_qual=p["min_qual"],
                min_depth=p["min_depth"], min_gq=p["min_gq"],
            )  # fmt: skip

        return Step(
            "call", run, {**bam_inputs(done), "reference": ref_fa}, params,
            ("family.vcf.gz", "family.vcf.gz.tbi", "regions.bed"),
        )  # fmt: skip

    def compare(done):
        inputs = {
            **bam_inputs(done), "vcf": done["call"].outputs["family.vcf.gz"],
            "cohort": manifest,
        }  # fmt: skip
        params = {"members": members, "regions": region_list, "min_mapq": opts["min_mapq"]}

        def run(folder, inputs, p):
            from .compare import compare_calls

            result = compare_calls(
                inputs["vcf"], cohort, regions=regions, samples=members,
                bams={m: inputs[f"{m}.bam"] for m in members},
                truth_vcf=folder / "truth.vcf.gz", min_mapq=p["min_mapq"],
            )  # fmt: skip
            write_json(folder / "metrics.json", _nan_to_none(result.summary()))
            result.misses.to_csv(folder / "misses.tsv", sep="\t", index=False)

        return Step(
            "compare", run, inputs, params,
            ("metrics.json", "misses.tsv", "truth.vcf.gz", "truth.vcf.gz.tbi"),
        )  # fmt: skip

    def annotate(done):
        k = parts.public_folder / "knowledge"
        inputs = {
            "vcf": done["call"].outputs["family.vcf.gz"],
            "reference": ref_fa,
            "genes": parts.public_folder / "reference" / "genes.gff3",
            "frequencies": k / "population_frequencies.tsv.gz",
            "assertions": k / "clinical_assertions.tsv",
        }

        def run(folder, inputs, p):
            from .annotate import annotate_vcf

            annotate_vcf(
                inputs["vcf"], reference=parts.reference, knowledge=parts.knowledge,
                out_vcf=folder / "family.annotated.vcf.gz",
            )  # fmt: skip

        return Step(
            "annotate", run, inputs, {},
            ("family.annotated.vcf.gz", "family.annotated.vcf.gz.tbi"),
        )  # fmt: skip

    return {
        "simulate_reads": simulate, "qc": qc, "trim": trim, "align": align_, "call": call,
        "compare": compare, "annotate": annotate,
    }  # fmt: skip


def _nan_to_none(obj):
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, float) and obj != obj:
        return None
    return obj


def _ensure_bai(bam: Path) -> None:
    """The alignment step promises ``<bam>.bai``; index the BAM if the aligner did not."""
    import pysam

    if not Path(str(bam) + ".bai").is_file():
        pysam.index(str(bam), str(bam) + ".bai")
