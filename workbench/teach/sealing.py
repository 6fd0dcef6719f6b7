"""Answer sealing: exercises check answers without holding them in clear.

A course's answer key, ``answers.yml``, is instructor material. What learners get is the
*sealed bundle* ``answers.sealed.json`` that :func:`seal_answers` makes from it:

* **Correct answers are one-way hashes.** Each exercise gets its own salt; the bundle holds
  ``sha256(salt, normalised correct answer)``. A response is normalised the same way, hashed
  and compared. Multiple-choice and pick-the-rows answers are sealed as the sorted set of
  keys; numeric answers as a *bucket* of width ``tolerance / 4`` (the response's bucket and
  its four neighbours either side are tried, so every response within the tolerance is
  accepted, and none further than 1.25 × the tolerance).
* **The explanation shown after a correct answer** is encrypted with a key derived from the
  correct answer itself, so it can only be read by someone who already has the answer.
* **Hints and model answers** (free text) are XOR-ed with a keystream made from SHA-256 of the
  bundle's course key and the exercise id. This is *obfuscation* — it stops casual reading of
  the JSON — not secrecy: the key ships in the bundle, and a determined learner who reads this
  module can decode them. Put nothing in a hint you could not bear a learner to read early.

A one-way hash does not stop *guessing*: an exercise with four options has four possible
answers, and a learner can simply try them (the widget lets them). Sealing protects the answer
key from being read, which is what an answer key needs; it does not make a quiz an exam.

The answer key's format (``answers.yml``)::

    course: genomic-medicine
    exercises:
      m1.q1:
        type: choice          # choice | numeric | pick | classify | text
        prompt: What is ...?  # Markdown; public
        options: {a: ..., b: ...}
        multiple: false       # choice: several answers may be right
        answer: b             # the correct response (a list for multiple / pick)
        wrong: a              # a response `workbench course check` expects marked wrong
        hints: [...]          # revealed one at a time
        explanation: ...      # shown after a correct answer

Type-specific fields: ``numeric``: ``tolerance`` (absolute, > 0), ``unit``; ``pick``:
``table`` (a list of rows, each with an ``id``) and ``columns``; ``classify``: ``variant``
(a description), ``criteria`` (the criteria of the key, optional: learners may tick their
own), ``criteria_panel`` (show the ACMG criteria panel); ``text``: ``model_answer`` and
``keywords`` (the key ideas a good answer mentions: each a word or phrase of up to three
words, or a list of alternative wordings; without keywords the exercise is not marked, only
compared with the model answer).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from pathlib import Path

from ..errors import InputError

__all__ = [
    "ANSWERS_NAME",
    "BUNDLE_FORMAT",
    "BUNDLE_NAME",
    "CLASS_ALIASES",
    "EXERCISE_TYPES",
    "answer_digest",
    "load_answer_key",
    "normalise_class",
    "normalise_keys",
    "normalise_text",
    "numeric_bucket",
    "obfuscate",
    "reveal",
    "seal_answers",
    "seal_exercise",
    "unlock",
    "write_bundle",
]

#: File name of the sealed bundle beside the course notebooks.
BUNDLE_NAME = "answers.sealed.json"
#: File name of the instructor's answer key.
ANSWERS_NAME = "answers.yml"
#: ``format`` field of a sealed bundle.
BUNDLE_FORMAT = "workbench-sealed-answers/1"
#: The exercise types and what their responses are.
EXERCISE_TYPES = {
    "choice": "an option key (or a list of keys when several answers are right)",
    "numeric": "a number",
    "pick": "a list of row ids of the exercise's table",
    "classify": "an ACMG class (optionally with the criteria ticked)",
    "text": "free text",
}
#: Bucket width as a fraction of a numeric exercise's tolerance, and how many neighbours of
#: the response's bucket are tried on each side (4 × 1/4 = the whole tolerance).
NUMERIC_SPLIT = 4

#: Spellings accepted for the five ACMG/AMP classes, normalised (see :func:`normalise_class`).
CLASS_ALIASES = {
    "p": "pathogenic",
    "pathogenic": "pathogenic",
    "lp": "likely pathogenic",
    "likely pathogenic": "likely pathogenic",
    "vus": "uncertain significance",
    "uncertain": "uncertain significance",
    "uncertain significance": "uncertain significance",
    "variant of uncertain significance": "uncertain significance",
    "lb": "likely benign",
    "likely benign": "likely benign",
    "b": "benign",
    "benign": "benign",
}

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_REQUIRED = ("type", "prompt", "answer", "wrong")


# -- normalisation ------------------------------------------------------------------------


def normalise_text(text) -> str:
    """Case-folded, accents and surrounding punctuation removed, whitespace collapsed."""
    if not isinstance(text, str):
        raise InputError(f"expected text, got {type(text).__name__}: {text!r}")
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = re.sub(r"\s+", " ", text).strip()
    return text.strip(" .,;:!?\"'")


def normalise_keys(keys) -> str:
    """A set of keys (option keys, row ids) as one canonical string: sorted, de-duplicated."""
    if isinstance(keys, str | int):
        keys = [keys]
    if not isinstance(keys, Iterable):
        raise InputError(f"expected a key or a list of keys, got {type(keys).__name__}")
    out = sorted({normalise_text(str(k)) for k in keys})
    return "|".join(out)


def normalise_class(value) -> str:
    """An ACMG/AMP class in canonical lower-case words (``"LP"`` → ``"likely pathogenic"``)."""
    key = normalise_text(str(value)).replace("_", " ").replace("-", " ")
    if key not in CLASS_ALIASES:
        raise InputError(
            f"expected an ACMG class (Pathogenic, Likely pathogenic, Uncertain significance, "
            f"Likely benign, Benign, or P/LP/VUS/LB/B), got {value!r}"
        )
    return CLASS_ALIASES[key]


def _decimal(value) -> Decimal:
    if isinstance(value, bool):
        raise InputError(f"expected a number, got {value!r}")
    try:
        d = Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, TypeError):
        raise InputError(f"expected a number such as 0.25 or 12, got {value!r}") from None
    if not d.is_finite():
        raise InputError(f"expected a finite number, got {value!r}")
    return d


def numeric_bucket(value, tolerance) -> int:
    """The bucket (of width ``tolerance / NUMERIC_SPLIT``) a number falls in.

    Decimal arithmetic, so ``0.3`` is exactly three tenths and the same number always lands
    in the same bucket on every platform.
    """
    width = _decimal(tolerance) / NUMERIC_SPLIT
    return int((_decimal(value) / width).to_integral_value(rounding=ROUND_FLOOR))


def answer_digest(salt: str, normalised: str) -> str:
    """The sealed form of a normalised answer: hex SHA-256 of the salt and the answer."""
    return hashlib.sha256(f"answer\x00{salt}\x00{normalised}".encode()).hexdigest()


# -- obfuscation and answer-keyed encryption -----------------------------------------------


def _keystream(seed: bytes, n: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(seed + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:n])


def _xor(data: bytes, seed: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, _keystream(seed, len(data)), strict=True))


def _obfuscation_seed(key: str, exercise_id: str, purpose: str) -> bytes:
    return hashlib.sha256(f"obfuscate\x00{key}\x00{exercise_id}\x00{purpose}".encode()).digest()


def obfuscate(text: str, *, key: str, exercise_id: str, purpose: str) -> str:
    """``text`` XOR-ed with a keystream from the course key and exercise id, base64-encoded.

    Obfuscation, not encryption: anyone holding the bundle holds ``key`` (see the module
    docstring).
    """
    data = text.encode("utf-8")
    return base64.b64encode(_xor(data, _obfuscation_seed(key, exercise_id, purpose))).decode()


def reveal(blob: str, *, key: str, exercise_id: str, purpose: str) -> str:
    """The inverse of :func:`obfuscate`."""
    data = base64.b64decode(blob.encode())
    return _xor(data, _obfuscation_seed(key, exercise_id, purpose)).decode("utf-8")


def _answer_seed(salt: str, normalised: str) -> bytes:
    return hashlib.sha256(f"unlock\x00{salt}\x00{normalised}".encode()).digest()


def _lock(text: str, *, salt: str, normalised: str) -> str:
    check = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    data = (check + text).encode("utf-8")
    return base64.b64encode(_xor(data, _answer_seed(salt, normalised))).decode()


def unlock(blob: str, *, salt: str, normalised: str) -> str | None:
    """Decrypt text locked with the correct answer; ``None`` when ``normalised`` is not it."""
    data = _xor(base64.b64decode(blob.encode()), _answer_seed(salt, normalised))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    check, body = text[:16], text[16:]
    if hashlib.sha256(body.encode("utf-8")).hexdigest()[:16] != check:
        return None
    return body


# -- the answer key ------------------------------------------------------------------------


def load_answer_key(path: str | os.PathLike) -> dict:
    """Read and check ``answers.yml``; returns ``{"course": …, "exercises": {id: spec}}``."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"answer key {path} does not exist; a course keeps it beside its "
            f"notebooks as {ANSWERS_NAME}"
        ) from None
    except yaml.YAMLError as e:
        raise InputError(f"{path} is not valid YAML ({e}); fix the line it names") from e
    if not isinstance(data, Mapping) or not isinstance(data.get("exercises"), Mapping):
        raise InputError(
            f"{path} must hold a mapping with 'course' and 'exercises' (exercise id → spec); "
            f"got {type(data).__name__}"
        )
    course = data.get("course")
    if not isinstance(course, str) or not course:
        raise InputError(f"{path} must name its course (course: <name>)")
    exercises = {}
    for ex_id, spec in data["exercises"].items():
        exercises[str(ex_id)] = _check_spec(str(ex_id), spec, where=str(path))
    return {"course": course, "exercises": exercises}


