"""The root-key file: created private and atomically, reused, and refused when unsafe."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from backend.l402 import L402Error, load_or_create_root_key
from backend.l402.root_key import _publish


def test_created_private_then_reused(tmp_path: Path) -> None:
    path = tmp_path / "data" / "root.key"  # the directory is created too
    key = load_or_create_root_key(path)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == key
    assert load_or_create_root_key(path) == key
    assert os.listdir(path.parent) == ["root.key"]  # no temp file left behind


def test_keys_are_random(tmp_path: Path) -> None:
    assert load_or_create_root_key(tmp_path / "a") != load_or_create_root_key(tmp_path / "b")


def test_mode_is_0600_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        load_or_create_root_key(tmp_path / "root.key")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "root.key").stat().st_mode) == 0o600


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_wrong_length_is_refused(tmp_path: Path, size: int) -> None:
    path = tmp_path / "root.key"
    path.write_bytes(b"k" * size)
    path.chmod(0o600)
    with pytest.raises(L402Error, match=f"holds {size} bytes, expected exactly 32"):
        load_or_create_root_key(path)
    assert path.read_bytes() == b"k" * size  # refused, not replaced


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o602, 0o644, 0o666, 0o610])
def test_group_or_world_access_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "root.key"
    path.write_bytes(b"k" * 32)
    path.chmod(mode)
    with pytest.raises(L402Error, match=f"accessible by group or others \\(mode {mode:04o}\\)"):
        load_or_create_root_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == mode  # left as found


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_owner_only_modes_are_used(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "root.key"
    path.write_bytes(b"k" * 32)
    path.chmod(mode)
    assert load_or_create_root_key(path) == b"k" * 32


def test_a_directory_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "root.key"
    path.mkdir(mode=0o700)
    with pytest.raises(L402Error, match="not a regular file"):
        load_or_create_root_key(path)


def test_publishing_never_replaces_an_existing_key(tmp_path: Path) -> None:
    """Two processes starting at once: the second keeps the first's key, not its own."""
    path = tmp_path / "root.key"
    first = load_or_create_root_key(path)
    assert _publish(path, b"x" * 32) is False
    assert path.read_bytes() == first
    assert os.listdir(tmp_path) == ["root.key"]
