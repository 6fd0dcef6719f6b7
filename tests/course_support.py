"""Shared by the course tests: what of an answer key a learner must never read in clear."""

from __future__ import annotations

import re
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
