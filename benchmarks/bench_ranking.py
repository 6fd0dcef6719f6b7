"""Does the interpretation put the planted diagnosis first, and how does that degrade?

For every proband of a teaching cohort's answer key (``truth/cases.tsv``) the benchmark runs
:func:`workbench.interpret.interpret_case` through the treating clinician's session —
exome-scale filtering, ACMG classification and phenotype-driven ranking, as a clinician
would — and scores the ranking against the planted answer:

* **solvable** probands (status ``solved`` or ``dual``): top-1 (a planted causal gene ranked
  first), top-5 and top-10 (every planted causal gene within the first 5 or 10), overall and
  per mode of inheritance, and the *yield*: the share reported as solved (a rule that keeps
  unsolved probands from being reported may cost solvable ones, so both are shown);
* **unsolved and VUS-only** probands: how many are nevertheless *reported as solved* (the top
  candidate classified Pathogenic or Likely pathogenic), at every point.

Points (``method`` column): the full method on the referral as recorded (already realistic:
sampled, imprecise and noisy terms, see :class:`workbench.synth.clinical.PhenotypeNoise`);
two baselines — **variant only** (no HPO terms, Exomiser "without phenotypes") and
**phenotype only** (every gene with a rare protein-altering variant in the proband,
ranked by phenotype similarity alone: no inheritance fit, class or in-silico score, as
AMELIE ranks); then one dial at a time
(:mod:`workbench.interpret.dials`): HPO dropout, obfuscation to ancestors, noise terms,
family structure (trio, duo, singleton) and calling noise. Phenotype dials re-rank the same
candidates (:func:`workbench.interpret.rerank`); family and calling dials filter again from
the reads the session gave once.

To let the phenotype dials admit ACMG SF genes as the full method would, each case is
interpreted once with every SF gene analysed and the default SF rule applied at ranking
(:func:`~workbench.interpret.rank.primary_genes`); the answer key is read only to score.
Each cohort is copied to a temporary folder (sessions write audit entries), where a data
steward records a care relationship for families no synthetic clinician treats yet.

    python benchmarks/bench_ranking.py                      # /tmp/teaching, or a fresh one
    python benchmarks/bench_ranking.py --cohort A --cohort B --cohort C --figure ranking.png
    python benchmarks/bench_ranking.py --limit 10 --details # first 10 probands, one line each
    python benchmarks/bench_ranking.py --dial "calling noise"  # the baselines and one dial
    python benchmarks/bench_ranking.py --cohort A --rows a.jsonl   # keep every proband's scores
    python benchmarks/bench_ranking.py --from-rows a.jsonl --from-rows b.jsonl --figure r.png

``--rows`` appends each proband's scores as it finishes (a long run keeps what it has done);
``--from-rows`` summarises saved rows instead of interpreting, so cohorts benchmarked in
separate processes (one per core) are reported as one table.

Output: JSON lines on stdout (``run_all.py`` collects them), the curves as a table on stderr,
and with ``--figure`` a PNG of top-1/5/10 and false "solved" counts along each dial.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

CLINICIAN = "dr.jensen"
#: Each dial's points, moved one at a time from the recorded referral / the whole family.
DIALS = {
    "HPO dropout": [0.25, 0.5, 0.75],
    "obfuscation": [0.5, 1.0],
    "noise terms": [2, 4, 6],
    "family": ["trio", "duo", "singleton"],
    # genotype errors per non-reference call added to the files' own 1.5e-3 (and false
    # heterozygotes alike: 1, 3.3 and 10 more per person), see dials.miscall
    "calling noise": [0.0015, 0.005, 0.015],
}
TOPS = (1, 5, 10)


def emit(case, metric, value, unit):
    print(json.dumps(dict(benchmark="ranking", case=case, metric=metric, value=value, unit=unit)))


def _cohort_paths(argv, tmp: Path) -> list[Path]:
    given = [Path(argv[i + 1]) for i, a in enumerate(argv) if a == "--cohort"]
    if given:
        return given
    default = Path("/tmp/teaching")
    if (default / "service").is_dir() and (default / "truth" / "cases.tsv").is_file():
        return [default]
    from workbench.synth.generate import generate_cohort

    print("generating a teaching cohort …", file=sys.stderr, flush=True)
    return [generate_cohort(preset="teaching", out=tmp / "generated", seed=42, progress=False)]


def _option(argv, name, default=None):
    return argv[argv.index(name) + 1] if name in argv else default


def _care_for_everyone(path: Path) -> int:
    """Record a care relationship for every family member nobody treats; return how many."""
    from workbench.access.admin import add_care_relationship
    from workbench.access.schema import connect, transaction

    added = 0
    with contextlib.closing(connect(path / "registry.sqlite")) as conn, transaction(conn):
        today = conn.execute("SELECT value FROM meta WHERE key = 'reference_date'").fetchone()[0]
        families = conn.execute("SELECT family_id, proband_id FROM families").fetchall()
        for family_id, proband in families:
            treated = conn.execute(
                "SELECT count(*) FROM care_relationships WHERE person_id = ? AND since <= ? "
                "AND (until IS NULL OR ? <= until)",
                (proband, today, today),
            ).fetchone()[0]
            if treated:
                continue
            members = conn.execute(
                "SELECT person_id FROM samples WHERE family_id = ?", (family_id,)
            ).fetchall()
            for (pid,) in members:
                with contextlib.suppress(Exception):
                    add_care_relationship(conn, user_id=CLINICIAN, person_id=pid, since=today)
                    added += 1
    return added


def _clinician(path: Path, proband: str) -> str:
    with contextlib.closing(sqlite3.connect(f"file:{path}/registry.sqlite?mode=ro", uri=True)) as c:
        today = c.execute("SELECT value FROM meta WHERE key = 'reference_date'").fetchone()[0]
        row = c.execute(
            "SELECT user_id FROM care_relationships WHERE person_id = ? AND since <= ? "
            "AND (until IS NULL OR ? <= until) ORDER BY user_id LIMIT 1",
            (proband, today, today),
        ).fetchone()
    return row[0] if row else CLINICIAN


def _withdrawn(path: Path, people) -> set[str]:
    """Those of ``people`` whose current consent is withdrawn: no session shows their genome,
    as it should, so the benchmark cannot interpret them (it counts them apart)."""
    from workbench.access.admin import current_consent

    with contextlib.closing(sqlite3.connect(f"file:{path}/registry.sqlite?mode=ro", uri=True)) as c:
        return {p for p in people if (current_consent(c, person_id=p) or {}).get("withdrawn")}


class _Reads:
    """What one treatment session showed, read once, and dialled views of it.

    A view answers what :func:`interpret_case` asks a session (``cohort``, ``samples``,
    ``phenopacket``, ``phenotypes``, ``genotypes``): the family cut to ``members`` and the
    calls, when ``noise`` is set, passed through :func:`~workbench.interpret.dials.miscall`.
    """

    def __init__(self, session):
        self.session = session
        self.cohort = session.cohort
        self.family = session.samples()
        self.calls: dict = {}
        # the genome's sites, over which calling noise spreads its false heterozygotes
        self.sites = int(session.cohort.calls.zarr["variant_position"].shape[0])

    def view(self, members=None, noise=0.0, rng=None):
        return _View(self, members, noise, rng)


class _View:
    def __init__(self, reads: _Reads, members, noise, rng):
        self.reads, self.cohort = reads, reads.cohort
        self.members = None if members is None else list(members)
        self.noise, self.rng = noise, rng

    def samples(self):
        f = self.reads.family
        return f if self.members is None else f[f.person_id.astype(str).isin(self.members)]

    def phenopacket(self, person):
        return self.reads.session.phenopacket(person)

    def phenotypes(self):
        return self.reads.session.phenotypes()

    def genotypes(self, *, region):
        from workbench.interpret.dials import miscall

        key = tuple(region)
        if key not in self.reads.calls:
            self.reads.calls[key] = self.reads.session.genotypes(region=region)
        g = self.reads.calls[key]
        cols = [
            k for k, s in enumerate(g["samples"]) if self.members is None or str(s) in self.members
        ]
        calls = g["calls"][:, cols]
        if self.noise:
            calls = miscall(calls, self.noise, self.rng, sites=self.reads.sites)
        return {
            "variants": g["variants"],
            "samples": [g["samples"][k] for k in cols],
            "calls": calls,
        }


def _score(ranking, planted) -> dict:
    """Rank of each planted gene (None when absent) and whether the ranking reports a
    diagnosis (:func:`workbench.interpret.case.reported_as_solved`)."""
    from workbench.interpret.case import reported_as_solved

    genes = list(ranking.gene)
    ranks = [genes.index(g) + 1 if g in genes else None for g in planted]
    return {"ranks": ranks, "solved": reported_as_solved(ranking)}


def _phenotype_only(base, full, sf_genes):
    """The phenotype-only baseline: every gene in which the proband carries a rare,
    protein-altering variant (the genes the inheritance step judges), ordered by phenotype
    similarity alone, ties by gene.

    Nothing else of the variants counts: not whether they fit the family's inheritance,
    their class or their in-silico score. This is the setting of phenotype-driven rankers
    such as AMELIE (~124 such genes per singleton, Birgmeier 2020). Ranking only the genes
    the full filter keeps would hand the baseline the inheritance evidence. ACMG SF genes
    count where the default rule admits them (:func:`~workbench.interpret.rank.primary_genes`),
    as in the full method. A gene the full method ranks keeps its row (class, fit), so a
    diagnosis is reported by the same rule; any other gene at the top reports none.
    """
    from workbench.interpret.funnel import reached_inheritance
    from workbench.interpret.rank import primary_genes

    table = base.filtered.table
    carried = set(table[reached_inheritance(table)].gene.dropna().astype(str))
    admitted = carried & set(primary_genes(base.phenotype, sf_genes))
    order = base.phenotype[base.phenotype.gene.isin(admitted)].sort_values(
        ["phenotype_score", "gene"], ascending=[False, True], kind="stable"
    )
    kept = full.drop(columns=["phenotype_score", "phenotype_relative"])
    return order[["gene", "phenotype_score", "phenotype_relative"]].merge(
        kept, on="gene", how="left"
    )


def _points(case_index, case, reads, seed, dials=tuple(DIALS)):
    """Every ``(dial, level, score)`` of one proband (the full method, the baselines and the
    ``dials``), its base interpretation and how long that took (reads included)."""
    import numpy as np

    from workbench.interpret import interpret_case, rerank
    from workbench.interpret.dials import (
        add_noise_terms,
        drop_terms,
        family_subset,
        vaguer_terms,
    )

    cohort = reads.cohort
    sf = cohort.knowledge.acmg_sf.gene
    wide = {"sf_primary_top": 10**6, "sf_primary_relative": 0.0}
    planted = [g for g in (case.gene, case.gene2) if isinstance(g, str) and g]

    def rng(*parts):
        return np.random.default_rng([seed, case_index, *parts])

    def levels(dial):
        return DIALS[dial] if dial in dials else []

    def ranked(result, terms):
        return rerank(result, terms, acmg_sf_genes=sf)

    t0 = time.perf_counter()
    base = interpret_case(reads.view(), case.proband_id, **wide)
    took = time.perf_counter() - t0
    terms = base.terms
    full = ranked(base, terms)
    out = [
        ("full method", "", _score(full, planted)),
        ("variant only", "", _score(ranked(base, []), planted)),
        ("phenotype only", "", _score(_phenotype_only(base, full, sf), planted)),
    ]
    for k, share in enumerate(levels("HPO dropout")):
        out.append(
            (
                "HPO dropout",
                share,
                _score(ranked(base, drop_terms(terms, share, rng(1, k))), planted),
            )
        )
    for k, share in enumerate(levels("obfuscation")):
        vague = vaguer_terms(terms, share, rng(2, k))
        out.append(("obfuscation", share, _score(ranked(base, vague), planted)))
    for k, n in enumerate(levels("noise terms")):
        noisy = add_noise_terms(terms, n, rng(3, k))
        out.append(("noise terms", n, _score(ranked(base, noisy), planted)))
    everyone = family_subset(reads.family, case.proband_id, "family")
    for structure in levels("family"):
        members = family_subset(reads.family, case.proband_id, structure)
        if sorted(members) == sorted(everyone):
            score = _score(full, planted)  # this family is no larger than the structure
        else:
            result = interpret_case(reads.view(members=members), case.proband_id, **wide)
            score = _score(ranked(result, terms), planted)
        out.append(("family", structure, score))
    for k, rate in enumerate(levels("calling noise")):
        result = interpret_case(reads.view(noise=rate, rng=rng(5, k)), case.proband_id, **wide)
        out.append(("calling noise", rate, _score(ranked(result, terms), planted)))
    return out, base, took


def summarise(rows):
    """One row per (dial, level): top-1/5/10 of solvable probands, the share of them reported
    as solved (``yield``: the diagnostic yield, which a rule against false 'solved' may cost)
    and the unsolved/VUS-only probands reported as solved."""
    import pandas as pd

    df = pd.DataFrame(rows)
    solvable = df[df.status.isin(["solved", "dual"])]
    negative = df[~df.status.isin(["solved", "dual"])]
    keys = ["dial", "level"]
    order = list(dict.fromkeys(zip(df.dial, df.level.astype(str), strict=True)))
    out = []
    for dial, level in order:
        s = solvable[(solvable.dial == dial) & (solvable.level.astype(str) == level)]
        n = negative[(negative.dial == dial) & (negative.level.astype(str) == level)]
        row = {"dial": dial, "level": level, "solvable": len(s)}
        for k in TOPS:
            row[f"top{k}"] = round(float(s[f"top{k}"].mean()), 3) if len(s) else float("nan")
        row["yield"] = round(float(s.solved.mean()), 3) if len(s) else float("nan")
        row["negatives"] = len(n)
        row["reported solved"] = int(n.solved.sum())
        out.append(row)
    columns = [*keys, "solvable", *(f"top{k}" for k in TOPS), "yield", "negatives"]
    return pd.DataFrame(out, columns=[*columns, "reported solved"])


def by_mode(rows):
    """Top-1/5/10 of the full method per mode of inheritance, and the baselines' top-1."""
    import pandas as pd

    df = pd.DataFrame(rows)
    solvable = df[df.status.isin(["solved", "dual"])]
    s = solvable[solvable.dial == "full method"]
    table = (
        s.groupby("mode")[[f"top{k}" for k in TOPS]]
        .agg(["mean"])
        .droplevel(1, axis=1)
        .round(3)
        .assign(probands=s.groupby("mode").size())
    )
    for name in ("variant only", "phenotype only"):
        b = solvable[solvable.dial == name]
        table[f"{name} top1"] = b.groupby("mode").top1.mean().round(3)
    return table.reset_index()