def _check_spec(ex_id: str, spec, *, where: str) -> dict:
    if not _ID.fullmatch(ex_id):
        raise InputError(f"{where}: exercise id {ex_id!r} must be letters, digits, '.', '_', '-'")
    if not isinstance(spec, Mapping):
        raise InputError(f"{where}: exercise {ex_id} must be a mapping of fields")
    missing = [k for k in _REQUIRED if k not in spec]
    if spec.get("type") == "text":
        missing = [k for k in missing if k not in ("answer", "wrong")]
        if "model_answer" not in spec:
            missing.append("model_answer")
    if missing:
        raise InputError(f"{where}: exercise {ex_id} lacks {', '.join(missing)}; add them")
    kind = spec["type"]
    if kind not in EXERCISE_TYPES:
        raise InputError(
            f"{where}: exercise {ex_id} has type {kind!r}; use one of {', '.join(EXERCISE_TYPES)}"
        )
    spec = dict(spec)
    hints = spec.get("hints", [])
    if not isinstance(hints, list) or not all(isinstance(h, str) for h in hints):
        raise InputError(f"{where}: exercise {ex_id}: hints must be a list of texts")
    if kind == "choice":
        options = spec.get("options")
        if not isinstance(options, Mapping) or len(options) < 2:
            raise InputError(f"{where}: exercise {ex_id}: options must map ≥ 2 keys to texts")
        spec["options"] = {str(k): str(v) for k, v in options.items()}
        for field in ("answer", "wrong"):
            keys = spec[field] if isinstance(spec[field], list) else [spec[field]]
            unknown = [k for k in map(str, keys) if k not in spec["options"]]
            if unknown:
                raise InputError(f"{where}: exercise {ex_id}: {field} names unknown options")
    elif kind == "numeric":
        tol = spec.get("tolerance")
        if isinstance(tol, bool) or not isinstance(tol, int | float) or not tol > 0:
            raise InputError(f"{where}: exercise {ex_id}: tolerance must be a number > 0")
    elif kind == "pick":
        table = spec.get("table")
        if not isinstance(table, list) or not all(
            isinstance(r, Mapping) and "id" in r for r in table
        ):
            raise InputError(f"{where}: exercise {ex_id}: table must be a list of rows with 'id'")
        ids = {str(r["id"]) for r in table}
        for field in ("answer", "wrong"):
            if not set(map(str, spec[field])) <= ids:
                raise InputError(f"{where}: exercise {ex_id}: {field} names rows not in table")
    elif kind == "classify":
        for field in ("answer", "wrong"):
            value = spec[field]
            normalise_class(value["class"] if isinstance(value, Mapping) else value)
    return spec


