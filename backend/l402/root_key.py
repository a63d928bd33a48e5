"""The root key every macaroon is signed with: 32 random bytes in a file only we can read.

This is the L402 layer's only I/O. Whoever reads the key can mint credentials, so a
file that others could read, or one of the wrong size, is refused rather than used.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from .errors import L402Error

ROOT_KEY_SIZE = 32
FILE_MODE = 0o600


def load_or_create_root_key(path: Path) -> bytes:
    """Read the root key at ``path``, creating it (mode 0600) on first use."""
    path = Path(path)
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(ROOT_KEY_SIZE)
    if _publish(path, key):
        return key
    return _read(path)  # another process created it first: use theirs


def _read(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise L402Error(f"root key {path} is not a regular file")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise L402Error(f"root key {path} is accessible by group or others (mode "
                            f"{mode:04o}); run 'chmod 600 {path}' if it is still secret")
        if info.st_size != ROOT_KEY_SIZE:
            raise L402Error(f"root key {path} holds {info.st_size} bytes, "
                            f"expected exactly {ROOT_KEY_SIZE}")
        data = os.read(fd, ROOT_KEY_SIZE + 1)
    finally:
        os.close(fd)
    if len(data) != ROOT_KEY_SIZE:  # changed since fstat
        raise L402Error(f"root key {path} could not be read whole")
    return data


def _publish(path: Path, key: bytes) -> bool:
    """Write ``key`` to a private temp file, then give it its name; False if taken."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        try:
            os.fchmod(fd, FILE_MODE)  # whatever the umask
            os.write(fd, key)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            # A hard link never replaces an existing key, which a rename would do to a
            # key another process has just created and may already be signing with.
            os.link(temp, path)
        except FileExistsError:
            return False
        except OSError:
            os.replace(temp, path)  # a file system without hard links
        _fsync_dir(path.parent)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
