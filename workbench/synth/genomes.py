"""From simulated tree sequences to the cohort's genotype files.

* :func:`assign_reference_alleles` makes every simulated site agree with the synthetic reference.
* :func:`plant_variants` adds the clinically planned alleles on the right branches.
* :class:`CohortSource` presents all contigs as one `bio2zarr` source, so bio2zarr's encoder
  streams the VCF Zarr store chunk by chunk (the national preset never holds its genotype
  matrix in memory); :func:`write_vcf` writes the bgzipped interchange copy from the same source.
* :func:`panel_frequencies` gives gnomAD-like allele frequencies from the reference panel.

Positions: tree sequences use 0-based coordinates, everything written uses VCF's 1-based ones.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import tskit
from bio2zarr import constants, core, vcz, zarr_utils
from bio2zarr.zarr_utils import STRING_DTYPE_NAME
from tqdm.auto import tqdm

from ..errors import InputError
from .calling import NO_NOISE, NOISE_BLOCK, CallingNoise, noisy_calls
from .population import ContigGenomes

__all__ = [
    "CohortSource",
    "assign_reference_alleles",
    "de_novo_sites",
    "genotypes_at",
    "panel_frequencies",
    "plant_variants",
    "write_vcf",
    "write_vcz",
]

_BASES = "ACGT"


def assign_reference_alleles(ts: tskit.TreeSequence, sequence: str) -> tskit.TreeSequence:
    """Relabel each site's alleles so that its ancestral state is the reference base.

    msprime draws ancestral states at random; a per-site permutation of the nucleotides maps
    the ancestral state onto the reference base while keeping every mutation a change. The
    permutation keeps purines and pyrimidines paired ({A, G} and {C, T} go to one of the two
    classes whole), so a transition stays a transition and Ti/Tv is unchanged.
    """
    tables = ts.dump_tables()
    positions = tables.sites.position.astype(np.int64)
    ancestral = tskit.unpack_strings(
        tables.sites.ancestral_state, tables.sites.ancestral_state_offset
    )
    ref = [sequence[p] for p in positions]
    swap = [_class_preserving_swap(a, r) for a, r in zip(ancestral, ref, strict=True)]
    tables.sites.packset_ancestral_state(ref)
    derived = tskit.unpack_strings(
        tables.mutations.derived_state, tables.mutations.derived_state_offset
    )
    site = tables.mutations.site
    tables.mutations.packset_derived_state(
        [swap[s].get(d, d) for s, d in zip(site, derived, strict=True)]
    )
    return tables.tree_sequence()


_TRANSITION_PARTNER = {"A": "G", "G": "A", "C": "T", "T": "C"}


def _class_preserving_swap(a: str, r: str) -> dict[str, str]:
    """A nucleotide permutation taking ``a`` to ``r`` that maps transitions to transitions."""
    if a == r:
        return {}
    if _TRANSITION_PARTNER[a] == r:  # same class: swap within it
        return {a: r, r: a}
    pa, pr = _TRANSITION_PARTNER[a], _TRANSITION_PARTNER[r]  # other class: swap both pairs
    return {a: r, r: a, pa: pr, pr: pa}


@dataclasses.dataclass
class _Plant:
    key: str
    contig: str
    pos0: int
    ref: str
    alt: str
    nodes: list[int]


def plant_variants(
    genomes: dict[str, ContigGenomes],
    plants: pd.DataFrame,
    people: pd.DataFrame,
    *,
    reference,
    design_variant,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Place planned alleles (``synth.model`` PLANT_COLUMNS) on the tree sequences.

    ``genomes`` is updated in place: each contig's entry is replaced by its planted genomes as
    soon as they are built, so the old tree sequence can be freed before the next contig's
    is copied (a whole exome-scale genome is never held twice; give a copy of the dict to
    keep the unplanted one).

    Each allele copy goes on the node whose descendants are exactly the intended carriers: a
    de novo allele on the child's own node, an inherited one on the transmitting parent's node
    (found in the tree at that position), a founder's on one (or both) of the person's nodes.
    ``benign_common`` variants go on an internal node carried by 5–40 % of the cohort's
    chromosomes, so their frequency follows the genealogy (the plan's carriers are ignored).
    Simulated sites that overlap a planted allele are removed.

    Returns one row per planted variant (``variant_key``, ``category``, ``gene``, ``effect``,
    ``contig``, ``position`` (1-based), ``ref``, ``alt``).
    """
    index = {pid: i for i, pid in enumerate(people.person_id)}
    # Only planted alleles reserve positions: a simulated site under a planted allele is
    # dropped (in a national cohort nearly every splice-site base carries some simulated SNV).
    taken: set[tuple[str, int]] = set()
    rows = []
    # First design every variant (positions), then place them contig by contig in position
    # order with one Tree per contig that seeks forward: a tskit Tree holds arrays over all
    # nodes, and a national tree sequence has millions of them.
    designed = []
    for key, group in plants.groupby("variant_key", sort=True):
        first = group.iloc[0]
        effect, (contig, pos1, ref, alt) = _design_with_fallback(
            design_variant, reference, first.gene, first.effect, rng=rng, taken=taken
        )
        taken.update((contig, pos1 + k) for k in range(len(ref)))
        designed.append((key, group, effect, contig, pos1, ref, alt))
        rows.append(
            dict(
                variant_key=key,
                category=first.category,
                gene=first.gene,
                effect=effect,
                contig=contig,
                position=pos1,
                ref=ref,
                alt=alt,
            )
        )
    # Each contig is read once: its alleles are placed, then added, before the next contig.
    for contig in list(genomes):
        mine = sorted((d for d in designed if d[3] == contig), key=lambda d: (d[4], d[0]))
        if not mine:
            continue
        g = genomes[contig]
        # Track the cohort's genotype nodes, so a clade's frequency is the cohort's.
        cohort = np.unique(g.cohort_nodes[g.cohort_nodes >= 0])
        tree = tskit.Tree(g.ts, tracked_samples=cohort)
        planted: list[_Plant] = []
        for key, group, _, _, pos1, ref, alt in mine:
            tree.seek(pos1 - 1)
            if group.iloc[0].category == "benign_common":
                nodes = [_common_node(tree, cohort, rng)]
            else:
                nodes = []
                for row in group.itertuples(index=False):
                    nodes.extend(_carrier_nodes(row, people, index, g, tree, rng))
            planted.append(
                _Plant(key, contig, pos1 - 1, ref, alt, _without_descendants(tree, nodes))
            )
        del tree
        genomes[contig] = dataclasses.replace(g, ts=_add_sites(g.ts, planted))
        del g
    return pd.DataFrame(
        rows,
        columns=["variant_key", "category", "gene", "effect", "contig", "position", "ref", "alt"],
    )


