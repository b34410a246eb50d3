"""Each owner's data on its own store, and no usable secret in any of them.

The stack here runs as `make run` lays it out (scripts/stores.sh): intake,
purpose_router, requests, insights and the reference Agency units each on a
store process of their own, data directories 0700 with files 0600. After the
example journey:
- the unit's configured store holds the units' databases and nothing else;
- a non-root user (the unit's, were it run as one) can read no store file
  and no key-encryption key;
- a full dump of every store, databases and raw files, yields no 32-byte value
  that recomputes a known client's pseudonym, and no router secret."""

from __future__ import annotations

import base64
import binascii
import json
import os
import shutil
import stat
import subprocess
import tempfile
import zlib
from pathlib import Path

import pymongo
import pytest

from services.intake.domain import pseudonym
from services.intake.storage import key_purpose
from services.purpose_router.routing.storage import secret_purpose
from tests.e2e.journey import quarter, submit
from tests.faults.infra import StoreNode
from tests.stack import drop, start_stack
from tiaki.plumbing.secrets import unseal

PROGRAMME = "best-foot-forward"
OWNERS = ("intake", "purpose_router", "requests", "insights", "units")
PROBE = """
import json, os, sys
readable = []
for path in sys.argv[1:]:
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            open(path, "rb").read(1)
        readable.append(path)
    except PermissionError:
        pass
print(json.dumps(readable))
"""


@pytest.fixture(scope="module")
def isolated(tmp_path_factory, example_plan):
    # Under a directory anyone may enter, so only the stores' own modes keep a reader out.
    top = Path(tempfile.mkdtemp(prefix="tiaki-isolation-"))
    top.chmod(0o755)
    nodes = {owner: StoreNode(top / owner) for owner in OWNERS}
    stack = None
    try:
        for node in nodes.values():
            node.start()
        stack = start_stack(tmp_path_factory.mktemp("isolated"),
                            stores={o: n.uri for o, n in nodes.items()})
        rows = quarter(60, seed=12)
        version = stack.create_plan(example_plan)
        sub, _ = submit(stack, PROGRAMME, version, rows)
        stack.wait_for(lambda: stack.unit_deliveries("evaluation", submission_id=sub)
                       and stack.unit_deliveries("service-delivery", submission_id=sub,
                                                 kind="aggregate"),
                       what="both units' deliveries")
        yield stack, nodes, top, rows
    finally:
        try:
            if stack is not None:
                drop(stack)
        finally:
            for node in nodes.values():
                node.stop()
            shutil.rmtree(top, ignore_errors=True)


def databases(uri: str) -> set[str]:
    with pymongo.MongoClient(uri) as client:
        return set(client.list_database_names()) - {"admin", "config", "local"}


def test_each_owner_store_holds_its_own_databases_only(isolated):
    stack, nodes, _, _ = isolated
    for owner in ("intake", "purpose_router", "requests", "insights"):
        assert databases(nodes[owner].uri) <= {f"{stack.name}_{owner}"}, owner
    assert databases(nodes["intake"].uri) == {f"{stack.name}_intake"}
    # What a unit's process is configured with: its store, with the units' data only.
    unit_store = stack.db_uri("unit_evaluation").rsplit("/", 1)[0]
    assert unit_store == nodes["units"].uri
    assert databases(unit_store) == {f"{stack.name}_unit_evaluation",
                                     f"{stack.name}_unit_service-delivery"}


def store_files(nodes) -> list[Path]:
    return [p for node in nodes.values() for p in (node.tmp / "data").rglob("*")]


def test_store_files_and_keys_are_their_owners_only(isolated):
    stack, nodes, _, _ = isolated
    files = store_files(nodes)
    assert any(p.name == f"{stack.name}_intake.db" for p in files)
    for data in [node.tmp / "data" for node in nodes.values()] + [p for p in files if p.is_dir()]:
        assert stat.S_IMODE(data.stat().st_mode) == 0o700, data
    for path in [p for p in files if p.is_file()] + list(stack.kek_files.values()):
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, (path, oct(path.stat().st_mode))