def plot(summary, path):
    """Top-1/5/10 and false 'solved' counts along each dial, one panel per dial."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    full = summary[summary.dial == "full method"].iloc[0]
    dials = [d for d in DIALS if (summary.dial == d).any()] or ["full method"]
    fig, axes = plt.subplots(
        1, len(dials), figsize=(3.2 * len(dials) + 1, 3.4), sharey=True, squeeze=False
    )
    axes = axes[0]
    for ax, dial in zip(axes, dials, strict=True):
        part = summary[(summary.dial == dial) & (dial != "full method")]
        labels = ["as recorded" if dial != "family" else "family", *part.level.astype(str)]
        x = range(len(labels))
        for k, style in zip(TOPS, ("-o", "--s", ":^"), strict=True):
            ax.plot(x, [full[f"top{k}"], *part[f"top{k}"]], style, label=f"top-{k}")
        ax.plot(
            x,
            [full["yield"], *part["yield"]],
            "-.",
            color="green",
            lw=1,
            label="yield (reported solved)",
        )
        false = [full["reported solved"], *part["reported solved"]]
        for xi, f in zip(x, false, strict=True):
            if f:
                ax.annotate(f"{f} false", (xi, 0.02), ha="center", fontsize=7, color="crimson")
        ax.set_xticks(list(x), labels, rotation=30, fontsize=8)
        ax.set_title(dial, fontsize=10)
        ax.set_ylim(0, 1.05)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("share of solvable probands")
    for name, style in (("variant only", "grey"), ("phenotype only", "tan")):
        row = summary[summary.dial == name]
        if not row.empty:
            axes[0].axhline(row.top1.iat[0], color=style, lw=1, label=f"{name} top-1")
    axes[0].legend(fontsize=7, loc="center left")
    fig.suptitle(
        "Rank of the planted diagnosis as one dial moves\n"
        "(red: unsolved or VUS-only reported as solved)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv):
    import pandas as pd
    from tqdm.auto import tqdm

    import workbench

    details = "--details" in argv
    limit = int(_option(argv, "--limit", 0)) or None
    seed = int(_option(argv, "--seed", 12))
    figure = _option(argv, "--figure")
    dials = [argv[i + 1] for i, a in enumerate(argv) if a == "--dial"] or list(DIALS)
    unknown = sorted(set(dials) - set(DIALS))
    if unknown:
        sys.exit(f"unknown dial {unknown[0]!r}; dials: {', '.join(DIALS)}")
    saved = [Path(argv[i + 1]) for i, a in enumerate(argv) if a == "--from-rows"]
    if saved:
        rows = [json.loads(line) for path in saved for line in path.read_text().splitlines()]
        report(rows, [], [], [], None, figure)
        return
    keep = _option(argv, "--rows")
    rows, seconds, interpret_seconds, errors, added, withdrawn = [], [], [], [], 0, 0
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        kept = stack.enter_context(Path(keep).open("a")) if keep else None
        tmp = Path(tmp)
        for source in _cohort_paths(argv, tmp):
            work = tmp / f"cohort-{Path(source).name}"
            shutil.copytree(source, work)
            added += _care_for_everyone(work)
            cohort = workbench.open_cohort(work, verify=False)
            cases = pd.read_csv(work / "truth" / "cases.tsv", sep="\t").head(limit)
            label = Path(source).name
            gone = _withdrawn(work, cases.proband_id)
            withdrawn += len(gone)
            cases = cases[~cases.proband_id.isin(gone)]
            for i, case in enumerate(tqdm(list(cases.itertuples(index=False)), desc=label)):
                session = cohort.session(
                    user=_clinician(work, case.proband_id),
                    purpose=workbench.Treatment(patient=case.proband_id),
                )
                try:
                    t0 = time.perf_counter()
                    points, base, took = _points(i, case, _Reads(session), seed, dials)
                    seconds.append(time.perf_counter() - t0)
                    interpret_seconds.append(took)
                except workbench.errors.WorkbenchError as e:
                    errors.append(f"{label} {case.family_id}: {e}")
                    continue
                finally:
                    session.close()
                for dial, level, score in points:
                    ranks = score["ranks"]
                    row = {
                        "cohort": label,
                        "family": case.family_id,
                        "status": case.status,
                        "mode": case.mode,
                        "dial": dial,
                        "level": level,
                        "solved": score["solved"],
                        **{
                            f"top{k}": bool(ranks)
                            and (
                                any(r == 1 for r in ranks)
                                if k == 1
                                else all(r is not None and r <= k for r in ranks)
                            )
                            for k in TOPS
                        },
                    }
                    rows.append(row)
                    if kept:
                        print(json.dumps(row), file=kept, flush=True)
                if details:
                    full, alone = points[0][2], dict((d, x) for d, _, x in points[:3])
                    print(
                        f"{label} {case.family_id} {case.status:9} {case.mode!s:31} "
                        f"ranks={full['ranks']} solved={full['solved']} "
                        f"(variant only {alone['variant only']['ranks']}, "
                        f"phenotype only {alone['phenotype only']['ranks']}) "
                        f"candidates={len(base.ranking)} {base.filtered.analysis}",
                        file=sys.stderr,
                    )
    report(rows, seconds, interpret_seconds, errors, added, figure, withdrawn)


def report(rows, seconds, interpret_seconds, errors, added, figure, withdrawn=None):
    """The table on stderr, JSON lines on stdout and, if asked, the figure."""
    import pandas as pd

    summary = summarise(rows)
    modes = by_mode(rows)
    with pd.option_context("display.width", 140, "display.max_rows", 100):
        print(summary.to_string(index=False), file=sys.stderr)
        print(modes.to_string(index=False), file=sys.stderr)
    for _, r in summary.iterrows():
        name = r.dial if r.level == "" else f"{r.dial} {r.level}"
        for k in TOPS:
            emit(name, f"top-{k} of solvable probands", r[f"top{k}"], "fraction")
        emit(name, "solvable probands reported as solved", r["yield"], "fraction")
        emit(name, "unsolved/VUS-only reported as solved", int(r["reported solved"]), "probands")
    for _, r in modes.iterrows():
        emit(f"full method, {r['mode']}", "top-1 of solvable probands", r.top1, "fraction")
        for name in ("variant only", "phenotype only"):
            value = r[f"{name} top1"]
            emit(f"{name}, {r['mode']}", "top-1 of solvable probands", value, "fraction")
    emit("all", "solvable probands", int(summary.solvable.iat[0]), "probands")
    emit("all", "unsolved/VUS-only probands", int(summary.negatives.iat[0]), "probands")
    if added is not None:  # rows interpreted in this run, not read back
        emit("all", "care relationships added for the benchmark", added, "rows")
        for name, values in (
            ("interpretation wall time per proband (reads included)", interpret_seconds),
            ("benchmark wall time per proband, every dial", seconds),
        ):
            emit("all", name, round(sum(values) / max(len(values), 1), 1), "s")
    if withdrawn is not None:
        emit("all", "probands not analysed: consent withdrawn", withdrawn, "probands")
    emit("all", "probands that failed", len(errors), "probands")
    for e in errors:
        print(e, file=sys.stderr)
    if figure:
        plot(summary, figure)
        print(f"figure: {figure}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