#: Null (loss-of-function) effects, interchangeable when a small gene runs out of positions.
_NULL_EFFECTS = (
    "stop_gained",
    "frameshift_variant",
    "splice_donor_variant",
    "splice_acceptor_variant",
    "start_lost",
)


def _design_with_fallback(design_variant, reference, gene, effect, *, rng, taken):
    """Design ``effect`` in ``gene``; a null effect falls back to another null effect.

    In a national cohort many families share a gene, and a small gene has only a few
    canonical splice bases or start-codon positions free. Returns ``(effect, variant)``.
    """
    options = [effect]
    if effect in _NULL_EFFECTS:
        options += [e for e in _NULL_EFFECTS if e != effect]
    for i, option in enumerate(options):
        try:
            return option, design_variant(reference, gene, option, rng=rng, taken=taken)
        except InputError:
            if i == len(options) - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _person_nodes(g: ContigGenomes, i: int) -> list[int]:
    return [int(n) for n in g.cohort_nodes[i] if n >= 0]


def _carrier_nodes(row, people, index, g: ContigGenomes, tree, rng) -> list[int]:
    if row.person_id not in index:
        raise InputError(f"planted variant {row.variant_key} names unknown person {row.person_id}")
    i = index[row.person_id]
    person = people.iloc[i]
    male_x = g.is_x and person.sex == "male"
    if row.origin == "founder":
        nodes = _person_nodes(g, i)
        if int(row.copies) == 2 or len(nodes) == 1:
            return nodes
        return [nodes[int(rng.integers(2))]]
    if int(row.copies) != 1:
        raise InputError(
            f"planted variant {row.variant_key}: origin {row.origin!r} places one copy, "
            f"got copies={row.copies}; use two rows (paternal and maternal) for homozygosity"
        )
    if row.origin == "de_novo":
        # Most de novo mutations arise in the paternal germline; a male's X is maternal.
        return [int(g.cohort_nodes[i, 0])]
    parent_col = {"paternal": "father_id", "maternal": "mother_id"}.get(row.origin)
    if parent_col is None:
        raise InputError(
            f"planted variant {row.variant_key}: origin must be de_novo, paternal, maternal or "
            f"founder, got {row.origin!r}"
        )
    if pd.isna(person[parent_col]):
        raise InputError(
            f"planted variant {row.variant_key}: {row.person_id} has no {row.origin} parent "
            "in the cohort; use origin 'founder'"
        )
    if male_x and row.origin == "paternal":
        raise InputError(
            f"planted variant {row.variant_key}: a male's X is maternal; {row.person_id} cannot "
            "inherit a paternal X allele"
        )
    # The child's genotype node that came from this parent (on X, a male's only node).
    child_node = int(
        g.cohort_nodes[i, 0] if (row.origin == "paternal" or male_x) else g.cohort_nodes[i, 1]
    )
    parent_node = tree.parent(child_node)
    parent_nodes = _person_nodes(g, index[person[parent_col]])
    if parent_node not in parent_nodes:  # pragma: no cover - a broken pedigree simulation
        raise AssertionError(f"{row.person_id}: node {child_node} does not descend from parent")
    return [int(parent_node)]


