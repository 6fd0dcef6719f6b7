"""Project-specific keyed pseudonyms and the versioned key file."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import stat

import numpy as np
import pytest

from workbench.access.pseudonyms import (
    PSEUDONYM_PATTERN,
    Pseudonymiser,
    ServiceKey,
    load_service_key,
    rotate_key,
    write_service_key,
)
from workbench.access.store import load_pseudonym_key
from workbench.errors import InputError, KeyMissingError, OutputExistsError

N_PEOPLE = 60_000
PEOPLE = [f"P{i:05d}" for i in range(1, N_PEOPLE + 1)]
KEY = bytes(range(32))


@pytest.fixture(scope="module")
def pseudo() -> Pseudonymiser:
    return Pseudonymiser(KEY, version=1)


@pytest.fixture(scope="module")
def epi(pseudo) -> list[str]:
    return pseudo.project_pseudonyms(PEOPLE, "EPI-7")


def test_stable_and_well_formed(pseudo):
    a = pseudo.project_pseudonym("P00042", "EPI-7")
    assert a == Pseudonymiser(bytes(KEY), version=1).project_pseudonym("P00042", "EPI-7")
    assert PSEUDONYM_PATTERN.fullmatch(a)
    assert a.startswith("k1-R") and len(a) == 20
    assert "P00042" not in a


def test_no_collisions_over_60000_people(epi):
    assert len(set(epi)) == N_PEOPLE


def test_unlinkable_across_projects(pseudo, epi):
    meth = pseudo.project_pseudonyms(PEOPLE, "METH-2")
    assert not set(epi) & set(meth)
    assert all(a != b for a, b in zip(epi, meth, strict=True))


def test_dictionary_attack_without_the_key_finds_nothing(epi):
    target = set(epi)
    wrong = Pseudonymiser(bytes(32 - i for i in range(32)), version=1)

    def render(digest: bytes) -> str:
        return "k1-R" + base64.b32encode(digest[:10]).decode()

    guesses = set()
    for p in PEOPLE:
        guesses.add(render(hashlib.sha256(p.encode()).digest()))
        guesses.add(render(hashlib.sha256(b"EPI-7\0" + p.encode()).digest()))
        guesses.add(render(hmac.new(b"", p.encode(), hashlib.sha256).digest()))
        guesses.add(wrong.project_pseudonym(p, "EPI-7"))
    assert len(guesses) == 4 * N_PEOPLE
    assert not guesses & target


def test_rejects_short_keys_and_bad_ids():
    with pytest.raises(InputError, match="32 bytes"):
        Pseudonymiser(b"short", version=1)
    with pytest.raises(InputError, match="version"):
        Pseudonymiser(KEY, version=0)
    p = Pseudonymiser(KEY, version=1)
    for bad in ("", "P1\0EPI", "a b", None):
        with pytest.raises(InputError):
            p.project_pseudonym(bad, "EPI-7")


def test_repr_hides_the_key():
    assert KEY.hex() not in repr(Pseudonymiser(KEY, version=3))
    assert KEY.hex() not in repr(ServiceKey(version=1, key=KEY))


# -- key files -----------------------------------------------------------------------------------


def test_write_and_load_key_file(tmp_path):
    path = tmp_path / "service.key"
    written = write_service_key(path, rng=np.random.default_rng(7))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    record = json.loads(path.read_text())
    assert record["algorithm"] == "HMAC-SHA256" and record["version"] == 1
    assert record["created_for"] == "synthetic cohort" and record["retired"] == []
    loaded = load_service_key(path)
    assert loaded == written and loaded.version == 1 and len(loaded.key) == 32
    # the store's reader understands the same file
    (tmp_path / "pseudonym.key").write_bytes(path.read_bytes())
    assert load_pseudonym_key(tmp_path) == (1, loaded.key)
    # no leftover temporary files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pseudonym.key", "service.key"]


def test_seeded_key_is_reproducible_and_os_key_is_not(tmp_path):
    a = write_service_key(tmp_path / "a", rng=np.random.default_rng(1))
    b = write_service_key(tmp_path / "b", rng=np.random.default_rng(1))
    c = write_service_key(tmp_path / "c")
    d = write_service_key(tmp_path / "d")
    assert a.key == b.key and c.key != d.key
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()


def test_never_overwrites_a_key_silently(tmp_path):
    path = tmp_path / "k"
    first = write_service_key(path)
    with pytest.raises(OutputExistsError):
        write_service_key(path)
    assert load_service_key(path) == first
    assert write_service_key(path, force=True) != first


def test_rotation_bumps_version_changes_pseudonyms_and_keeps_old_key(tmp_path):
    path = tmp_path / "k"
    write_service_key(path, rng=np.random.default_rng(3))
    old = load_service_key(path)
    before = old.pseudonymiser().project_pseudonym("P00001", "EPI-7")
    assert rotate_key(path, rng=np.random.default_rng(4)) == 2
    assert rotate_key(path) == 3
    new = load_service_key(path)
    assert new.version == 3 and set(new.retired) == {1, 2}
    after = new.pseudonymiser().project_pseudonym("P00001", "EPI-7")
    assert after.startswith("k3-") and after[3:] != before[3:]
    # only the service, holding the retired key, can re-link an old export
    assert new.pseudonymiser(1).project_pseudonym("P00001", "EPI-7") == before
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with pytest.raises(KeyMissingError, match="version 9"):
        new.pseudonymiser(9)


def test_missing_key_file_refuses(tmp_path):
    with pytest.raises(KeyMissingError, match="found none"):
        load_service_key(tmp_path / "nope.key")
    with pytest.raises(KeyMissingError):
        rotate_key(tmp_path / "nope.key")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda r: r.update(algorithm="SHA1"),
        lambda r: r.update(version=0),
        lambda r: r.update(version=True),
        lambda r: r.update(key=r["key"][:40]),
        lambda r: r.update(key=r["key"][:-1] + "z"),
        lambda r: r.pop("key"),
        lambda r: r.update(retired=[{"version": 5, "algorithm": "HMAC-SHA256", "key": r["key"]}]),
        lambda r: r.update(retired="x" + r["key"]),
    ],
)
def test_malformed_key_file_refuses_without_leaking_key(tmp_path, mutate):
    path = tmp_path / "k"
    write_service_key(path)
    record = json.loads(path.read_text())
    secret = record["key"]
    mutate(record)
    path.write_text(json.dumps(record))
    with pytest.raises(KeyMissingError) as info:
        load_service_key(path)
    message = str(info.value)
    assert secret not in message and secret[:16] not in message and secret[-16:] not in message
    assert info.value.__cause__ is None


def test_unreadable_json_refuses(tmp_path):
    path = tmp_path / "k"
    path.write_text('{"key": "' + KEY.hex() + '"')  # truncated JSON
    with pytest.raises(KeyMissingError) as info:
        load_service_key(path)
    assert KEY.hex()[:16] not in str(info.value)
