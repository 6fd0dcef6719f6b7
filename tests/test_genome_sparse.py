"""Sparse chromosome sequences: they read as the dense string they stand for, on disk and off."""

from __future__ import annotations

import random

import pysam
import pytest

from workbench.errors import CohortFormatError, InputError
from workbench.genome import Reference
from workbench.genome.reference import FASTA_BGZF_NAME, FASTA_NAME, KNOWN_NAME, fasta_path
from workbench.genome.sparse import SparseSequence, read_bgzf_fasta, write_bgzf_fasta


def _random_sparse(seed: int, length: int = 20_000):
    """A sparse sequence and the dense string it stands for (windows may hold short N runs)."""
    rng = random.Random(seed)
    dense = ["N"] * length
    windows = []
    pos = 0
    while True:
        pos += rng.randrange(0, 700)
        n = rng.randrange(1, 300)
        if pos + n > length:
            break
        bases = "".join(rng.choice("ACGT" if rng.random() < 0.95 else "N") for _ in range(n))
        windows.append((pos, bases))
        dense[pos : pos + n] = bases
        pos += n
    return SparseSequence(length, windows), "".join(dense)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_slices_and_indices_read_as_the_dense_string(seed):
    sparse, dense = _random_sparse(seed)
    rng = random.Random(seed)
    assert len(sparse) == len(dense)
    for _ in range(3_000):
        a, b = rng.randrange(-50, len(dense) + 50), rng.randrange(-50, len(dense) + 50)
        assert sparse[a:b] == dense[a:b]
        i = rng.randrange(-len(dense), len(dense))
        assert sparse[i] == dense[i]
    assert sparse[:] == dense
    with pytest.raises(IndexError):
        sparse[len(dense)]
    with pytest.raises(TypeError, match="step"):
        sparse[::2]
    with pytest.raises(TypeError, match="slice the part you need"):
        str(sparse)


def test_windows_must_be_sorted_and_inside():
    with pytest.raises(InputError, match="non-overlapping"):
        SparseSequence(100, [(10, "ACGT"), (12, "AC")])
    with pytest.raises(InputError, match="past the sequence end"):
        SparseSequence(100, [(98, "ACGT")])
    adjacent = SparseSequence(100, [(10, "AC"), (12, "GT")])
    assert list(adjacent.windows()) == [(10, "ACGT")]


def test_bgzf_fasta_holds_the_dense_sequence_and_reads_back(tmp_path):
    sparse, dense = _random_sparse(4, length=70_001)
    path = tmp_path / "g.fa.gz"
    write_bgzf_fasta(path, {"chrA": sparse, "chrB": "ACGT" * 31})
    with pysam.FastaFile(str(path)) as fa:  # htslib reads it as any bgzipped FASTA
        assert fa.fetch("chrA") == dense
        assert fa.fetch("chrB") == "ACGT" * 31
    lines = pysam.BGZFile(str(path), "rb").read().decode().splitlines()
    assert max(len(x) for x in lines if not x.startswith(">")) == 60
    scanned = read_bgzf_fasta(path)
    assert scanned["chrA"][:] == dense and scanned["chrB"][:] == "ACGT" * 31
    listed = read_bgzf_fasta(
        path,
        {"chrA": [(a, a + len(b)) for a, b in sparse.windows()], "chrB": [(0, 124)]},
    )
    assert listed["chrA"] == sparse


def _sparse_reference(tmp_path):
    import numpy as np

    from workbench.genome.genemodels import build_genome

    return build_genome(
        chromosomes={"chr21": 3_000_000, "chrX": 2_000_000},
        genes=[("GENEA", "chr21"), ("GENEB", "chr21"), ("GENEC", "chrX")],
        rng=np.random.default_rng(7),
        neutral_spacing=200_000,
    )


def test_a_sparse_reference_is_written_bgzipped_and_read_back(tmp_path):
    ref = _sparse_reference(tmp_path)
    (tmp_path / FASTA_NAME).write_text(">old\nACGT\n")  # an earlier dense write
    paths = ref.write(tmp_path)
    assert paths["fasta"].name == FASTA_BGZF_NAME
    assert {p.name for p in tmp_path.iterdir()} == {
        FASTA_BGZF_NAME,
        FASTA_BGZF_NAME + ".fai",
        FASTA_BGZF_NAME + ".gzi",
        KNOWN_NAME,
        "genes.gff3",
    }
    assert fasta_path(tmp_path) == paths["fasta"]
    back = Reference.read(tmp_path)
    assert back.contigs == ref.contigs == {"chr21": 3_000_000, "chrX": 2_000_000}
    for c in ref.contigs:
        assert back.sequence(c) == ref.sequence(c)
    for t in ref.transcripts:
        assert back.protein(back.transcript(t.transcript_id)) == ref.protein(t)
    # Without known.bed the FASTA is scanned, and gives the same reference.
    (tmp_path / KNOWN_NAME).unlink()
    assert Reference.read(tmp_path).sequence("chr21")[:] == ref.sequence("chr21")[:]


def test_a_damaged_known_list_is_a_format_error(tmp_path):
    _sparse_reference(tmp_path).write(tmp_path)
    (tmp_path / KNOWN_NAME).write_text("chr21\tten\t20\n")
    with pytest.raises(CohortFormatError, match="write the reference again"):
        Reference.read(tmp_path)