def _common_node(tree: tskit.Tree, cohort: np.ndarray, rng) -> int:
    """A clade carried by about 5–40 % of the cohort's genotyped chromosomes.

    Climb from a random cohort chromosome towards the root and stop at the first ancestor
    whose clade holds at least 5 % of the cohort (below 40 % when the tree allows).
    """
    total = len(cohort)
    u = int(cohort[rng.integers(total)])
    best = u
    while tree.parent(u) >= 0:
        u = tree.parent(u)
        if tree.parent(u) < 0:  # never the root: everybody would carry it
            break
        share = tree.num_tracked_samples(u) / total
        if share > 0.4:
            break
        best = u
        if share >= 0.05:
            break
    return int(best)


def _without_descendants(tree: tskit.Tree, nodes: list[int]) -> list[int]:
    nodes = sorted(set(nodes))
    keep = []
    for u in nodes:
        if not any(v != u and tree.is_descendant(u, v) for v in nodes):
            keep.append(u)
    return keep


def _add_sites(ts: tskit.TreeSequence, planted: Sequence[_Plant]) -> tskit.TreeSequence:
    if not planted:
        return ts
    # Drop simulated sites that a planted allele overlaps.
    spans = [(p.pos0, p.pos0 + len(p.ref)) for p in planted]
    pos = ts.tables.sites.position
    overlap = np.zeros(len(pos), dtype=bool)
    for a, b in spans:
        overlap |= (pos >= a) & (pos < b)
    if overlap.any():
        ts = ts.delete_sites(np.flatnonzero(overlap))
    tables = ts.dump_tables()
    node_time = tables.nodes.time
    tree = tskit.Tree(ts)
    for p in sorted(planted, key=lambda p: p.pos0):
        site = tables.sites.add_row(position=p.pos0, ancestral_state=p.ref)
        tree.seek(p.pos0)
        for u in p.nodes:
            parent = tree.parent(u)
            t_top = node_time[parent] if parent >= 0 else node_time[u] + 2
            tables.mutations.add_row(
                site=site, node=u, derived_state=p.alt, time=(node_time[u] + t_top) / 2
            )
    tables.sort()
    tables.build_index()
    tables.compute_mutation_parents()
    return tables.tree_sequence()


def _sites_with_cohort_carriers(g: ContigGenomes) -> np.ndarray:
    """Ids of the sites where a cohort genotype node carries a non-reference allele.

    That is, a site with a mutation to a state other than the ancestral one above at least
    one of the cohort's nodes. Simplifying to the cohort's nodes (ids, sites and the other
    nodes kept) drops exactly the mutations above none of them, so the test runs on tables
    in C rather than tree by tree in Python.
    """
    ts = g.ts
    cohort = np.unique(g.cohort_nodes[g.cohort_nodes >= 0])
    tables = ts.simplify(
        samples=cohort, filter_sites=False, filter_nodes=False, keep_unary=True
    ).tables
    muts, sites = tables.mutations, tables.sites
    derived = tskit.unpack_strings(muts.derived_state, muts.derived_state_offset)
    ancestral = tskit.unpack_strings(sites.ancestral_state, sites.ancestral_state_offset)
    changed = np.asarray(derived, dtype=object) != np.asarray(ancestral, dtype=object)[muts.site]
    keep = np.zeros(ts.num_sites, dtype=bool)
    keep[muts.site[changed]] = True
    return np.flatnonzero(keep)


