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
