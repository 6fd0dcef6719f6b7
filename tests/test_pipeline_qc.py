"""Read QC tables and flags, cutadapt trimming, and refusal of bad FASTQ input."""

from __future__ import annotations

import gzip

import matplotlib
import pytest

from workbench.errors import PipelineInputError
from workbench.pipeline.qc import (
    MODULES,
    plot_adapter_content,
    plot_duplication,
    plot_gc_content,
    plot_per_position_quality,
    read_qc,
    trim,
)
from workbench.synth.reads import DEFAULT_ADAPTER, simulate_reads

matplotlib.use("Agg")


def _simulate(cohort, out, **kwargs):
    person = cohort.sample_ids[0]
    args = dict(
        person_ids=[person],
        regions=[("chr1", 2000, 9000)],
        out_dir=out,
        depth=20.0,
        seed=5,
        progress=False,
    )
    args.update(kwargs)
    return simulate_reads(cohort, **args)[person]


@pytest.fixture(scope="module")
def normal_reads(tiny_cohort, tmp_path_factory):
    return _simulate(tiny_cohort, tmp_path_factory.mktemp("normal"), duplicate_rate=0.2)


@pytest.fixture(scope="module")
def short_inserts(tiny_cohort, tmp_path_factory):
    """A library of short fragments: most reads run into the adapter."""
    return _simulate(tiny_cohort, tmp_path_factory.mktemp("short"), insert_mean=110, insert_sd=25)


def _records(path):
    with gzip.open(path, "rt") as f:
        lines = f.read().splitlines()
    return [lines[i : i + 4] for i in range(0, len(lines), 4)]


def _write(path, records):
    with gzip.open(path, "wt") as f:
        f.writelines("\n".join(r) + "\n" for r in records)
    return path


def test_tables_and_flags(normal_reads):
    r1, r2 = normal_reads
    qc = read_qc(r1, r2)
    n = len(_records(r1))
    assert qc.n_reads == n and qc.n_bases == 2 * n * 150
    q = qc.per_position_quality
    assert list(q.read.unique()) == ["R1", "R2"] and len(q) == 300
    r1q = q[q.read == "R1"]
    assert r1q["mean"].iloc[:20].mean() > r1q["mean"].iloc[-10:].mean() + 5
    assert (r1q.q1 <= r1q["median"]).all() and (r1q["median"] <= r1q.q3).all()
    assert 25 < qc.mean_quality < 31
    assert qc.gc_content.groupby("read")["count"].sum().round().tolist() == [n, n]
    assert qc.length_distribution[["length", "count"]].values.tolist() == [[150, n], [150, n]]
    assert (qc.n_content.n_percent == 0).all()
    # Exact-sequence duplicates: PCR duplicates without a sequencing error (~80 % of them).
    assert 10 < qc.duplicate_percent < 25
    assert set(qc.flags) == set(MODULES) and set(qc.flags.values()) <= {"pass", "warn", "fail"}
    assert qc.flags["length_distribution"] == "pass"
    assert qc.flags["adapter_content"] == "pass" and qc.adapter_percent < 2
    assert qc.flags["per_base_n"] == "pass"
    assert list(qc.summary().module) == list(MODULES)


def test_adapter_content_flags_short_inserts(short_inserts):
    qc = read_qc(*short_inserts)
    assert qc.flags["adapter_content"] == "fail"
    assert qc.adapter_percent > 50
    curve = qc.adapter_content.query("read == 'R1'").percent
    assert curve.is_monotonic_increasing and curve.iloc[0] == 0


def test_max_reads_and_single_end(normal_reads):
    qc = read_qc(normal_reads[0], max_reads=100)
    assert qc.n_reads == 100 and list(qc.per_position_quality.read.unique()) == ["R1"]