def de_novo_sites(genomes: Iterable[ContigGenomes], people: pd.DataFrame) -> pd.DataFrame:
    """The true de novo variants of every child with both parents in the cohort.

    A mutation on one of the child's own genotype nodes arose in a parent's germline, on the
    branch to this child: it is de novo in the child and absent from both parents. One row per
    (child, variant): ``person_id, contig, position`` (1-based).
    """
    child = people.father_id.notna() & people.mother_id.notna()
    rows = []
    for g in genomes:
        owner = {
            int(n): people.person_id.iloc[i]
            for i in np.flatnonzero(child)
            for n in g.cohort_nodes[i]
            if n >= 0
        }
        if not owner:
            continue
        muts = g.ts.tables.mutations
        sites = g.ts.tables.sites
        for m in np.flatnonzero(np.isin(muts.node, list(owner))):
            rows.append((owner[int(muts.node[m])], g.contig, int(sites.position[muts.site[m]]) + 1))
    table = pd.DataFrame(rows, columns=["person_id", "contig", "position"])
    return table.drop_duplicates().sort_values(
        ["person_id", "contig", "position"], ignore_index=True
    )


def genotypes_at(g: ContigGenomes, positions0: Sequence[int]) -> np.ndarray:
    """Cohort genotypes ``(len(positions0), n_people, 2)`` at the given 0-based site positions.

    Allele indices follow the site's alleles (0 = reference); ``-2`` fills a male's missing X.
    """
    ts = g.ts
    site_pos = ts.tables.sites.position
    out = np.full((len(positions0), len(g.cohort_nodes), 2), constants.INT_FILL, dtype=np.int8)
    samples = np.unique(g.cohort_nodes[g.cohort_nodes >= 0])
    col = np.searchsorted(samples, g.cohort_nodes.clip(0))
    valid = g.cohort_nodes >= 0
    for k, p in enumerate(positions0):
        site = int(np.searchsorted(site_pos, p))
        if site >= len(site_pos) or site_pos[site] != p:
            raise InputError(f"{g.contig}:{p + 1} is not a site of the simulated genomes")
        var = next(ts.variants(samples=samples, left=p, right=p + 1, copy=True))
        gt = var.genotypes[col]
        out[k][valid] = gt[valid]
    return out


