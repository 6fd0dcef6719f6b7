"""Every malformed input a user can hand the workbench meets one clear line.

One row per malformed input: how to damage a private copy of the tiny cohort (or which bad
file to write), the call a user makes (a command line through click's runner, or the Python
API), and a fragment the message must hold. Each row asserts, for the command line: a non-zero
exit, exactly one ``error: …`` line and no traceback; for the API: a
:class:`~workbench.errors.WorkbenchError` whose message is one line; and for both: nothing in
the folder created, removed or changed by the call (paths, sizes and modification times).
"""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from click.testing import CliRunner

import workbench
from workbench.cli import main
from workbench.errors import WorkbenchError


@dataclass(frozen=True)
class Row:
    id: str
    damage: object  # callable(folder) -> None
    call: object  # ("cli", [args with {c} for the folder]) or callable(folder)
    match: str  # a fragment of the one-line message (case-insensitive)
    audited: bool = False  # a session call: its refusal is written to the registry's audit log


def _write(rel, data):
    def damage(folder):
        p = folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data if isinstance(data, bytes) else data.encode())

    return damage


def _remove(rel):
    def damage(folder):
        p = folder / rel
        if p.is_dir():
            import shutil

            shutil.rmtree(p)
        else:
            p.unlink()

    return damage


def _truncate(rel, keep=0.5):
    def damage(folder):
        p = folder / rel
        data = p.read_bytes()
        p.write_bytes(data[: int(len(data) * keep)])

    return damage


def _edit_json(rel, fn):
    def damage(folder):
        p = folder / rel
        p.write_text(json.dumps(fn(json.loads(p.read_text()))))

    return damage


def _other_sqlite(rel):
    def damage(folder):
        p = folder / rel
        p.unlink()
        with sqlite3.connect(p) as conn:
            conn.execute("CREATE TABLE holiday_photos (id INTEGER)")

    return damage


def _edit_ped(fn):
    def damage(folder):
        p = folder / "pedigree.ped"
        lines = p.read_text().splitlines()
        p.write_text("\n".join(fn(lines)) + "\n")

    return damage


def _ped_set(person, column, value):
    cols = {"father_id": 2, "mother_id": 3, "sex": 4}

    def fn(lines):
        out = []
        for line in lines:
            parts = line.split("\t")
            if parts[1] == person:
                parts[cols[column]] = value
            out.append("\t".join(parts))
        return out

    return fn


def _nothing(folder):
    return None


def _zarray(array, fn):
    return _edit_json(f"genotypes.vcz/{array}/.zarray", fn)


def _chunk_garbage(folder):
    d = folder / "genotypes.vcz" / "call_genotype"
    chunk = sorted(p for p in d.rglob("*") if p.is_file() and not p.name.startswith("."))[0]
    chunk.write_bytes(os.urandom(chunk.stat().st_size))


_VCF_HEAD = (
    "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=160000>\n"
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
)


def _vcf(body, *, gz=False, raw=None):
    data = raw if raw is not None else (_VCF_HEAD + body).encode()
    return _write("in.vcf.gz" if gz else "in.vcf", gzip.compress(data) if gz else data)


def _annotate(name="in.vcf"):
    return (
        "cli",
        [
            "annotate",
            "{c}/" + name,
            "--fasta",
            "{c}/reference/genome.fa",
            "--genes",
            "{c}/reference/genes.gff3",
            "--out",
            "{c}/out/x.vcf.gz",
        ],
    )


def _api(fn):
    return fn


def _open(folder):
    return workbench.open_cohort(folder, verify=False)


VERIFY = ("cli", ["verify", "{c}"])
PEDIGREE = _api(lambda c: _open(c).pedigree())
PHENOPACKET = _api(lambda c: _open(c).phenopacket("P00003"))
AUDIT = ("cli", ["audit", "verify", "{c}"])
CONSENT = ("cli", ["consent", "show", "{c}", "P00003"])
PIPELINE = ["pipeline", "run", "--cohort", "{c}", "--family", "F0001", "--out", "{c}/out"]
GENERATE = ["generate", "--preset", "tiny", "--out", "{c}/new", "--quiet"]
TREAT = _api(
    lambda c: (
        _open(c)
        .session(user="dr.jensen", purpose=workbench.Treatment(patient="P00003"))
        .reidentify("P00003")
    )
)