def test_a_non_root_unit_user_reads_no_store_file_and_no_key(isolated):
    stack, nodes, top, _ = isolated
    runuser = shutil.which("runuser")
    if os.geteuid() != 0 or runuser is None:
        pytest.skip("needs root and runuser to act as another user (nobody)")
    control = top / "control.txt"  # readable by anyone: the probe can read what is open
    control.write_text("open")
    control.chmod(0o644)
    targets = [str(p) for p in [control, *(n.tmp / "data" for n in nodes.values()),
                                *store_files(nodes), *stack.kek_files.values()]]
    probe = subprocess.run([runuser, "-u", "nobody", "--", "/usr/bin/python3", "-c", PROBE,
                            *targets], capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr
    assert json.loads(probe.stdout) == [str(control)]


# -- a full dump ---------------------------------------------------------------------

def blobs(value) -> list[bytes]:
    """Every byte string a stored value holds or encodes: bytes as they are and
    decompressed, text as text and hex- or base64-decoded, containers walked."""
    if isinstance(value, dict):
        return [b for v in value.values() for b in blobs(v)]
    if isinstance(value, list | tuple):
        return [b for v in value for b in blobs(v)]
    if isinstance(value, bytes):
        try:
            raw = zlib.decompress(value)
        except zlib.error:
            return [bytes(value)]
        try:
            return [bytes(value), raw, *blobs(json.loads(raw))]
        except ValueError:
            return [bytes(value), raw]
    if isinstance(value, str):
        out = [value.encode()]
        for decode in (bytes.fromhex, base64.b64decode, base64.urlsafe_b64decode):
            try:
                out.append(decode(value))
            except (ValueError, binascii.Error):
                pass
        return out
    return []


def dump(nodes) -> list[bytes]:
    """Every document of every database of every store, and every store file."""
    found = []
    for node in nodes.values():
        with pymongo.MongoClient(node.uri) as client:
            for db in client.list_database_names():
                for name in client[db].list_collection_names():
                    found += [b for doc in client[db][name].find() for b in blobs(doc)]
    return found + [p.read_bytes() for p in store_files(nodes) if p.is_file()]


def keys_that_work(found: list[bytes], target: str, ref: str) -> list[bytes]:
    """Each 32-byte value found that recomputes the client's pseudonym."""
    return [b for b in found if len(b) == 32 and pseudonym(b, "ccss", ref) == target]


def holds(found: list[bytes], secret: bytes) -> bool:
    """Whether any blob holds the secret anywhere, raw, in hex or in base64."""
    forms = [secret, secret.hex().encode(), base64.b64encode(secret)[:40],
             base64.urlsafe_b64encode(secret)[:40]]
    return any(f in blob for blob in found for f in forms)


def test_a_full_dump_of_every_store_yields_no_key_that_reidentifies_a_client(isolated):
    stack, nodes, _, rows = isolated
    ref = rows[0]["client_ref"]
    with pymongo.MongoClient(nodes["intake"].uri) as client:
        sealed = {d["_id"]: d["sealed"] for d in client[f"{stack.name}_intake"].pseudonym_keys.find()}
    with pymongo.MongoClient(nodes["purpose_router"].uri) as client:
        router = {d["_id"]: d["sealed"] for d in client[f"{stack.name}_purpose_router"].secrets.find()}
    assert f"{PROGRAMME}/evaluation" in sealed and "rounding-seed" in router
    kek = stack.kek("intake")
    keys = {k: unseal(kek, v, key_purpose(k)) for k, v in sealed.items()}
    secrets = {k: unseal(stack.kek("purpose_router"), v, secret_purpose(k)) for k, v in router.items()}
    # What an attacker holding the key would look for: the client's pseudonym is
    # right there in the evaluation unit's database.
    target = pseudonym(keys[f"{PROGRAMME}/evaluation"], "ccss", ref)
    found = dump(nodes)
    assert holds(found, target.encode())

    assert keys_that_work(found, target, ref) == []
    assert [k for k, key in keys.items() if holds(found, key)] == []
    assert [k for k, secret in secrets.items() if holds(found, secret)] == []
    # The search would have found them in the clear, as they were stored before.
    key = keys[f"{PROGRAMME}/evaluation"]
    planted = blobs({"secret": key, "zipped": zlib.compress(json.dumps(key.hex()).encode())})
    assert set(keys_that_work(planted, target, ref)) == {key}
    assert holds([b"x" + key + b"y"], key)