class CohortSource(vcz.Source):
    """All contigs of a simulated cohort as one bio2zarr source.

    bio2zarr's :func:`bio2zarr.vcz.encode` asks for the variants partition by partition, and
    this source walks the tree sequences over just that range, so memory stays bounded by the
    chunk size whatever the cohort's size.

    A record is written only where someone in the cohort carries a non-reference allele (the
    tree sequences also hold reference-panel people; their private alleles stay in the panel's
    frequencies). ``noise`` turns the true genotypes into calls (:mod:`.calling`), except at the
    1-based positions in ``exempt`` (contig → positions), where the calls stay true.
    ``rows`` picks the people written (rows of each contig's ``cohort_nodes``, in the order
    of ``sample_ids``); by default everyone.
    """

    def __init__(
        self,
        genomes: Sequence[ContigGenomes],
        sample_ids: Sequence[str],
        *,
        rows: np.ndarray | None = None,
        noise: CallingNoise = NO_NOISE,
        noise_seed: int = 0,
        exempt: Mapping[str, Iterable[int]] | None = None,
    ):
        # A sequence is kept as given, so one that loads each contig when it is indexed
        # (:meth:`.genome_store.GenomeStore.as_sequence`) is never loaded whole.
        self.genomes = genomes if isinstance(genomes, Sequence) else list(genomes)
        self.noise = noise
        self._noise_seed = int(noise_seed)
        self._samples = [vcz.Sample(id=s) for s in sample_ids]
        exempt = exempt or {}
        # Per contig, read one after another: the ids of the sites written, their 1-based
        # positions, whether their calls stay true, the sample nodes asked of tskit and
        # where each genotype slot reads from.
        self._sites, self._positions, exempt_rows, self._layout = [], [], [], []
        self._contigs = []
        for g in self.genomes:
            nodes = g.cohort_nodes if rows is None else g.cohort_nodes[rows]
            sites = _sites_with_cohort_carriers(dataclasses.replace(g, cohort_nodes=nodes))
            positions = g.ts.tables.sites.position[sites].astype(np.int64) + 1
            self._sites.append(sites)
            self._positions.append(positions)
            keep = np.fromiter(exempt.get(g.contig, ()), dtype=np.int64)
            exempt_rows.append(np.isin(positions, keep))
            samples = np.unique(nodes[nodes >= 0])
            sample_index, ploidy_index = np.nonzero(nodes >= 0)
            columns = np.searchsorted(samples, nodes[sample_index, ploidy_index])
            # where each genotype slot sits in a flattened (samples × 2) record
            self._layout.append((samples, sample_index * 2 + ploidy_index, columns))
            self._contigs.append(vcz.Contig(id=g.contig, length=int(g.ts.sequence_length)))
        counts = [len(s) for s in self._sites]
        self._offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        # Per record of the whole file: whether its calls stay true.
        self._exempt = np.concatenate([np.zeros(0, dtype=bool), *exempt_rows])

    @property
    def path(self):
        return None

    @property
    def num_records(self):
        return int(self._offsets[-1])

    @property
    def num_samples(self):
        return len(self._samples)

    @property
    def samples(self):
        return self._samples

    @property
    def contigs(self):
        return list(self._contigs)

    def _parts(self, start: int, stop: int) -> Iterator[tuple[int, int, int]]:
        """(contig index, local start, local stop) covering global variants [start, stop)."""
        for c in range(len(self.genomes)):
            lo = max(start, self._offsets[c])
            hi = min(stop, self._offsets[c + 1])
            if lo < hi:
                yield c, int(lo - self._offsets[c]), int(hi - self._offsets[c])

    def iter_contig(self, start, stop):
        for c, lo, hi in self._parts(start, stop):
            yield from (c for _ in range(lo, hi))

    def iter_field(self, field_name, shape, dtype, start, stop):
        if field_name != "position":
            raise ValueError(f"Unknown field {field_name}")
        for c, lo, hi in self._parts(start, stop):
            yield from (int(p) for p in self._positions[c][lo:hi])

    def _true_block(self, start: int, stop: int):
        """The records [start, stop) as they were simulated.

        Returns their (contig index, 1-based position, alleles) and their genotypes
        ``(records, samples, 2)``.
        """
        meta = []
        gts = np.full((stop - start, self.num_samples, 2), constants.INT_FILL, dtype=np.int8)
        flat = gts.reshape(stop - start, -1)
        for c, lo, hi in self._parts(start, stop):
            g = self.genomes[c]
            sites = self._sites[c]
            samples, slots, columns = self._layout[c]
            pos = g.ts.tables.sites.position
            right = pos[sites[hi]] if hi < len(sites) else None
            k = lo
            for var in g.ts.variants(samples=samples, left=pos[sites[lo]], right=right, copy=False):
                if k == hi:
                    break
                if var.site.id != sites[k]:  # a site no one in the cohort carries
                    continue
                flat[len(meta), slots] = var.genotypes[columns]
                meta.append((c, int(self._positions[c][k]), var.alleles))
                k += 1
        return meta, gts

    def iter_blocks(self, start: int, stop: int):
        """The calls of records [start, stop), a block at a time: (meta, genotypes) pairs.

        ``meta`` lists each record's (contig index, 1-based position, alleles) and the
        genotypes are ``(records, samples, 2)``. The noise is drawn per block of
        :data:`.calling.NOISE_BLOCK` records of the whole file (:func:`.calling.noisy_calls`),
        so a range that starts or stops inside a block reads the whole block and yields its
        part: the calls never depend on the ranges asked for.
        """
        first = start - start % NOISE_BLOCK
        for b0 in range(first, stop, NOISE_BLOCK):
            b1 = min(b0 + NOISE_BLOCK, self.num_records)
            meta, gts = self._true_block(b0, b1)
            keep = self._exempt[b0:b1]
            if self.noise != NO_NOISE:
                saved = gts[keep]
                noisy_calls(
                    gts,
                    noise=self.noise,
                    seed=self._noise_seed,
                    block=b0 // NOISE_BLOCK,
                    num_records=self.num_records,
                )
                gts[keep] = saved
            lo, hi = max(start, b0) - b0, min(stop, b1) - b0
            yield meta[lo:hi], gts[lo:hi]

    def iter_records(self, start, stop) -> Iterator[tuple[int, int, tuple[str, ...], np.ndarray]]:
        """(contig index, 1-based position, alleles, genotype calls (samples × 2)) per record."""
        for meta, gts in self.iter_blocks(start, stop):
            for (c, pos, alleles), gt in zip(meta, gts, strict=True):
                yield c, pos, alleles, gt

    def iter_alleles_and_genotypes(self, start, stop, shape, num_alleles):
        phased = np.ones(shape[:-1], dtype=bool)
        for _, _, alleles, gt in self.iter_records(start, stop):
            out = np.full(num_alleles, constants.STR_FILL, dtype=STRING_DTYPE_NAME)
            for i, a in enumerate(alleles):
                if a is not None:
                    out[i] = a
            yield vcz.VariantData(len(alleles[0]), out, gt, phased)

    def generate_schema(self, variants_chunk_size=None, samples_chunk_size=None, **kwargs):
        max_alleles, max_len, max_pos = 2, 1, 1
        for g, positions in zip(self.genomes, self._positions, strict=True):
            ts = g.ts
            if ts.num_sites:
                max_pos = max(max_pos, int(positions.max()))
                per_site = np.bincount(ts.tables.mutations.site, minlength=ts.num_sites)
                max_alleles = max(max_alleles, int(per_site.max()) + 1)
                for col in (
                    ts.tables.sites.ancestral_state_offset,
                    ts.tables.mutations.derived_state_offset,
                ):
                    if len(col) > 1:
                        max_len = max(max_len, int(np.diff(col).max()))
        dims = vcz.standard_dimensions(
            variants_size=self.num_records,
            variants_chunk_size=variants_chunk_size,
            samples_size=self.num_samples,
            samples_chunk_size=samples_chunk_size,
            ploidy_size=2,
            alleles_size=max_alleles,
        )
        spec = vcz.ZarrArraySpec
        fields = [
            spec(
                source="position",
                name="variant_position",
                dtype=core.min_int_dtype(0, max_pos),
                dimensions=["variants"],
                description="Position of each variant (1-based)",
            ),
            spec(
                source=None,
                name="variant_allele",
                dtype=STRING_DTYPE_NAME,
                dimensions=["variants", "alleles"],
                description="Alleles for each variant",
            ),
            spec(
                source=None,
                name="variant_length",
                dtype=core.min_int_dtype(0, max_len),
                dimensions=["variants"],
                description="Length of the reference allele",
            ),
            spec(
                source=None,
                name="variant_contig",
                dtype=core.min_int_dtype(0, len(self.genomes)),
                dimensions=["variants"],
                description="Contig index for each variant",
            ),
            spec(
                source=None,
                name="call_genotype_phased",
                dtype="bool",
                dimensions=["variants", "samples"],
                description="Whether the call is phased",
                compressor=dict(zarr_utils.DEFAULT_COMPRESSOR_BOOL_CONFIG),
            ),
            spec(
                source=None,
                name="call_genotype",
                dtype=core.min_int_dtype(constants.INT_FILL, max_alleles - 1),
                dimensions=["variants", "samples", "ploidy"],
                description="Genotype for each variant and sample (-2: no allele, male X)",
                compressor=dict(zarr_utils.DEFAULT_COMPRESSOR_GENOTYPES_CONFIG),
            ),
            spec(
                source=None,
                name="call_genotype_mask",
                dtype="bool",
                dimensions=["variants", "samples", "ploidy"],
                description="Mask for each genotype call",
                compressor=dict(zarr_utils.DEFAULT_COMPRESSOR_BOOL_CONFIG),
            ),
        ]
        return vcz.VcfZarrSchema(
            format_version=vcz.ZARR_SCHEMA_FORMAT_VERSION, dimensions=dims, fields=fields
        )


