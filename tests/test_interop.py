"""A cohort's files read the same in every conforming reader of their formats.

On the tiny cohort: the VCF Zarr store with zarr 3 (ours), zarr 2 (sgkit in the peers'
environment, ``.venv-peers``, which ``make test`` builds) and vcztools; the VCF with htslib
(pysam), ``bcftools norm --check-ref`` and ``bcftools stats`` (pysam's bcftools) and plink2
(Debian's, which ``make test`` installs as root); every phenopacket with the phenopackets
schema, strictly. A reader that is absent skips its test with the reason, except on CI (``CI``
set), where that is a failure: a broken install must not pass unseen.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pysam
import pytest
from conftest import REPO

PEERS_PYTHON = REPO / ".venv-peers" / "bin" / "python"

ARRAYS = ("variant_contig", "variant_position", "variant_allele", "sample_id", "call_genotype",
          "call_genotype_mask", "call_genotype_phased")  # fmt: skip


def _require(ok: bool, reason: str):
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI must run this interoperability check, but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def store(tiny_cohort_path) -> Path:
    return tiny_cohort_path / "genotypes.vcz"


@pytest.fixture(scope="module")
def vcf_records(tiny_cohort_path):
    """(contig, pos, alleles, genotypes as variants × samples × 2 with -1 missing/-2 absent)."""
    rows, calls = [], []
    with pysam.VariantFile(str(tiny_cohort_path / "genotypes.vcf.gz")) as f:
        samples = list(f.header.samples)
        for rec in f:
            rows.append((rec.chrom, rec.pos, rec.alleles))
            gts = []
            for s in samples:
                gt = [-1 if a is None else a for a in rec.samples[s]["GT"]]
                gts.append(gt + [-2] * (2 - len(gt)))
            calls.append(gts)
    return samples, rows, np.array(calls, dtype=np.int8)


def _zarr3_arrays(store: Path) -> dict[str, np.ndarray]:
    import zarr

    group = zarr.open_group(str(store), mode="r")
    out = {name: np.asarray(group[name][:]) for name in ARRAYS}
    out["contig_id"] = np.asarray(group["contig_id"][:])
    return out


def test_every_chunk_of_every_array_is_written(store):
    """bio2zarr declares ``fill_value: null``; under Zarr v2 an absent chunk is then undefined
    (sgkit on zarr 2 read uninitialised memory), so the writer must write every chunk."""
    checked = 0
    for meta in sorted(store.glob("*/.zarray")):
        spec = json.loads(meta.read_text())
        expected = math.prod(
            math.ceil(n / c) for n, c in zip(spec["shape"], spec["chunks"], strict=True)
        )
        sep = spec.get("dimension_separator", ".")
        written = [p for p in meta.parent.rglob("*") if p.is_file() and not p.name.startswith(".")]
        names = {str(p.relative_to(meta.parent)).replace(os.sep, sep) for p in written}
        assert len(names) == expected, (
            f"{meta.parent.name}: {len(names)} of {expected} chunks written "
            f"(fill_value {spec['fill_value']!r}); a zarr 2 reader would invent the rest"
        )
        checked += 1
    assert checked >= len(ARRAYS)


def test_zarr3_reads_what_the_vcf_says(store, vcf_records):
    samples, rows, calls = vcf_records
    z = _zarr3_arrays(store)
    assert list(z["sample_id"]) == samples
    contigs = z["contig_id"][z["variant_contig"]]
    assert [(c, int(p)) for c, p in zip(contigs, z["variant_position"], strict=True)] == [
        (c, p) for c, p, _ in rows
    ]
    alleles = [tuple(a for a in row if a) for row in z["variant_allele"]]
    assert alleles == [tuple(a) for _, _, a in rows]
    np.testing.assert_array_equal(z["call_genotype"], calls)
    # The mask covers missing (-1) and absent (-2, a male's second X) alleles alike.
    np.testing.assert_array_equal(z["call_genotype_mask"], calls < 0)


_SGKIT = """
import json, sys
import numpy as np
import sgkit
ds = sgkit.load_dataset(sys.argv[1])
print(json.dumps({name: np.asarray(ds[name].values).astype(str).tolist()
                  if ds[name].dtype.kind in "OUS" else np.asarray(ds[name].values).tolist()
                  for name in sys.argv[2:]}))
