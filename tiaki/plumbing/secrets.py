"""Secrets at rest: what a service keeps in its store secret (pseudonym keys,
the router's rounding secret, the ledger's signing key) is sealed with
AES-256-GCM under a key-encryption key (KEK) that only that service reads: a
file of 32 random bytes, mode 0600, named by the service's config
(`KEY_ENCRYPTION_KEY_FILE`; `make run` makes it under var/keys/, Kubernetes
mounts a Secret). A full copy of every database yields no usable secret.

Each sealed value is bound to what it is (`purpose`, e.g. "pseudonym-key:
best-foot-forward/evaluation#1"), so a sealed value copied onto another
record does not open there."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEK_BYTES = 32
NONCE_BYTES = 12
VERSION = b"\x01"  # the sealed format; a later one can be told apart


class KeyFileProblem(RuntimeError):
    """The key-encryption key cannot be used (missing, too open, wrong size)."""


def make_kek(path: str | Path) -> Path:
    """Creates a KEK file (mode 0600, its directory 0700) if there is none."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    with os.fdopen(fd, "wb") as fh:
        fh.write(os.urandom(KEK_BYTES))
    return path


def load_kek(path: str | Path) -> bytes:
    """Reads a KEK file, refusing one that other users may read."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileProblem(f"the key-encryption key {path} cannot be read: {exc}") from None
    if mode & stat.S_IRWXO or (mode & stat.S_IRWXG and not _own_group(path)):
        raise KeyFileProblem(f"the key-encryption key {path} is readable by others "
                             f"(mode {stat.S_IMODE(mode):04o}): chmod 600 it")
    if len(data) != KEK_BYTES:
        raise KeyFileProblem(f"the key-encryption key {path} is not {KEK_BYTES} bytes")
    return data


def _own_group(path: Path) -> bool:
    """A file readable by its group is still the service's own when that group is
    the process's own, non-root group: a Kubernetes Secret volume with the pod's
    fsGroup is mode 0440, group fsGroup (the pod's runAsGroup)."""
    gid = path.stat().st_gid
    return gid != 0 and gid == os.getegid()


def seal(kek: bytes, secret: bytes, purpose: str) -> bytes:
    """The secret encrypted and authenticated under the KEK, bound to `purpose`."""
    nonce = os.urandom(NONCE_BYTES)
    return VERSION + nonce + AESGCM(kek).encrypt(nonce, secret, purpose.encode())


def unseal(kek: bytes, sealed: bytes, purpose: str) -> bytes:
    """The secret back; raises ValueError when it was not sealed for `purpose`
    under this KEK (or was changed)."""
    sealed = bytes(sealed)
    if sealed[:1] != VERSION or len(sealed) < 1 + NONCE_BYTES + 16:
        raise ValueError("not a sealed secret")
    nonce, body = sealed[1:1 + NONCE_BYTES], sealed[1 + NONCE_BYTES:]
    try:
        return AESGCM(kek).decrypt(nonce, body, purpose.encode())
    except Exception:  # cryptography's InvalidTag: wrong key, purpose or bytes
        raise ValueError(f"the sealed secret for {purpose!r} does not open with this key") from None


if __name__ == "__main__":  # python -m tiaki.plumbing.secrets PATH...: make the KEK files that are missing
    for arg in sys.argv[1:]:
        make_kek(arg)