def write_vcz(
    source: CohortSource,
    path: str | os.PathLike,
    *,
    variants_chunk_size: int | None = None,
    samples_chunk_size: int | None = None,
    show_progress: bool = True,
) -> None:
    """Encode ``source`` as VCF Zarr at ``path`` with bio2zarr (format 2, chunked).

    Every chunk is written, all-zero ones included. bio2zarr declares ``fill_value: null``
    (zarr-python issue 3197), and under the Zarr v2 specification an absent chunk of such an
    array has no defined value: zarr 3 and vcztools read zeros, zarr 2 (sgkit) uninitialised
    memory. With every chunk present, all conforming readers read the same store.
    """
    import zarr

    schema = source.generate_schema(
        variants_chunk_size=variants_chunk_size, samples_chunk_size=samples_chunk_size
    )
    with zarr.config.set({"array.write_empty_chunks": True}):
        vcz.encode(source, schema, str(path), show_progress=show_progress, zarr_format=2)


@functools.cache
def _genotype_text_table(width: int) -> np.ndarray:
    """VCF text of every call, indexed by its two int8 allele codes read as one uint16.

    Each entry holds the call and a tab, NUL-padded to ``width`` bytes (4 fits alleles up to
    9, 8 every allele up to 99): a block of calls becomes text by one lookup. Codes: -2 no
    second allele (a haploid call), -1 missing.
    """
    dtype = {4: np.uint32, 8: np.uint64}[width]
    table = np.zeros(1 << 16, dtype=dtype)
    top = 9 if width == 4 else 99
    for a in range(-1, top + 1):
        for b in range(-2, top + 1):
            sa = "." if a == -1 else str(a)
            sb = "." if b == -1 else str(b)
            text = ((sa if b == -2 else f"{sa}|{sb}") + "\t").encode().ljust(width, b"\0")
            key = np.array([a, b], dtype=np.int8).view(np.uint16)[0]
            table[key] = np.frombuffer(text, dtype=dtype)[0]
    return table


