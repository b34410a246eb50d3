"""The key-encryption key file: refused when others may read it, and sealed
values open only under the same key and purpose."""

from __future__ import annotations

import os

import pytest

from tiaki.plumbing.secrets import KeyFileProblem, load_kek, make_kek, seal, unseal


def test_a_kek_is_made_owner_only_and_read_back(tmp_path):
    path = make_kek(tmp_path / "keys" / "intake.kek")
    assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "keys").stat().st_mode & 0o777 == 0o700
    assert len(load_kek(path)) == 32 and make_kek(path) == path  # made once


@pytest.mark.parametrize("mode", [0o644, 0o604, 0o640])
def test_a_kek_others_may_read_is_refused(tmp_path, mode, monkeypatch):
    path = make_kek(tmp_path / "k")
    path.chmod(mode)
    gid = path.stat().st_gid
    monkeypatch.setattr(os, "getegid", lambda: gid + 1)  # its group is not the process's
    with pytest.raises(KeyFileProblem, match="readable by others"):
        load_kek(path)


def test_a_kek_readable_by_the_processs_own_group_is_accepted(tmp_path, monkeypatch):
    """As a Kubernetes Secret volume with the pod's fsGroup mounts it (0440)."""
    path = make_kek(tmp_path / "k")
    path.chmod(0o440)
    monkeypatch.setattr(os, "getegid", lambda: 10001)
    monkeypatch.setattr(os, "stat", _with_gid(os.stat, 10001))
    assert len(load_kek(path)) == 32


def _with_gid(real_stat, gid):
    def fake(path, *args, **kwargs):
        st = real_stat(path, *args, **kwargs)
        return os.stat_result((*st[:5], gid, *st[6:]))
    return fake


def test_a_sealed_secret_opens_only_with_its_key_and_purpose():
    kek, secret = os.urandom(32), os.urandom(32)
    sealed = seal(kek, secret, "pseudonym-key:p/evaluation")
    assert secret not in sealed and unseal(kek, sealed, "pseudonym-key:p/evaluation") == secret
    for key, purpose in ((os.urandom(32), "pseudonym-key:p/evaluation"),
                         (kek, "pseudonym-key:p/reporting")):
        with pytest.raises(ValueError):
            unseal(key, sealed, purpose)