ROWS = [
    # -- the manifest ------------------------------------------------------------------------
    Row("manifest-missing", _remove("manifest.json"), VERIFY, "no manifest.json"),
    Row("manifest-not-json", _write("manifest.json", "{not json"), VERIFY, "manifest.json"),
    Row("manifest-empty", _write("manifest.json", ""), VERIFY, "manifest.json"),
    Row("manifest-a-list", _write("manifest.json", "[1, 2]"), VERIFY, "manifest.json"),
    Row(
        "manifest-no-files",
        _edit_json("manifest.json", lambda m: {k: v for k, v in m.items() if k != "files"}),
        VERIFY,
        "files",
    ),
    Row(
        "manifest-files-a-list",
        _edit_json("manifest.json", lambda m: {**m, "files": []}),
        VERIFY,
        "files",
    ),
    Row(
        "manifest-checksum-not-text",
        _edit_json("manifest.json", lambda m: {**m, "files": {**m["files"], "pedigree.ped": 5}}),
        VERIFY,
        "pedigree.ped",
    ),
    Row(
        "manifest-path-outside",
        _edit_json(
            "manifest.json", lambda m: {**m, "files": {**m["files"], "../outside.txt": "0" * 64}}
        ),
        VERIFY,
        "outside",
    ),
    Row(
        "manifest-wrong-version",
        _edit_json("manifest.json", lambda m: {**m, "format_version": 999}),
        VERIFY,
        "format version",
    ),
    Row(
        "manifest-not-a-cohort",
        _edit_json("manifest.json", lambda m: {**m, "format": "x"}),
        VERIFY,
        "not a workbench cohort",
    ),
    Row("file-missing", _remove("pedigree.ped"), VERIFY, "pedigree.ped"),
    Row("file-changed", _write("pedigree.ped", "x\n"), VERIFY, "pedigree.ped"),
    Row(
        "file-a-symlink",
        lambda c: (
            (c / "pedigree.ped").unlink(),
            (c / "pedigree.ped").symlink_to(c / "truth" / "cases.tsv"),
        ),
        VERIFY,
        "link",
    ),
    Row("cohort-not-a-folder", _nothing, ("cli", ["verify", "{c}/pedigree.ped"]), "not a folder"),
    Row("cohort-missing", _nothing, ("cli", ["verify", "{c}/nothing-here"]), "not a folder"),
    Row(
        "cohort-empty-folder",
        lambda c: (c / "empty").mkdir(),
        ("cli", ["verify", "{c}/empty"]),
        "no manifest.json",
    ),
    # -- the registry ------------------------------------------------------------------------
    *(
        Row(f"registry-{name}-{cmd}", damage, call, "registry.sqlite")
        for cmd, call in (("audit", AUDIT), ("consent", CONSENT))
        for name, damage in (
            ("missing", _remove("registry.sqlite")),
            ("empty", _write("registry.sqlite", b"")),
            ("truncated", _truncate("registry.sqlite")),
            ("random-bytes", _write("registry.sqlite", os.urandom(8192))),
            ("another-database", _other_sqlite("registry.sqlite")),
        )
    ),
    Row(
        "registry-missing-samples",
        _remove("registry.sqlite"),
        _api(lambda c: _open(c).samples()),
        "registry.sqlite",
    ),
    Row(
        "registry-random-samples",
        _write("registry.sqlite", os.urandom(4096)),
        _api(lambda c: _open(c).samples()),
        "registry.sqlite",
    ),
    Row(
        "registry-other-db-session",
        _other_sqlite("registry.sqlite"),
        _api(
            lambda c: (
                _open(c)
                .session(user="lab.researcher", purpose=workbench.Research(project="EPI-7"))
                .allele_counts(gene="ARX")
            )
        ),
        "registry.sqlite",
    ),
    # -- the keyholder and the service's keys -----------------------------------------------
    Row(
        "keyholder-store-random",
        _write("keyholder/identity.sqlite", os.urandom(4096)),
        TREAT,
        "keyholder",
    ),
    Row("keyholder-store-missing", _remove("keyholder/identity.sqlite"), TREAT, "keyholder"),
    Row("keyholder-store-other-db", _other_sqlite("keyholder/identity.sqlite"), TREAT, "keyholder"),
    Row("audit-key-missing", _remove("service/audit.key"), AUDIT, "audit.key"),
    Row("audit-key-not-json", _write("service/audit.key", "nonsense"), AUDIT, "audit.key"),
    Row(
        "audit-key-no-key",
        _edit_json("service/audit.key", lambda k: {**k, "key": ""}),
        AUDIT,
        "audit.key",
    ),
    Row(
        "pseudonym-key-missing",
        _remove("service/project-pseudonym.key"),
        _api(
            lambda c: (
                _open(c)
                .session(user="lab.researcher", purpose=workbench.Research(project="EPI-7"))
                .genotype_view()
            )
        ),
        "project-pseudonym.key",
    ),
    Row(
        "pseudonym-key-garbled",
        _write("service/project-pseudonym.key", "{"),
        _api(
            lambda c: (
                _open(c)
                .session(user="lab.researcher", purpose=workbench.Research(project="EPI-7"))
                .genotype_view()
            )
        ),
        "project-pseudonym.key",
    ),
    # -- the VCF Zarr store -------------------------------------------------------------------
    Row(
        "vcz-missing",
        _remove("genotypes.vcz"),
        _api(lambda c: _open(c).genotypes()),
        "genotypes.vcz",
    ),
    Row(
        "vcz-array-missing",
        _remove("genotypes.vcz/call_genotype"),
        _api(lambda c: _open(c).genotypes()),
        "call_genotype",
    ),
    Row(
        "vcz-sample-id-missing",
        _remove("genotypes.vcz/sample_id"),
        _api(lambda c: _open(c).sample_ids),
        "sample_id",
    ),
    Row(
        "vcz-zarray-not-json",
        _write("genotypes.vcz/call_genotype/.zarray", "{"),
        _api(lambda c: _open(c).genotypes()),
        "call_genotype",
    ),
    Row(
        "vcz-more-samples-than-ids",
        _zarray("call_genotype", lambda z: {**z, "shape": [z["shape"][0], z["shape"][1] + 5, 2]}),
        _api(lambda c: _open(c).genotypes()),
        "sample_id",
    ),
    Row(
        "vcz-more-variants-than-positions",
        _zarray("call_genotype", lambda z: {**z, "shape": [z["shape"][0] + 7, z["shape"][1], 2]}),
        _api(lambda c: _open(c).genotypes()),
        "call_genotype claims",
    ),
    Row(
        "vcz-chunk-garbage",
        _chunk_garbage,
        _api(lambda c: _open(c).genotypes(dask=False)),
        "call_genotype",
    ),
    Row(  # read lazily, the damage surfaces when computed: as the same one line
        "vcz-chunk-garbage-dask",
        _chunk_garbage,
        _api(lambda c: _open(c).genotypes(dask=True).values.compute()),
        "call_genotype",
    ),
    Row(
        "vcz-positions-shorter",
        _zarray("variant_position", lambda z: {**z, "shape": [z["shape"][0] - 3]}),
        _api(lambda c: _open(c).variants()),
        "variant_position",
    ),
    # -- VCF files ----------------------------------------------------------------------------
    Row("vcf-undeclared-contig", _vcf("chrZ\t7\t.\tA\tT\t.\t.\t.\n"), _annotate(), "chrZ"),
    Row("vcf-non-numeric-pos", _vcf("chr1\tX5\t.\tA\tT\t.\t.\t.\n"), _annotate(), "POS"),
    Row("vcf-five-columns", _vcf("chr1\t5\t.\tA\tT\n"), _annotate(), "8 tab-separated"),
    Row(
        "vcf-unsorted",
        _vcf("chr1\t20\t.\tA\tT\t.\t.\t.\nchr1\t5\t.\tA\tT\t.\t.\t.\n"),
        _annotate(),
        "not sorted: chr1:5 comes after chr1:20",
    ),
    Row(
        "vcf-contig-split",
        _vcf(
            "",
            raw=(
                b"##fileformat=VCFv4.2\n##contig=<ID=chr1>\n##contig=<ID=chr2>\n"
                b"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                b"chr1\t5\t.\tA\tT\t.\t.\t.\nchr2\t5\t.\tA\tT\t.\t.\t.\n"
                b"chr1\t9\t.\tA\tT\t.\t.\t.\n"
            ),
        ),
        _annotate(),
        "records of chr1 are split",
    ),
    Row(
        "vcf-gz-undeclared-contig",
        _vcf("chrZ\t7\t.\tA\tT\t.\t.\t.\n", gz=True),
        _annotate("in.vcf.gz"),
        "chrZ",
    ),
    Row(
        "vcf-gz-truncated",
        lambda c: (
            _vcf("chr1\t5\t.\tA\tT\t.\t.\t.\n" * 2000, gz=True)(c),
            _truncate("in.vcf.gz", 0.4)(c),
        ),
        _annotate("in.vcf.gz"),
        "in.vcf.gz",
    ),
    Row("vcf-random-bytes", _write("in.vcf", os.urandom(2000)), _annotate(), "in.vcf"),
    Row("vcf-empty", _write("in.vcf", ""), _annotate(), "in.vcf"),
    Row("vcf-missing", _nothing, _annotate(), "in.vcf"),
    Row("vcf-no-header", _write("in.vcf", "chr1\t5\t.\tA\tT\t.\t.\t.\n"), _annotate(), "in.vcf"),
    # -- the pedigree -------------------------------------------------------------------------
    Row(
        "ped-five-columns",
        _edit_ped(lambda ls: [ls[0], *("\t".join(x.split("\t")[:5]) for x in ls[1:])]),
        PEDIGREE,
        "6 columns",
    ),
    Row(
        "ped-unknown-sex",
        _edit_ped(_ped_set("P00001", "sex", "7")),
        PEDIGREE,
        "sex",
    ),
    Row(
        "ped-self-parent",
        _edit_ped(_ped_set("P00003", "father_id", "P00003")),
        PEDIGREE,
        "own parent",
    ),
    Row(
        "ped-cycle",
        lambda c: _edit_ped(_ped_set("P00001", "father_id", "P00003"))(c),
        PEDIGREE,
        "cycle",
    ),
    Row(
        "ped-duplicate-id",
        _edit_ped(lambda ls: [*ls, ls[1]]),
        PEDIGREE,
        "more than once",
    ),
    Row(
        "ped-father-female",
        _edit_ped(_ped_set("P00003", "father_id", "P00002")),
        PEDIGREE,
        "father",
    ),
    Row(
        "ped-mother-male",
        _edit_ped(_ped_set("P00003", "mother_id", "P00001")),
        PEDIGREE,
        "mother",
    ),
    Row(
        "ped-parent-unknown",
        _edit_ped(_ped_set("P00003", "father_id", "P99999")),
        PEDIGREE,
        "P99999",
    ),
    Row(
        "ped-binary",
        _write("pedigree.ped", os.urandom(500)),
        PEDIGREE,
        "pedigree.ped",
    ),
    Row("ped-empty", _write("pedigree.ped", ""), PEDIGREE, "pedigree.ped"),
    Row("ped-missing", _remove("pedigree.ped"), PEDIGREE, "pedigree.ped"),
    Row(
        "ped-commas",
        _edit_ped(lambda ls: [x.replace("\t", ",") for x in ls]),
        PEDIGREE,
        "6 columns",
    ),
    # -- phenopackets -------------------------------------------------------------------------
    Row(
        "phenopacket-a-list",
        _write("phenopackets/P00003.json", "[]"),
        PHENOPACKET,
        "P00003.json",
    ),
    Row(
        "phenopacket-a-string",
        _write("phenopackets/P00003.json", '"hello"'),
        PHENOPACKET,
        "P00003.json",
    ),
    Row(
        "phenopacket-not-json",
        _write("phenopackets/P00003.json", "{"),
        PHENOPACKET,
        "P00003.json",
    ),
    Row(
        "phenopacket-features-a-dict",
        _edit_json("phenopackets/P00003.json", lambda p: {**p, "phenotypicFeatures": {}}),
        PHENOPACKET,
        "phenotypicFeatures",
    ),
    Row(
        "phenopacket-unknown-field",
        _edit_json("phenopackets/P00003.json", lambda p: {**p, "favouriteColour": "blue"}),
        PHENOPACKET,
        "favouriteColour",
    ),
    Row(
        "phenopacket-bad-hpo-id",
        _edit_json(
            "phenopackets/P00003.json",
            lambda p: {**p, "phenotypicFeatures": [{"type": {"id": "HP:BOGUS", "label": "x"}}]},
        ),
        PHENOPACKET,
        "HP:BOGUS",
    ),
    Row(
        "phenopacket-missing",
        _remove("phenopackets/P00003.json"),
        PHENOPACKET,
        "P00003",
    ),
    # -- reference FASTA and gene models ------------------------------------------------------
    Row(
        "fasta-missing",
        _remove("reference/genome.fa"),
        _api(lambda c: _open(c).reference),
        "genome.fa",
    ),
    Row(
        "fasta-no-header",
        _write("reference/genome.fa", "ACGT\n"),
        _api(lambda c: _open(c).reference),
        "genome.fa",
    ),
    Row(
        "gff3-no-version-line",
        _write("reference/genes.gff3", "chr1\tx\tgene\t1\t9\t.\t+\t.\tID=g\n"),
        _api(lambda c: _open(c).reference),
        "gff-version",
    ),
    Row(
        "gff3-eight-columns",
        _write("reference/genes.gff3", "##gff-version 3\nchr1\tx\tgene\t1\t9\t.\t+\t.\n"),
        _api(lambda c: _open(c).reference),
        "9 tab-separated",
    ),
    Row(
        "gff3-bad-coordinates",
        _write("reference/genes.gff3", "##gff-version 3\nchr1\tx\tgene\tone\t9\t.\t+\t.\tID=g\n"),
        _api(lambda c: _open(c).reference),
        "coordinates",
    ),
    Row(
        "annotate-genes-not-an-annotation",
        _write("x.gtf", "hello\tworld\n"),
        (
            "cli",
            [
                "annotate",
                "{c}/genotypes.vcf.gz",
                "--fasta",
                "{c}/reference/genome.fa",
                "--genes",
                "{c}/x.gtf",
                "--out",
                "{c}/out/x.vcf.gz",
            ],
        ),
        "x.gtf",
    ),
    Row(
        "annotate-fasta-missing",
        _nothing,
        (
            "cli",
            [
                "annotate",
                "{c}/genotypes.vcf.gz",
                "--fasta",
                "{c}/none.fa",
                "--genes",
                "{c}/reference/genes.gff3",
                "--out",
                "{c}/out/x.vcf.gz",
            ],
        ),
        "none.fa",
    ),
    Row(
        "annotate-out-not-vcf-gz",
        _nothing,
        (
            "cli",
            [
                "annotate",
                "{c}/genotypes.vcf.gz",
                "--fasta",
                "{c}/reference/genome.fa",
                "--genes",
                "{c}/reference/genes.gff3",
                "--out",
                "{c}/out/x.txt",
            ],
        ),
        ".vcf.gz",
    ),
    # -- numeric options ----------------------------------------------------------------------
    *(
        Row(
            f"generate-{flag.strip('-')}-{value}",
            _nothing,
            ("cli", [*GENERATE, flag, value]),
            f"{flag} must",
        )
        for flag, value in (
            ("--samples", "0"),
            ("--samples", "-5"),
            ("--seed", "-1"),
            ("--seed", "99999999999"),
        )
    ),
    Row(
        "generate-unknown-preset",
        _nothing,
        ("cli", ["generate", "--preset", "huge", "--out", "{c}/new"]),
        "preset",
    ),
    *(
        Row(
            f"pipeline-{flag.strip('-')}-{value}",
            _nothing,
            ("cli", [*PIPELINE, flag, value]),
            f"{flag} must",
        )
        for flag, value in (
            ("--threads", "0"),
            ("--threads", "-2"),
            ("--depth", "0"),
            ("--depth", "-1"),
            ("--min-qual", "-1"),
            ("--min-depth", "-1"),
            ("--min-gq", "-1"),
            ("--seed", "-1"),
        )
    ),
    Row(
        "pipeline-unknown-family",
        _nothing,
        ("cli", ["pipeline", "run", "--cohort", "{c}", "--family", "F9999", "--out", "{c}/out"]),
        "F9999",
    ),
    Row(
        "consent-unknown-person", _nothing, ("cli", ["consent", "show", "{c}", "P99999"]), "P99999"
    ),
]

