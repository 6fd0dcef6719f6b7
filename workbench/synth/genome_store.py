"""Simulated genomes kept on disk, one chromosome in memory at a time.

The exome-scale model's tree sequences take about 3.4 GB for 2,000 people and their reference
panel (measured on the teaching preset), more than the generator's memory budget once they are
copied for planting and encoded. Every later step reads them one contig after another, so
:class:`GenomeStore` keeps each contig's tree sequence as a ``.trees`` file (``tskit``'s own
format) with its node arrays beside it, and holds only the contig read or written last.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, MutableMapping, Sequence
from pathlib import Path

import numpy as np
import tskit

from .population import ContigGenomes

__all__ = ["GenomeStore"]


class GenomeStore(MutableMapping[str, ContigGenomes]):
    """Contig name → :class:`~.population.ContigGenomes`, stored as files in ``folder``.

    Reading a contig loads it and keeps it until another contig is read or written; writing
    one saves it and keeps it. Iteration follows the order contigs were first written.
    A caller that holds on to what it read keeps it alive, so loop over contigs rather
    than collect them.

    Parameters
    ----------
    folder
        Where the files go; created if missing. The store does not delete it.
    """

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._order: list[str] = []
        self._lengths: dict[str, int] = {}
        self._loaded: tuple[str, ContigGenomes] | None = None

    def _paths(self, contig: str) -> tuple[Path, Path]:
        return self.folder / f"{contig}.trees", self.folder / f"{contig}.npz"

    def save(self, contig: str, g: ContigGenomes) -> None:
        """Write ``g``'s files without registering it: for a worker process, whose parent
        then calls :meth:`register`."""
        trees, arrays = self._paths(contig)
        g.ts.dump(trees)
        with open(arrays, "wb") as f:
            np.savez(
                f,
                cohort_nodes=g.cohort_nodes,
                panel_nodes=g.panel_nodes,
                panel_population=g.panel_population,
                is_x=np.array(g.is_x),
                sequence_length=np.array(int(g.ts.sequence_length)),
            )

    def register(self, contig: str) -> None:
        """Make a contig another process :meth:`save`-d part of this store."""
        trees, arrays = self._paths(contig)
        if not (trees.is_file() and arrays.is_file()):
            raise FileNotFoundError(f"no saved genomes for {contig} in {self.folder}")
        if contig not in self._order:
            self._order.append(contig)
        with np.load(arrays) as a:  # not the tree sequence, which may be large
            self._lengths[contig] = int(a["sequence_length"])
        if self._loaded is not None and self._loaded[0] == contig:
            self._loaded = None

    def __setitem__(self, contig: str, g: ContigGenomes) -> None:
        if g.contig != contig:
            raise ValueError(f"genomes of {g.contig} stored under {contig}")
        self._loaded = None  # free the previous contig before this one is written
        self.save(contig, g)
        if contig not in self._order:
            self._order.append(contig)
        self._lengths[contig] = int(g.ts.sequence_length)
        self._loaded = (contig, g)

    def __getitem__(self, contig: str) -> ContigGenomes:
        if self._loaded is not None and self._loaded[0] == contig:
            return self._loaded[1]
        if contig not in self._lengths:
            raise KeyError(contig)
        self._loaded = None
        trees, arrays = self._paths(contig)
        with np.load(arrays) as a:
            g = ContigGenomes(
                contig=contig,
                ts=tskit.load(trees),
                cohort_nodes=a["cohort_nodes"],
                panel_nodes=a["panel_nodes"],
                panel_population=a["panel_population"],
                is_x=bool(a["is_x"]),
            )
        self._loaded = (contig, g)
        return g

    def __delitem__(self, contig: str) -> None:
        if contig not in self._lengths:
            raise KeyError(contig)
        for path in self._paths(contig):
            path.unlink(missing_ok=True)
        self._order.remove(contig)
        del self._lengths[contig]
        if self._loaded is not None and self._loaded[0] == contig:
            self._loaded = None

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._order))

    def __len__(self) -> int:
        return len(self._order)

    def sequence_length(self, contig: str) -> int:
        """The contig's length, without loading it."""
        return self._lengths[contig]

    def as_sequence(self) -> _StoreSequence:
        """The genomes as a sequence in contig order, each loaded when indexed (for
        :class:`~.genomes.CohortSource`)."""
        return _StoreSequence(self)


class _StoreSequence(Sequence[ContigGenomes]):
    def __init__(self, store: GenomeStore):
        self._store = store
        self._contigs = list(store)

    def __getitem__(self, i):
        if isinstance(i, slice):
            raise TypeError("index a GenomeStore's sequence one contig at a time")
        return self._store[self._contigs[i]]

    def __len__(self) -> int:
        return len(self._contigs)