def _calls_text(gts: np.ndarray) -> list[bytes]:
    """Each record's calls ``(records, samples, 2)`` as a VCF line's tab-separated GT fields."""
    records = len(gts)
    if not records:
        return []
    top = int(gts.max())
    if top > 99:
        raise ValueError(f"allele code {top} is beyond what a VCF line is written for (99)")
    key = np.ascontiguousarray(gts, dtype=np.int8).view(np.uint16).reshape(records, -1)
    narrow = top < 10
    text = _genotype_text_table(4 if narrow else 8)[key]
    if narrow and not (gts[..., 1] == -2).any():  # no padding to drop: fixed-width fields
        data, width = text.tobytes(), text.shape[1] * 4
        return [data[i * width : (i + 1) * width - 1] for i in range(records)]
    raw = text.view(np.uint8).reshape(records, -1)
    keep = raw != 0
    ends = np.cumsum(keep.sum(axis=1)).tolist()
    data = raw[keep].tobytes()
    # each record's fields without the last tab
    return [data[a : b - 1] for a, b in zip([0, *ends[:-1]], ends, strict=True)]


def write_vcf(
    source: CohortSource,
    path: str | os.PathLike,
    *,
    reference_name: str = "genome.fa",
    source_name: str = "clinical-genomics-workbench",
    show_progress: bool = True,
) -> None:
    """Write a bgzipped, tabix-indexed VCF 4.3 of ``source`` (pysam's BGZF and tabix)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    header = [
        "##fileformat=VCFv4.3",
        f"##source={source_name}",
        f"##reference={reference_name}",
        *(f"##contig=<ID={c.id},length={c.length}>" for c in source.contigs),
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype; haploid on X in males">',
        "#"
        + "\t".join(
            ["CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT"]
            + [s.id for s in source.samples]
        ),
    ]
    contig_names = [c.id for c in source.contigs]
    try:
        with pysam.BGZFile(str(tmp), "wb") as f:
            f.write(("\n".join(header) + "\n").encode())
            bar = tqdm(
                total=source.num_records, desc="VCF", unit="variant", disable=not show_progress
            )
            for meta, gts in source.iter_blocks(0, source.num_records):
                lines = []
                for (c, pos, alleles), calls in zip(meta, _calls_text(gts), strict=True):
                    alt = ",".join(a for a in alleles[1:] if a is not None) or "."
                    fixed = f"{contig_names[c]}\t{pos}\t.\t{alleles[0]}\t{alt}\t.\tPASS\t.\tGT\t"
                    lines.append(fixed.encode() + calls)
                f.write(b"\n".join(lines) + b"\n")
                bar.update(len(lines))
            bar.close()
        pysam.tabix_index(str(tmp), preset="vcf", force=True)
        os.replace(tmp, path)
        os.replace(f"{tmp}.tbi", f"{path}.tbi")
    finally:
        for p in (tmp, Path(f"{tmp}.tbi")):
            if p.exists():
                p.unlink()


def _site_allele_counts(ts: tskit.TreeSequence, samples, pop_code, n_codes: int):
    """Every site's alternate alleles and their counts per population code among ``samples``.

    Returns 1-based positions, reference and alternate alleles (one entry per alternate
    allele, in tskit's allele order) and counts ``(entries, n_codes)``. Sites with one
    mutation, nearly all of them, are counted by tskit in one pass over the trees; the others
    are decoded one by one.
    """
    tables = ts.tables
    per_site = np.bincount(tables.mutations.site, minlength=ts.num_sites)
    counts = np.zeros((ts.num_sites, n_codes), dtype=np.int64)
    sets = [(k, samples[pop_code == k]) for k in range(n_codes)]
    sets = [(k, s) for k, s in sets if len(s)]
    if ts.num_sites and sets:
        by_set = ts.sample_count_stat(
            [s for _, s in sets],
            lambda x: x,
            len(sets),
            windows="sites",
            mode="site",
            span_normalise=False,
            polarised=True,
            strict=False,
        )
        counts[:, [k for k, _ in sets]] = np.rint(by_set).astype(np.int64)
    ancestral = tskit.unpack_strings(
        tables.sites.ancestral_state, tables.sites.ancestral_state_offset
    )
    derived = tskit.unpack_strings(
        tables.mutations.derived_state, tables.mutations.derived_state_offset
    )
    first = np.searchsorted(tables.mutations.site, np.arange(ts.num_sites))
    position = tables.sites.position.astype(np.int64) + 1
    positions, refs, alts, rows = [], [], [], []
    variant = tskit.Variant(ts, samples=samples)
    for site in range(ts.num_sites):
        if per_site[site] == 1 and derived[first[site]] != ancestral[site]:
            positions.append(position[site])
            refs.append(ancestral[site])
            alts.append(derived[first[site]])
            rows.append(counts[site])
            continue
        variant.decode(site)
        k = len(variant.alleles)
        gts = variant.genotypes
        called = gts >= 0
        c = np.bincount(pop_code[called] * k + gts[called], minlength=n_codes * k)
        c = c.reshape(n_codes, k)
        for a in range(1, k):
            positions.append(position[site])
            refs.append(variant.alleles[0])
            alts.append(variant.alleles[a])
            rows.append(c[:, a])
    ac = np.array(rows, dtype=np.int64).reshape(-1, n_codes)
    return positions, refs, alts, ac


def panel_frequencies(genomes: Sequence[ContigGenomes], populations: Sequence[str]) -> pd.DataFrame:
    """gnomAD-like allele counts of every site's alternate alleles in the reference panel.

    One row per (site, alternate allele): ``contig, position, ref, alt`` and, per population
    and overall, ``ac_<pop>``, ``an_<pop>``, ``af_<pop>``. A male contributes one X allele.
    """
    frames = []
    n_pop = len(populations)
    for g in genomes:
        nodes = g.panel_nodes
        samples = np.unique(nodes[nodes >= 0])
        node_pop = {}
        for row, pop in zip(nodes, g.panel_population, strict=True):
            for n in row[row >= 0]:
                node_pop[int(n)] = pop
        code = {p: i for i, p in enumerate(populations)}
        # Haplotypes of a population outside ``populations`` count only in the totals.
        pop_code = np.array([code.get(node_pop[int(n)], n_pop) for n in samples], dtype=np.int64)
        an_pop = np.bincount(pop_code, minlength=n_pop + 1)[:n_pop]
        positions, refs, alts, ac = _site_allele_counts(g.ts, samples, pop_code, n_pop + 1)
        columns = {
            "contig": [g.contig] * len(positions),
            "position": np.array(positions, dtype=np.int64),
            "ref": refs,
            "alt": alts,
        }
        for i, p in enumerate(populations):
            columns[f"ac_{p}"] = ac[:, i]
            columns[f"an_{p}"] = np.full(len(positions), an_pop[i], dtype=np.int64)
        columns["ac"] = ac.sum(axis=1)
        columns["an"] = np.full(len(positions), len(samples), dtype=np.int64)
        frames.append(pd.DataFrame(columns))
    freq = pd.concat(frames, ignore_index=True)
    for p in [*populations, None]:
        sfx = f"_{p}" if p else ""
        freq[f"af{sfx}"] = (freq[f"ac{sfx}"] / freq[f"an{sfx}"]).round(6)
    return freq