# Rows whose call goes through a session: the refusal itself is audited in the registry.
_SESSION_ROWS = (
    "keyholder-",
    "pseudonym-key-",
    "registry-other-db-session",
    "consent-unknown-person",
)
ROWS = [replace(r, audited=True) if r.id.startswith(_SESSION_ROWS) else r for r in ROWS]


def _snapshot(folder: Path, *, audited: bool = False) -> dict:
    """Paths, sizes and times; a session's audit log (the registry) may grow, as it must."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if (not p.is_symlink() or p.exists())
        and not (audited and p.name.startswith("registry.sqlite"))
    }


def test_the_table_is_large_and_its_ids_unique():
    ids = [r.id for r in ROWS]
    assert len(ids) >= 80 and len(set(ids)) == len(ids)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_malformed_input(row, cohort_copy):
    row.damage(cohort_copy)
    before = _snapshot(cohort_copy, audited=row.audited)
    if isinstance(row.call, tuple):
        args = [a.replace("{c}", str(cohort_copy)) for a in row.call[1]]
        result = CliRunner().invoke(main, args)
        output = result.output
        assert result.exit_code not in (0, None), f"accepted: {output}"
        assert not isinstance(result.exception, Exception) or isinstance(
            result.exception, SystemExit
        ), f"traceback: {result.exception!r}"
        lines = [line for line in output.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("error:")]
        assert len(errors) == 1, f"expected one 'error:' line, got {lines}"
        message = errors[0]
    else:
        with pytest.raises(WorkbenchError) as e:
            row.call(cohort_copy)
        message = str(e.value)
        assert "\n" not in message, message
    assert row.match.lower() in message.lower(), message
    assert _snapshot(cohort_copy, audited=row.audited) == before, (
        "the call created, removed or changed files"
    )
