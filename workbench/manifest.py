"""The cohort folder's manifest: what the folder holds and the checksum of every file.

Two kinds of file live in a cohort folder. *Fixed* files (genotypes, reference, knowledge,
phenopackets, truth …) never change after generation; opening a cohort recomputes their SHA-256
and names any that is missing or altered. *Live* files are databases that change in normal use —
the registry (consents are amended, every access is audited), the keyholder store and the
data-access service's keys (keys are rotated) and its audit checkpoints. Their presence is
checked; their integrity is the audit chain's job, not the manifest's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from .errors import CohortFormatError, CohortIntegrityError
from .io import file_sha256, tree_checksums, write_json

__all__ = ["FORMAT", "FORMAT_VERSION", "LIVE_FILES", "read_manifest", "verify", "write_manifest"]

FORMAT = "clinical-genomics-workbench/cohort"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: Files whose content changes in normal use (see the module docstring).
LIVE_FILES = (
    "registry.sqlite",
    "keyholder/identity.sqlite",
    "keyholder/pseudonym.key",
    "service/project-pseudonym.key",
    "service/audit.key",
    "service/audit-checkpoints.jsonl",
    "service/releases-queries.jsonl",
    "service/releases-exports.jsonl",
)
# SQLite's companions of a live database, present while it is open.
_LIVE_SUFFIXES = ("-wal", "-shm", "-journal")


def _is_live(rel: str) -> bool:
    return any(
        rel == f or (rel.startswith(f) and rel[len(f) :] in _LIVE_SUFFIXES) for f in LIVE_FILES
    )


def write_manifest(folder: str | os.PathLike, content: Mapping) -> dict:
    """Checksum every file below ``folder`` and write ``manifest.json`` with ``content``."""
    folder = Path(folder)
    files = tree_checksums(folder, exclude=(MANIFEST,))
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **content,
        "files": {k: v for k, v in files.items() if not _is_live(k)},
        "live_files": sorted(k for k in files if _is_live(k)),
    }
    write_json(folder / MANIFEST, manifest)
    return manifest


def read_manifest(folder: str | os.PathLike) -> dict:
    """The parsed manifest, or :class:`CohortFormatError` saying why the folder is no cohort."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CohortFormatError(
            f"{folder} is not a folder; generate a cohort with `workbench generate`", path=folder
        )
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise CohortFormatError(
            f"{folder} has no {MANIFEST}: it is not a cohort folder (or its generation did not "
            "finish); run `workbench generate --out` to make one",
            path=path,
        ) from e
    except (OSError, ValueError) as e:
        raise CohortFormatError(
            f"{path} is unreadable ({e}); regenerate the cohort", path=path
        ) from e
    if not isinstance(manifest, dict):
        raise CohortFormatError(
            f"{path} holds a JSON {type(manifest).__name__}, not an object; it is no cohort "
            "manifest: regenerate the cohort",
            path=path,
        )
    if manifest.get("format") != FORMAT:
        raise CohortFormatError(f"{path} is not a workbench cohort manifest", path=path)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise CohortFormatError(
            f"{path} has format version {manifest.get('format_version')}, this workbench reads "
            f"version {FORMAT_VERSION}; regenerate the cohort with this version",
            path=path,
        )
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise CohortFormatError(
            f"{path}: 'files' must map each file's path to its sha256, got "
            f"{type(files).__name__}; regenerate the cohort",
            path=path,
        )
    for rel, digest in files.items():
        if not isinstance(digest, str):
            raise CohortFormatError(
                f"{path}: the checksum of {rel} is {digest!r}, not a sha256 text; regenerate "
                "the cohort",
                path=path,
            )
    for rel in [*files, *manifest.get("live_files", ())]:
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise CohortFormatError(
                f"{path} lists {rel!r}, which is outside the cohort folder; a manifest names "
                "files inside it only: regenerate the cohort",
                path=path,
            )
    return manifest


#: Parts of a cohort a copy may withhold whole (a published bundle never carries the hospital
#: side, and carries the answers only when an instructor asks): absent, not missing.
WITHHOLDABLE = ("keyholder", "truth")


def verify(folder: str | os.PathLike, manifest: Mapping | None = None) -> None:
    """Raise :class:`CohortIntegrityError` naming every missing or altered file.

    A part of :data:`WITHHOLDABLE` may be absent as a whole folder; a part present is
    checked file by file.
    """
    folder = Path(folder)
    manifest = read_manifest(folder) if manifest is None else manifest
    withheld = tuple(f"{part}/" for part in WITHHOLDABLE if not (folder / part).exists())
    missing, changed = [], []
    root = folder.resolve()
    for rel, digest in manifest["files"].items():
        if rel.startswith(withheld):
            continue
        p = folder / rel
        if Path(rel).is_absolute() or not p.resolve().is_relative_to(root):
            raise CohortIntegrityError(
                f"the manifest names {rel!r}, outside the cohort folder; a cohort's files are "
                "its own: regenerate it",
                path=folder,
                changed=[rel],
            )
        if p.is_symlink():
            raise CohortIntegrityError(
                f"{p} is a symbolic link; a cohort's files are its own: replace the link with "
                "the file (or regenerate the cohort)",
                path=p,
                changed=[rel],
            )
        if not p.is_file():
            missing.append(rel)
        elif file_sha256(p) != digest:
            changed.append(rel)
    missing += [
        rel
        for rel in manifest.get("live_files", ())
        if not rel.startswith(withheld) and not (folder / rel).is_file()
    ]
    if missing or changed:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(missing[:5]) + (" …" if len(missing) > 5 else ""))
        if changed:
            parts.append("altered " + ", ".join(changed[:5]) + (" …" if len(changed) > 5 else ""))
        raise CohortIntegrityError(
            f"cohort {folder} does not match its manifest: {'; '.join(parts)}; regenerate it "
            "with `workbench generate --force` (or restore the files)",
            path=folder,
            missing=missing,
            changed=changed,
        )