def test_plots_return_axes(normal_reads):
    import matplotlib.pyplot as plt

    qc = read_qc(*normal_reads, max_reads=500)
    for plot in (
        plot_per_position_quality,
        plot_gc_content,
        plot_adapter_content,
        plot_duplication,
    ):
        ax = plot(qc)
        assert ax.has_data()
        _, given = plt.subplots()
        assert plot(qc, ax=given) is given
    plt.close("all")


def test_trim_removes_adapters_and_short_reads(short_inserts, tmp_path):
    before = read_qc(*short_inserts)
    t1, t2, report = trim(*short_inserts, out_dir=tmp_path, quality=20, min_length=30)
    assert t1.name.endswith("_R1.trimmed.fastq.gz") and t2.name.endswith("_R2.trimmed.fastq.gz")
    assert report["reads_in"] == before.n_reads
    assert report["reads_out"] + report["too_short"] == report["reads_in"]
    assert report["percent_r1_with_adapter"] > 50
    after = read_qc(t1, t2)
    assert after.n_reads == report["reads_out"]
    assert after.length_distribution.length.min() >= 30
    assert after.adapter_percent < 0.5 and after.flags["adapter_content"] == "pass"
    assert after.flags["length_distribution"] == "warn"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([t1.name, t2.name])
    # Deterministic: the same input gives byte-identical output.
    again = trim(*short_inserts, out_dir=tmp_path / "again")
    assert again[0].read_bytes() == t1.read_bytes() and again[2] == report


def test_trim_single_end(normal_reads, tmp_path):
    t1, t2, report = trim(normal_reads[0], out_dir=tmp_path)
    assert t1.is_file() and t2 is None and not report["paired"] and report["reads_out"] > 0


# -- bad input ---------------------------------------------------------------------------------


def _bad_inputs(reads, tmp):
    r1, r2 = reads
    data = r1.read_bytes()
    recs2 = _records(r2)
    renamed = [[f"@other{i}", *r[1:]] for i, r in enumerate(recs2)]
    (tmp / "empty.fastq.gz").write_bytes(b"")
    (tmp / "truncated_R1.fastq.gz").write_bytes(data[: len(data) // 2])
    (tmp / "corrupt_R1.fastq.gz").write_bytes(data[:20] + bytes(200) + data[220:])
    return {
        "empty": (tmp / "empty.fastq.gz", r2, tmp / "empty.fastq.gz"),
        "no records": (_write(tmp / "none_R1.fastq.gz", []), None, tmp / "none_R1.fastq.gz"),
        "truncated": (tmp / "truncated_R1.fastq.gz", r2, tmp / "truncated_R1.fastq.gz"),
        "corrupt": (tmp / "corrupt_R1.fastq.gz", r2, tmp / "corrupt_R1.fastq.gz"),
        "names differ": (r1, _write(tmp / "names_R2.fastq.gz", renamed), tmp / "names_R2.fastq.gz"),
        "counts differ": (
            r1,
            _write(tmp / "fewer_R2.fastq.gz", recs2[:-5]),
            tmp / "fewer_R2.fastq.gz",
        ),
        "missing": (tmp / "nope.fastq.gz", r2, tmp / "nope.fastq.gz"),
    }


@pytest.mark.parametrize(
    "case",
    ["empty", "no records", "truncated", "corrupt", "names differ", "counts differ", "missing"],
)
def test_bad_input_is_refused_naming_the_file(normal_reads, tmp_path, case):
    a, b, culprit = _bad_inputs(normal_reads, tmp_path)[case]
    with pytest.raises(PipelineInputError) as info:
        read_qc(a, b)
    assert info.value.path == culprit
    assert culprit.name in str(info.value)
    out = tmp_path / "trimmed"
    with pytest.raises(PipelineInputError) as info:
        trim(a, b, out_dir=out)
    assert info.value.path == culprit
    assert not out.exists() or not list(out.iterdir())  # nothing half-written


def test_default_adapter_is_the_simulated_one():
    from workbench.pipeline.qc import DEFAULT_ADAPTER as QC_ADAPTER

    assert QC_ADAPTER == DEFAULT_ADAPTER
