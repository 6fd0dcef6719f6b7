"""Open a cohort folder: the national genome database in miniature.

>>> cohort = open_cohort("datasets/synthetic/tiny")          # doctest: +SKIP
>>> cohort.samples().head()                                   # doctest: +SKIP
>>> gt = cohort.genotypes(contig="chr1")                      # scikit-allel GenotypeArray

:class:`Cohort` is the data layer: it reads the files of the folder described in DESIGN.md and
returns pandas tables and scikit-allel arrays. It applies no consent rules itself; the
consent-aware sessions built on it do.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import html
import json
import os
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd

from . import manifest as _manifest
from .errors import CohortFormatError, InputError

__all__ = ["Cohort", "GenotypeStore", "open_cohort"]

# Above this many genotype calls, genotypes() returns a dask-backed array by default.
_DASK_THRESHOLD = 400_000_000
#: Reads of at least this many sites take their alleles from the store-wide decoded copy
#: (:attr:`GenotypeStore._all_ref_alt`); a gene's or a window's few sites are decoded alone.
_ALLELE_CACHE_SITES = 20_000


def open_cohort(path: str | os.PathLike, *, verify: bool = True) -> Cohort:
    """Open the cohort folder at ``path``.

    Parameters
    ----------
    path
        A folder written by ``workbench generate``.
    verify
        Recompute the checksum of every fixed file and raise
        :class:`~workbench.errors.CohortIntegrityError` naming any missing or altered one.
        Turn off only for a folder you have just verified (it reads every byte).
    """
    path = Path(path)
    manifest = _manifest.read_manifest(path)
    if verify:
        _manifest.verify(path, manifest)
    return Cohort(path, manifest)


class Cohort:
    """A synthetic national cohort on disk. Use :func:`open_cohort` to make one."""

    def __init__(self, path: Path, manifest: dict):
        self.path = Path(path)
        self.manifest = manifest

    # -- description ---------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def preset(self) -> str:
        return self.manifest["preset"]

    @property
    def seed(self) -> int:
        return self.manifest["seed"]

    @property
    def contigs(self) -> dict[str, int]:
        """Contig name → length, in the order of the genotype store."""
        return dict(self.manifest["parameters"]["contigs"])

    def __repr__(self) -> str:
        s = self.manifest.get("summary", {})
        return (
            f"<Cohort {self.name!r} preset={self.preset} seed={self.seed} "
            f"people={s.get('people')} variants={s.get('variants')}>"
        )

    def _repr_html_(self) -> str:
        s = self.manifest.get("summary", {})
        rows = [
            ("folder", str(self.path)),
            ("preset", self.preset),
            ("seed", self.seed),
            ("people", s.get("people")),
            ("rare-disease families", s.get("families")),
            ("variant sites", s.get("variants")),
            ("contigs", ", ".join(f"{c} ({n / 1e6:.2f} Mb)" for c, n in self.contigs.items())),
            ("populations", ", ".join(f"{k}: {v}" for k, v in s.get("populations", {}).items())),
        ]
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
            f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
            for k, v in rows
        )
        return f"<table><caption>Synthetic cohort {html.escape(self.name)}</caption>{body}</table>"

    # -- tables ----------------------------------------------------------------------------
    def _registry(self) -> sqlite3.Connection:
        path = self.path / "registry.sqlite"
        if not path.is_file():
            raise CohortFormatError(f"{path} is missing; regenerate the cohort", path=path)
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def _query(self, sql: str, params=()) -> pd.DataFrame:
        path = self.path / "registry.sqlite"
        try:
            with contextlib.closing(self._registry()) as conn:
                return pd.read_sql_query(sql, conn, params=params)
        except (sqlite3.DatabaseError, pd.errors.DatabaseError) as e:
            raise CohortFormatError(
                f"{path} is not a readable registry ({str(e).split(': ')[-1]}); restore it or "
                "regenerate the cohort",
                path=path,
            ) from e

    def samples(self) -> pd.DataFrame:
        """One row per person (pseudonymised: internal ids only), in genotype order."""
        table = self._query("SELECT * FROM samples")
        order = {s: i for i, s in enumerate(self.sample_ids)}
        return table.sort_values("person_id", key=lambda s: s.map(order)).reset_index(drop=True)

    def phenotypes(self) -> pd.DataFrame:
        """HPO terms per person (``person_id, hpo_id, label, excluded``)."""
        return self._query("SELECT * FROM phenotypes ORDER BY person_id, hpo_id")

    def consents(self) -> pd.DataFrame:
        """The current consent of every person (the highest version)."""
        return self._query(
            "SELECT c.* FROM consents c JOIN (SELECT person_id, MAX(version) AS version "
            "FROM consents GROUP BY person_id) m USING (person_id, version) ORDER BY person_id"
        )

    def pedigree(self) -> pd.DataFrame:
        """``pedigree.ped`` as a table (PLINK columns; ``"0"`` where a parent is unknown),
        checked to be a possible family tree (:func:`workbench.pedigree.read_pedigree`)."""
        from .pedigree import read_pedigree

        return read_pedigree(self.path / "pedigree.ped")

    def phenopacket(self, person_id: str) -> dict:
        """The Phenopacket v2 JSON of a proband, as a dict."""
        path = self.path / "phenopackets" / f"{person_id}.json"
        if not path.is_file():
            raise InputError(
                f"no phenopacket for {person_id!r}; probands are listed by "
                "cohort.samples().query('role == \"proband\"')"
            )
        from .synth.phenopackets import read_phenopacket

        read_phenopacket(path)  # the schema, strictly, and every HPO term: one line if not
        return json.loads(path.read_text(encoding="utf-8"))

    def truth(self) -> dict[str, pd.DataFrame]:
        """Instructor material: ``cases`` and planted ``variants`` (answers to the exercises)."""
        folder = self.path / "truth"
        if not folder.is_dir():
            raise CohortFormatError(
                f"{self.path} holds no truth/: the answers were withheld from this copy; an "
                "instructor publishes them with --with-answers"
            )
        return {
            "cases": pd.read_csv(folder / "cases.tsv", sep="\t"),
            "variants": pd.read_csv(folder / "variants.tsv", sep="\t"),
        }

    # -- reference and knowledge -----------------------------------------------------------
    @functools.cached_property
    def reference(self):
        """The synthetic reference genome and gene models (:class:`workbench.genome.Reference`)."""
        from .genome import Reference

        return Reference.read(self.path / "reference")

    @functools.cached_property
    def knowledge(self):
        """Population frequencies, clinical assertions, gene–disease panels, the ACMG SF list."""
        from .synth.knowledge import read_knowledge

        return read_knowledge(self.path / "knowledge")

    # -- consent-aware access ----------------------------------------------------------------
    def session(self, *, user: str, purpose, today: str | None = None):
        """A consent-aware :class:`~workbench.access.session.Session` for ``user``.

        ``purpose`` is ``workbench.Treatment(patient=…)``, ``workbench.Research(project=…)``,
        ``workbench.Teaching()`` or ``workbench.Stewardship()``. Every read through the session
        is decided afresh, filtered by each person's consent and audited.
        """
        from .access.session import Session

        return Session(self, user=user, purpose=purpose, today=today)

    # -- genotypes -------------------------------------------------------------------------
    @functools.cached_property
    def calls(self) -> GenotypeStore:
        """The cohort's genotype calls (``genotypes.vcz``), what the genome centre holds."""
        return GenotypeStore(self.path / "genotypes.vcz")

    @functools.cached_property
    def simulated(self) -> GenotypeStore | None:
        """Instructor material: the simulated genotypes of the families' members before
        calling noise (``truth/genotypes.vcz``), or ``None`` for a cohort without them.

        Reads are simulated from these, and pipeline calls are scored against them; the
        genotype calls differ by the missing calls and genotype errors of ``truth/noise.json``.
        """
        path = self.path / "truth" / "genotypes.vcz"
        return GenotypeStore(path) if path.is_dir() else None

    def genomes(self, person_ids):
        """Where the genomes of ``person_ids`` are read as they are, not as called.

        :attr:`simulated` when it holds every one of them (members of the rare-disease
        families), else the cohort itself, whose calls are the best there is. Both have
        ``variants``, ``genotypes`` and ``sample_ids``. Reads are simulated from these, and
        pipeline calls are scored against them.
        """
        simulated = self.simulated
        if simulated is not None and set(person_ids) <= set(simulated.sample_ids):
            return simulated
        return self

    def sequence(
        self,
        person_id: str,
        *,
        regions,
        label: str | None = None,
        max_pairs: int | None = None,
        **options,
    ):
        """The synthetic world's sequencer: one person's reads, as two gzipped FASTQ payloads.

        What the laboratory would deliver for ``person_id`` over ``regions``
        (:func:`workbench.synth.reads.read_pair`; ``options`` are the read model's, ``seed``
        among them). ``label`` names the person in the read names; ``max_pairs`` refuses a
        larger request before anything is made. Sessions call this
        (:meth:`workbench.access.session.Session.reads`) so that only reads leave them.
        """
        from .synth.reads import read_pair

        return read_pair(
            self, person_id, regions=regions, label=label, max_pairs=max_pairs, **options
        )

    @property
    def zarr(self):
        """The VCF Zarr store of the calls (read-only :class:`zarr.Group`), checked against
        its own metadata (see :attr:`GenotypeStore.zarr`)."""
        return self.calls.zarr

    @property
    def sample_ids(self) -> list[str]:
        return self.calls.sample_ids

    @property
    def public_folder(self) -> Path:
        """The folder holding the public parts, ``reference/`` and ``knowledge/``: here, the
        cohort folder (a remote cohort has a checked local copy)."""
        return self.path

    @functools.cached_property
    def version(self) -> str:
        """What identifies this cohort's contents: a digest of its manifest (which lists every
        file's SHA-256). Pipelines key their caches on it."""
        return hashlib.sha256((self.path / "manifest.json").read_bytes()).hexdigest()[:16]

    @property
    def size(self) -> int:
        """How many people the cohort holds genomes of (public, as a cohort's size is)."""
        return len(self.calls.sample_ids)

    def variants(self, *, contig: str | None = None, region=None) -> pd.DataFrame:
        """Variant sites: ``contig, position`` (1-based), ``ref``, ``alt`` (comma-separated)."""
        return self.calls.variants(contig=contig, region=region)

    def genotypes(self, *, contig: str | None = None, region=None, dask: bool | None = None):
        """Genotype calls as a scikit-allel array (see :meth:`GenotypeStore.genotypes`)."""
        return self.calls.genotypes(contig=contig, region=region, dask=dask)

    def calls_of(self, columns, *, contig: str | None = None, region=None) -> np.ndarray:
        """The calls of a few samples by column (see :meth:`GenotypeStore.calls_of`)."""
        return self.calls.calls_of(columns, contig=contig, region=region)


