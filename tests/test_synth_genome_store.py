"""The genome store: simulated genomes on disk, one contig in memory at a time."""

from __future__ import annotations

import dataclasses
import gc
import weakref

import numpy as np
import pytest

from workbench.synth.genome_store import GenomeStore
from workbench.synth.genomes import CohortSource
from workbench.synth.population import PRESETS, make_people, simulate_contig

TINY = PRESETS["tiny"]


@pytest.fixture(scope="module")
def people():
    return make_people(TINY, rng=np.random.default_rng(3))


@pytest.fixture(scope="module")
def genomes(people):
    return {
        name: simulate_contig(people, contig=name, length=length, panel_per_population=10, seed=5)
        for name, length in TINY.contigs.items()
    }


def _records(source):
    return [
        (c, pos, alleles, gt.tolist())
        for c, pos, alleles, gt in source.iter_records(0, source.num_records)
    ]


def test_what_is_stored_reads_back_the_same(tmp_path, genomes, people):
    store = GenomeStore(tmp_path / "trees")
    for contig in reversed(list(genomes)):
        store[contig] = genomes[contig]
    assert list(store) == list(reversed(list(genomes)))
    for contig, g in genomes.items():
        back = store[contig]
        assert back.ts.tables == g.ts.tables
        np.testing.assert_array_equal(back.cohort_nodes, g.cohort_nodes)
        np.testing.assert_array_equal(back.panel_nodes, g.panel_nodes)
        np.testing.assert_array_equal(back.panel_population, g.panel_population)
        assert back.is_x == g.is_x and back.contig == contig
        assert store.sequence_length(contig) == int(g.ts.sequence_length)
    # the cohort's calls are the same whether its genomes come from memory or from the store
    ids = list(people.person_id)
    ordered = [genomes[c] for c in store]
    assert _records(CohortSource(store.as_sequence(), ids)) == _records(CohortSource(ordered, ids))


def test_only_the_contig_read_last_stays_in_memory(tmp_path, genomes):
    store = GenomeStore(tmp_path / "trees")
    for contig, g in genomes.items():
        store[contig] = dataclasses.replace(g)
    first, second = list(genomes)[:2]
    held = weakref.ref(store[first])
    assert held() is not None
    store[second]
    gc.collect()
    assert held() is None  # freed: the store kept only the second contig


def test_a_contig_saved_by_another_process_is_registered(tmp_path, genomes):
    contig, g = next(iter(genomes.items()))
    GenomeStore(tmp_path / "trees").save(contig, g)  # as a forked worker does
    store = GenomeStore(tmp_path / "trees")
    assert contig not in store
    store.register(contig)
    assert list(store) == [contig] and store[contig].ts.tables == g.ts.tables
    with pytest.raises(FileNotFoundError, match="chrZ"):
        store.register("chrZ")
    del store[contig]
    assert not list((tmp_path / "trees").iterdir())


def test_rows_write_only_the_people_asked_for(genomes, people):
    rows = np.flatnonzero(people.family_id.notna().to_numpy())
    ids = list(people.person_id.iloc[rows])
    picked = [dataclasses.replace(g, cohort_nodes=g.cohort_nodes[rows]) for g in genomes.values()]
    assert _records(CohortSource(list(genomes.values()), ids, rows=rows)) == _records(
        CohortSource(picked, ids)
    )
