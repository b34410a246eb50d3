"""The store's replica-set settings: every service's config names each one with the
adapter's default, and the client is made with them (no store needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from nameko.cli.utils.config import setup_yaml_parser

from tiaki.plumbing import store

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "config").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_every_service_config_states_the_replica_set_defaults(path, monkeypatch):
    for key in store.DURABILITY:
        monkeypatch.delenv(key, raising=False)
    setup_yaml_parser()
    config = yaml.safe_load(path.read_text())
    assert {k: config.get(k) for k in store.DURABILITY} == {
        k: default for k, (_, default) in store.DURABILITY.items()}


def test_the_defaults_are_a_replica_sets_safe_choice():
    assert store.client_options({}) == {
        "w": "majority", "journal": True, "wTimeoutMS": 10000, "retryWrites": True,
        "retryReads": True, "readConcernLevel": "majority", "readPreference": "primary"}


def test_an_operator_overrides_them_from_the_environment_as_text():
    options = store.client_options({"STORE_WRITE_CONCERN": "2", "STORE_JOURNAL": "false",
                                    "STORE_READ_PREFERENCE": "primaryPreferred"})
    assert options["w"] == 2 and options["journal"] is False
    assert options["readPreference"] == "primaryPreferred"


def test_the_client_is_made_with_them(monkeypatch):
    made = {}
    monkeypatch.setattr(store.mongoengine, "connect", lambda **kw: made.update(kw))
    store.connect("mongodb://h1,h2,h3/db?replicaSet=rs0",
                  settings={"STORE_READ_CONCERN": "local"})
    assert made["w"] == "majority" and made["readConcernLevel"] == "local"
    assert made["host"] == "mongodb://h1,h2,h3/db?replicaSet=rs0"


# -- one server on its own gets what it honours; a replica set all of it ----------------

ALL = store.client_options({})


def made_with(monkeypatch, uri, settings=None):
    """The durability options the client for `uri` is made with."""
    made = {}
    monkeypatch.setattr(store.mongoengine, "connect", lambda **kw: made.update(kw))
    store.connect(uri, settings=settings)
    return {k: made[k] for k in ALL if k in made}


@pytest.mark.parametrize("uri", ["mongodb://127.0.0.1:27017/tiaki_intake",
                                 "mongodb://127.0.0.1/db?authSource=db&tls=true"])
def test_one_server_alone_gets_only_the_journal_and_read_retries(monkeypatch, uri):
    assert made_with(monkeypatch, uri) == {"journal": True, "retryReads": True}


@pytest.mark.parametrize("uri", [
    "mongodb://h1,h2,h3/db?replicaSet=rs0&authSource=db",
    "mongodb://h1:27017/db?replicaSet=rs0",
    "mongodb://h1:27017,h2:27017/db",
    "mongodb+srv://cluster.example.org/db",
])
def test_a_replica_set_or_cluster_uri_keeps_every_setting(monkeypatch, uri):
    assert made_with(monkeypatch, uri) == ALL


def test_a_journal_turned_off_stays_off_on_one_server(monkeypatch):
    options = made_with(monkeypatch, "mongodb://127.0.0.1:27017/db", {"STORE_JOURNAL": "false"})
    assert options == {"journal": False, "retryReads": True}