def _course_key(answers: Mapping) -> str:
    canonical = json.dumps(answers, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(f"course-key\x00{canonical}".encode()).hexdigest()


def _salt(key: str, ex_id: str) -> str:
    return hashlib.sha256(f"salt\x00{key}\x00{ex_id}".encode()).hexdigest()[:32]


def normalised_answer(spec: Mapping, response) -> str:
    """The canonical string a response of this exercise type is hashed as."""
    kind = spec["type"]
    if kind == "choice" or kind == "pick":
        return normalise_keys(response)
    if kind == "numeric":
        return str(numeric_bucket(response, spec["tolerance"]))
    if kind == "classify":
        return normalise_class(response["class"] if isinstance(response, Mapping) else response)
    return normalise_text(response)


def _public(spec: Mapping) -> dict:
    fields = (
        "type",
        "prompt",
        "options",
        "multiple",
        "tolerance",
        "unit",
        "table",
        "columns",
        "variant",
        "criteria_panel",
    )
    out = {k: spec[k] for k in fields if k in spec}
    if out["type"] == "pick":
        out.setdefault("columns", [k for k in spec["table"][0] if k != "id"])
    return out


def _seal_one(ex_id: str, spec: Mapping, key: str) -> dict:
    salt = _salt(key, ex_id)
    sealed = _public(spec)
    sealed["salt"] = salt
    sealed["hints"] = [
        obfuscate(h, key=key, exercise_id=ex_id, purpose=f"hint{i}")
        for i, h in enumerate(spec.get("hints", []))
    ]
    kind = spec["type"]
    if kind == "text":
        sealed["model_answer"] = obfuscate(
            str(spec["model_answer"]), key=key, exercise_id=ex_id, purpose="model_answer"
        )
        # each key idea is a word or phrase, or a list of alternatives (any one will do)
        sealed["keywords"] = [
            [
                answer_digest(salt, normalise_text(str(a)))
                for a in (k if isinstance(k, list) else [k])
            ]
            for k in spec.get("keywords", [])
        ]
        return sealed
    normalised = normalised_answer(spec, spec["answer"])
    sealed["answer"] = answer_digest(salt, normalised)
    if spec.get("explanation"):
        sealed["explanation"] = _lock(str(spec["explanation"]), salt=salt, normalised=normalised)
    if kind == "classify" and spec.get("criteria"):
        from ..interpret.acmg import parse_evidence

        labels = sorted(e.label for e in parse_evidence(spec["criteria"]))
        sealed["criteria"] = answer_digest(salt, "|".join(labels).casefold())
    return sealed


def seal_answers(answers: Mapping) -> dict:
    """The sealed bundle of an answer key (as :func:`load_answer_key` returns it).

    Deterministic: the same key gives a byte-identical bundle (the course key and every salt
    derive from the answer key's content).
    """
    if not isinstance(answers, Mapping) or "exercises" not in answers:
        raise InputError("expected an answer key from load_answer_key()")
    key = _course_key(answers)
    return {
        "format": BUNDLE_FORMAT,
        "course": answers["course"],
        "key": key,
        "exercises": {
            ex_id: _seal_one(ex_id, spec, key)
            for ex_id, spec in sorted(answers["exercises"].items())
        },
    }


def seal_exercise(course: str, exercise_id: str, spec: Mapping) -> dict:
    """The sealed bundle of one exercise written at run time, checked like a course's.

    For exercises whose answer comes from the learner's own case rather than the course's
    answer key (:mod:`workbench.teach.case_exercises`): the widget gets hashes, as for every
    other exercise, and marks right and wrong without the answer in its page.
    """
    if not isinstance(course, str) or not course:
        raise InputError(f"a case exercise must name its course, got {course!r}")
    checked = _check_spec(str(exercise_id), spec, where="case exercise")
    return seal_answers({"course": course, "exercises": {str(exercise_id): checked}})


def write_bundle(path: str | os.PathLike, bundle: Mapping) -> Path:
    """Write a sealed bundle as JSON (atomically)."""
    from ..io import atomic_file

    path = Path(path)
    with atomic_file(path, "w", encoding="utf-8") as f:
        json.dump(bundle, f, indent=1, sort_keys=True, ensure_ascii=False)
        f.write("\n")
    return path