class _CheckedChunks:
    """A Zarr array whose reads turn a damaged chunk into :class:`CohortFormatError`.

    Dask reads chunks only when computed; through this wrapper a damaged chunk is the same
    one-line error whether it is read at once or by dask, later.
    """

    def __init__(self, array, path: Path):
        self.array, self.path = array, path
        self.shape, self.dtype, self.ndim = array.shape, array.dtype, array.ndim

    def __getitem__(self, key):
        try:
            return self.array[key]
        except (RuntimeError, ValueError, OSError) as e:  # e.g. blosc cannot decompress a chunk
            raise CohortFormatError(
                f"a chunk of {self.path} is damaged ({e}); restore the store or regenerate "
                "the cohort",
                path=self.path,
            ) from e


class GenotypeStore:
    """One VCF Zarr store of a cohort folder: its samples, sites and genotype calls."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"<GenotypeStore {str(self.path)!r}>"

    @functools.cached_property
    def zarr(self):
        """The VCF Zarr store (read-only :class:`zarr.Group`), checked against its own metadata.

        Raises
        ------
        CohortFormatError
            When the store or one of the arrays the workbench reads is missing or unreadable,
            or their shapes disagree (more calls than samples or sites, say).
        """
        return _open_store(self.path)

    @functools.cached_property
    def sample_ids(self) -> list[str]:
        return [str(s) for s in self.zarr["sample_id"][:]]

    @functools.cached_property
    def _site_index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(contig names, contig code per site, position per site)``, read once.

        Every region read looks its sites up here instead of reading them from the store
        again (a few bytes per site: 9 MB for the teaching preset's 10^6 sites).
        """
        names = np.array([str(c) for c in self.zarr["contig_id"][:]])
        contig = np.asarray(self.zarr["variant_contig"][:])
        position = np.asarray(self.zarr["variant_position"][:], dtype=np.int64)
        return names, contig, position

    @functools.cached_property
    def _contig_bounds(self) -> dict[str, tuple[int, int]]:
        names, contig, _ = self._site_index
        starts = np.searchsorted(contig, np.arange(len(names)), side="left")
        stops = np.searchsorted(contig, np.arange(len(names)), side="right")
        return {n: (int(a), int(b)) for n, a, b in zip(names, starts, stops, strict=True)}

    def _variant_slice(self, contig: str | None, region: tuple[int, int] | None) -> slice:
        if contig is None:
            if region is not None:
                raise InputError("a region needs its contig: genotypes(contig='chr1', region=…)")
            return slice(0, self.zarr["variant_position"].shape[0])
        if contig not in self._contig_bounds:
            raise InputError(
                f"unknown contig {contig!r}; this cohort has {list(self._contig_bounds)}"
            )
        lo, hi = self._contig_bounds[contig]
        if region is not None:
            start, end = region
            pos = self._site_index[2][lo:hi]
            lo, hi = (
                lo + int(np.searchsorted(pos, start)),
                lo + int(np.searchsorted(pos, end, side="right")),
            )
        return slice(lo, hi)

    def _ref_alt(self, sl: slice) -> tuple[np.ndarray, np.ndarray]:
        """Each site's reference and comma-joined alternate alleles (object arrays)."""
        alleles = np.asarray(self.zarr["variant_allele"][sl]).astype(object)
        return alleles[:, 0], _joined_alts(alleles)

    @functools.cached_property
    def _all_ref_alt(self) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_ref_alt` of every site, decoded once for the large reads.

        A case reads the family's calls over the panel genes of every contig, which is most
        of an exome-scale store's sites: the allele strings were decoded again for every
        case (4–6 s of the teaching preset's 10^6 sites). Sites only, nothing per person.
        """
        return self._ref_alt(slice(0, self.zarr["variant_position"].shape[0]))

    def variants(self, *, contig: str | None = None, region=None) -> pd.DataFrame:
        """Variant sites: ``contig, position`` (1-based), ``ref``, ``alt`` (comma-separated)."""
        sl = self._variant_slice(contig, region)
        names, contig, position = self._site_index
        if sl.stop - sl.start >= _ALLELE_CACHE_SITES:
            ref, alt = (a[sl].copy() for a in self._all_ref_alt)  # callers may write
        else:
            ref, alt = self._ref_alt(sl)
        return pd.DataFrame(
            {"contig": names[contig[sl]], "position": position[sl].copy(), "ref": ref, "alt": alt},
            index=pd.RangeIndex(sl.start, sl.stop, name="variant_index"),
        )

    def genotypes(self, *, contig: str | None = None, region=None, dask: bool | None = None):
        """Genotype calls as a scikit-allel array (variants × samples × ploidy 2).

        Males carry one X: their second allele on chrX is ``-2`` (no allele), which
        scikit-allel treats as missing. ``dask=None`` chooses a dask-backed
        :class:`allel.GenotypeDaskArray` for large selections (the national preset) and an
        in-memory :class:`allel.GenotypeArray` otherwise.
        """
        import allel

        sl = self._variant_slice(contig, region)
        arr = self.zarr["call_genotype"]
        n_calls = (sl.stop - sl.start) * arr.shape[1]
        if dask is None:
            dask = n_calls > _DASK_THRESHOLD
        calls = _CheckedChunks(arr, self.path / "call_genotype")
        if dask:
            import dask.array as da
            from dask.base import tokenize

            name = "call-genotype-" + tokenize(str(self.path), arr.shape, arr.chunks)
            return allel.GenotypeDaskArray(da.from_array(calls, chunks=arr.chunks, name=name)[sl])
        return allel.GenotypeArray(calls[sl])

    def calls_of(self, columns, *, contig: str | None = None, region=None) -> np.ndarray:
        """The calls of a few samples (``columns``: their indices in :attr:`sample_ids`).

        ``variants × len(columns) × 2`` int8, in the order given. Only those samples are
        copied out of each chunk: a family's read over a contig never holds the whole
        cohort's calls in memory, as :meth:`genotypes` followed by a column take would.
        """
        sl = self._variant_slice(contig, region)
        cols = np.asarray(columns, dtype=np.int64).reshape(-1)
        if cols.size == 0 or sl.stop <= sl.start:
            return np.zeros((max(sl.stop - sl.start, 0), cols.size, 2), dtype=np.int8)
        unique, inverse = np.unique(cols, return_inverse=True)
        calls = _CheckedChunks(self.zarr["call_genotype"], self.path / "call_genotype")
        block = np.asarray(calls[sl, unique.tolist(), :], dtype=np.int8)
        return block if len(unique) == len(cols) and (unique == cols).all() else block[:, inverse]


#: Arrays of the VCF Zarr store the workbench reads, and the dimensions each must share.
_STORE_ARRAYS = {
    "sample_id": ("samples",),
    "contig_id": ("contigs",),
    "variant_contig": ("variants",),
    "variant_position": ("variants",),
    "variant_allele": ("variants", None),
    "call_genotype": ("variants", "samples", None),
}


def _joined_alts(alleles: np.ndarray) -> np.ndarray:
    """The alternate alleles of each site joined with commas, empty slots skipped.

    ``alleles`` is the VCZ ``variant_allele`` array as objects (column 0 the reference).
    Column by column rather than site by site: an exome-scale contig has 10^5 sites.
    """
    alts = np.full(len(alleles), "", dtype=object)
    for j in range(1, alleles.shape[1]):
        extra = alleles[:, j].astype(object)
        has = extra != ""
        first = has & (alts == "")
        alts[first] = extra[first]
        more = has & ~first
        alts[more] = alts[more] + "," + extra[more]
    return alts


def _open_store(path: Path):
    """Open a VCF Zarr store read-only and check it against its own metadata."""
    import zarr

    if not path.is_dir():
        raise CohortFormatError(
            f"{path} does not exist or is no folder; regenerate the cohort", path=path
        )
    try:
        group = zarr.open_group(path, mode="r")
    except (OSError, ValueError, TypeError) as e:
        raise CohortFormatError(
            f"{path} is not a readable Zarr store ({type(e).__name__}: {e}); restore it or "
            "regenerate the cohort",
            path=path,
        ) from e
    arrays = {}
    for name in _STORE_ARRAYS:
        try:
            arrays[name] = group[name]
        except KeyError as e:
            raise CohortFormatError(
                f"{path / name} is missing; a VCF Zarr store holds {', '.join(_STORE_ARRAYS)}: "
                "restore it or regenerate the cohort",
                path=path,
            ) from e
        except (OSError, ValueError, TypeError) as e:  # unreadable JSON metadata, for one
            raise CohortFormatError(
                f"{path / name} has unreadable metadata ({type(e).__name__}: {e}); restore it "
                "or regenerate the cohort",
                path=path,
            ) from e
    sizes: dict[str, tuple[str, int]] = {}
    for name, dims in _STORE_ARRAYS.items():
        shape = arrays[name].shape
        if len(shape) < len([d for d in dims if d]):
            raise CohortFormatError(f"{path / name} has shape {shape}; expected {dims}", path=path)
        for dim, n in zip(dims, shape, strict=False):
            if dim is None:
                continue
            first = sizes.setdefault(dim, (name, n))
            if first[1] != n:
                raise CohortFormatError(
                    f"{path / name} claims {n} {dim} but {path / first[0]} holds {first[1]}; "
                    "the store is inconsistent with its own metadata: restore it or regenerate",
                    path=path,
                )
    return group
