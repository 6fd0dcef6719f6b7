"""Atomic writes and checksums.

Nothing the workbench writes is ever left half-written: files and folders are produced under a
temporary name beside their destination and renamed into place only once complete (a rename
within one file system is atomic on POSIX).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError, OutputExistsError

__all__ = [
    "CACHE_ENV",
    "atomic_dir",
    "atomic_file",
    "cache_root",
    "file_sha256",
    "tree_checksums",
    "write_json",
]

_CHUNK = 1 << 20
#: Where the workbench keeps what it can make again (public parts fetched from the service,
#: pipeline outputs of dashboards); by default the user's own cache folder.
CACHE_ENV = "WORKBENCH_CACHE"


def cache_root() -> Path:
    """``$WORKBENCH_CACHE``, else the user's cache folder (``platformdirs``), never a shared one."""
    import platformdirs

    return Path(os.environ.get(CACHE_ENV) or platformdirs.user_cache_dir("workbench"))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "w", **kwargs) -> Iterator:
    """Open a temporary file beside ``path``; rename it onto ``path`` on success only."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    # mkstemp makes the file private (0600); a finished file gets the usual permissions.
    os.chmod(tmp, 0o666 & ~_umask())
    try:
        with open(tmp, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, *, force: bool = False) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``path`` only if the block succeeds.

    Without ``force`` an existing ``path`` is an error, raised before any work starts. With
    ``force`` the old folder stays in place until the new one is complete.
    """
    path = Path(path)
    if path.exists() and not force:
        raise OutputExistsError(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
        os.chmod(tmp, 0o777 & ~_umask())
    except OSError as e:
        raise InputError(
            f"cannot write to {path.parent}: {e.strerror}; choose a writable --out folder"
        ) from e
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_json(path: str | os.PathLike, obj, **kwargs) -> None:
    """Write ``obj`` as stable, sorted JSON (byte-identical for equal objects), atomically."""
    with atomic_file(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True, ensure_ascii=False, **kwargs)
        f.write("\n")


def file_sha256(path: str | os.PathLike) -> str:
    """The hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def tree_checksums(root: str | os.PathLike, *, exclude: tuple[str, ...] = ()) -> dict[str, str]:
    """SHA-256 of every file below ``root``, keyed by POSIX relative path, sorted.

    Paths listed in ``exclude`` (relative, exact) are skipped.
    """
    root = Path(root)
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            rel = p.relative_to(root).as_posix()
            if rel not in exclude:
                out[rel] = file_sha256(p)
    return out
