"""Shared by the course tests: what of an answer key a learner must never read in clear."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

from workbench.teach import load_answer_key


def answer_secrets(course: Path) -> list[tuple[str, re.Pattern]]:
    """(exercise id, pattern) for every explanation, model answer, hint and numeric answer."""
    key = load_answer_key(course / "answers.yml")
    out = []
    for ex_id, spec in key["exercises"].items():
        texts = [spec.get("explanation"), spec.get("model_answer"), *spec.get("hints", [])]
        for text in filter(None, texts):
            words = " ".join(str(text).split())
            for part in (words[:30], words[-30:]):  # both ends, whatever the wrapping
                out.append((ex_id, re.compile(re.escape(part))))
        if spec["type"] == "numeric":
            number = re.escape(f"{spec['answer']:g}")
            out.append((ex_id, re.compile(rf"(?<![\w.,]){number}(?![\w.,])")))
    return out


_IMAGES = {".png", ".jpg", ".jpeg", ".gif", ".ico"}


def built_files(folder: Path) -> list[Path]:
    """Every file of a built edition, except Sphinx's stock assets (_static/: its JavaScript,
    not the course) and images (compressed pixels: random bytes a text scan reads as digits)."""
    return [
        p
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "_static" not in p.parts and p.suffix.lower() not in _IMAGES
    ]


def file_text(path: Path) -> str:
    """A file's text, whitespace collapsed; Sphinx's objects.inv is 4 header lines and a
    zlib-compressed index (page names and titles), read decompressed."""
    data = path.read_bytes()
    if path.name == "objects.inv":
        header, _, rest = data.partition(b"\n")
        for _ in range(3):
            line, _, rest = rest.partition(b"\n")
            header += b"\n" + line
        data = header + b"\n" + zlib.decompress(rest)
    text = data.decode("utf-8", errors="replace")
    return " ".join(text.replace("\\n", " ").split())


def assert_no_answer_in_clear(course: Path, folder: Path) -> None:
    """No answer of ``course``'s key appears in any file under ``folder``."""
    secrets = answer_secrets(course)
    assert len(secrets) > 20  # the scan must have something to look for
    for path in built_files(folder):
        text = file_text(path)
        for ex_id, pattern in secrets:
            assert not pattern.search(text), f"{path.name} reveals {ex_id}: {pattern.pattern}"