"""


def test_zarr2_through_sgkit_reads_what_zarr3_reads(store):
    _require(PEERS_PYTHON.exists(), f"{PEERS_PYTHON} is missing (`make .venv-peers/.installed`)")
    names = [*ARRAYS, "contig_id"]
    proc = subprocess.run(
        [str(PEERS_PYTHON), "-c", _SGKIT, str(store), *names],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONNOUSERSITE": "1", "PYTHONWARNINGS": "ignore"},
        check=False,
    )
    assert proc.returncode == 0, f"sgkit could not read the store: {proc.stderr[-800:]}"
    theirs = json.loads(proc.stdout.strip().splitlines()[-1])
    ours = _zarr3_arrays(store)
    for name in names:
        mine = ours[name]
        other = np.asarray(theirs[name])
        if mine.dtype.kind in "OUS":
            mine = mine.astype(str)
        np.testing.assert_array_equal(other, mine, err_msg=f"{name} reads differently in zarr 2")


def test_vcztools_view_gives_the_vcf(tiny_cohort_path, store):
    vcztools = Path(sys.executable).with_name("vcztools")
    _require(vcztools.exists(), "vcztools is not installed (it is in the test extras)")
    proc = subprocess.run(
        [str(vcztools), "view", "--no-version", str(store)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-800:]

    def body(lines):
        return [line.split("\t") for line in lines if line and not line.startswith("##")]

    with pysam.BGZFile(str(tiny_cohort_path / "genotypes.vcf.gz")) as f:
        ours = body(f.read().decode().splitlines())
    theirs = body(proc.stdout.splitlines())
    assert theirs[0] == ours[0], "the sample columns differ"
    assert len(theirs) == len(ours)
    for a, b in zip(theirs[1:], ours[1:], strict=True):
        # CHROM POS REF ALT and every call; ID/QUAL/INFO spellings of "nothing" may differ.
        assert a[:2] + a[3:5] == b[:2] + b[3:5], f"site differs: {a[:5]} vs {b[:5]}"
        assert a[9:] == b[9:], f"calls differ at {a[0]}:{a[1]}"


def _bcftools(command: str, *args: str) -> tuple[str, list[str]]:
    from pysam import bcftools

    tool = getattr(bcftools, command)
    out = tool(*args)
    messages = tool.get_messages()  # bcftools' stderr, a string or a list of lines
    if isinstance(messages, str):
        messages = messages.splitlines()
    return out, [m for m in messages if m.strip()]


def test_bcftools_norm_checks_every_ref_allele_without_a_warning(tiny_cohort_path):
    fasta = tiny_cohort_path / "reference" / "genome.fa"
    _, messages = _bcftools(
        "norm", "--check-ref", "e", "-f", str(fasta), "-Ou", "-o", os.devnull,
        str(tiny_cohort_path / "genotypes.vcf.gz"),
    )  # fmt: skip
    warnings = [m for m in messages if not m.startswith("Lines ")]
    assert not warnings, f"bcftools norm warned: {warnings}"


def test_bcftools_stats_reads_the_vcf_without_a_warning(tiny_cohort_path, vcf_records):
    out, messages = _bcftools("stats", str(tiny_cohort_path / "genotypes.vcf.gz"))
    assert not messages, f"bcftools stats warned: {messages}"
    sn = {
        line.split("\t")[2]: int(line.split("\t")[3])
        for line in out.splitlines()
        if line.startswith("SN\t")
    }
    samples, rows, _ = vcf_records
    assert sn["number of samples:"] == len(samples)
    assert sn["number of records:"] == len(rows)


def test_plink2_reads_the_vcf_and_the_pedigree(tiny_cohort_path, tmp_path, vcf_records):
    plink2 = shutil.which("plink2")
    _require(plink2 is not None, "plink2 is not installed (Debian's plink2; make test installs it)")
    ped = (tiny_cohort_path / "pedigree.ped").read_text().splitlines()
    # PLINK's .fam: the PED's six columns without its header line.
    (tmp_path / "cohort.fam").write_text("\n".join(ped[1:]) + "\n")
    proc = subprocess.run(
        [plink2, "--vcf", str(tiny_cohort_path / "genotypes.vcf.gz"), "--fam",
         str(tmp_path / "cohort.fam"), "--split-par", "b38", "--make-pgen", "--out",
         str(tmp_path / "p"), "--threads", "1", "--memory", "1024"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-800:]
    samples, rows, _ = vcf_records
    psam = [line.split("\t") for line in (tmp_path / "p.psam").read_text().splitlines()]
    pvar = [line for line in (tmp_path / "p.pvar").read_text().splitlines() if line[:1] != "#"]
    assert [r[1] for r in psam[1:]] == samples
    assert len(pvar) == len(rows)
    expected = {r.split("\t")[1]: r.split("\t")[2:5] for r in ped[1:]}
    for _fid, iid, pat, mat, sex, *_ in psam[1:]:
        assert [pat, mat, sex] == expected[iid], f"plink2 read {iid}'s parents or sex differently"


def test_every_phenopacket_parses_strictly_with_the_schema(tiny_cohort_path):
    from google.protobuf import json_format
    from phenopackets import Family, Phenopacket

    from workbench import hpo

    files = sorted((tiny_cohort_path / "phenopackets").glob("*.json"))
    assert files
    for path in files:
        message = Family() if path.name.startswith("family_") else Phenopacket()
        # ignore_unknown_fields=False: a misspelt or invented field is an error.
        json_format.Parse(path.read_text(), message, ignore_unknown_fields=False)
        packets = [message] if isinstance(message, Phenopacket) else [message.proband]
        for packet in packets:
            assert packet.id and packet.subject.id, f"{path.name}: no id"
            terms = [(f.type.id, f.type.label) for f in packet.phenotypic_features]
            hpo.validate_terms(terms)


def test_every_variant_the_generator_writes_is_normalised(tiny_cohort_path):
    """bcftools norm moves nothing, and every table keyed on variants uses the same spelling:
    after `bcftools norm -f` (which the pipeline's calling step runs) the truth and the
    knowledge tables still match the VCF."""
    import pandas as pd

    from workbench.genome.normalize import normalize

    _, messages = _bcftools(
        "norm", "-f", str(tiny_cohort_path / "reference" / "genome.fa"), "-Ou", "-o",
        os.devnull, str(tiny_cohort_path / "genotypes.vcf.gz"),
    )  # fmt: skip
    summary = next(m for m in messages if m.startswith("Lines "))
    values = summary.split("\t")[-1].split("/")
    names = summary.split("\t")[0].split()[-1].split("/")
    counts = dict(zip(names, map(int, values), strict=True))
    assert counts["realigned"] == 0 and counts["split"] == 0, summary
    fasta = pysam.FastaFile(str(tiny_cohort_path / "reference" / "genome.fa"))
    tables = {
        "truth/variants.tsv": pd.read_csv(tiny_cohort_path / "truth" / "variants.tsv", sep="\t"),
        "knowledge/clinical_assertions.tsv": pd.read_csv(
            tiny_cohort_path / "knowledge" / "clinical_assertions.tsv", sep="\t"
        ),
        "knowledge/population_frequencies.tsv.gz": pd.read_csv(
            tiny_cohort_path / "knowledge" / "population_frequencies.tsv.gz", sep="\t"
        ),
    }
    indels = 0
    for name, table in tables.items():
        for row in table.itertuples(index=False):
            record = (int(row.position), row.ref, row.alt)
            indels += len(row.ref) != len(row.alt)
            fetch = lambda a, b, c=row.contig: fasta.fetch(c, a, b)  # noqa: E731
            assert normalize(fetch, *record) == record, f"{name}: {row.contig}:{record}"
    assert indels, "no indel in the truth or knowledge tables: the check checked nothing"
