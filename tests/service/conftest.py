"""Service-layer fixtures: one service at a time, either as a bare worker with
its dependencies mocked (`worker_factory`, no broker), or as a started
container on the real broker (a throwaway vhost from nameko's `rabbit_config`)
and the real store (a database of its own per test).

Run under nameko's pytest plugin with eventlet monkey-patched:
`python -m tiaki.plumbing.nameko test tests/service` (what `make test-service` runs)."""

from __future__ import annotations

import os
import urllib.parse
import uuid

import mongoengine
import pymongo
import pytest
import yaml
from nameko import config
from nameko.testing.services import replace_dependencies
from nameko.testing.utils import find_free_port

from services.intake.service import IntakeService
from tests.service.factories import EXAMPLE, WHO
from tests.stack import Broker
from tiaki.core.plan import Plan
from tiaki.plumbing.secrets import load_kek, make_kek
from tiaki.plumbing.tokens import ensure_tokens

STORE_URI = os.environ.get("TIAKI_STORE_URI", "mongodb://127.0.0.1:27017")


# -- the broker's administrator ----------------------------------------------------

def pytest_configure(config):
    """nameko's fixtures (`rabbit_manager`, `rabbit_config`) make their vhosts as
    the test broker's administrator (var/broker, as scripts/infra.sh made it),
    unless --amqp-uri / --rabbit-ctl-uri name a broker by hand; guest is gone."""
    if config.getoption("RABBIT_AMQP_URI", "").startswith("pyamqp://guest:guest@localhost:"):
        broker = Broker.shared()
        user, password = (urllib.parse.quote(p, safe="") for p in broker.admin)
        mgmt = urllib.parse.urlsplit(broker.mgmt)
        config.option.RABBIT_AMQP_URI = broker.uri()
        config.option.RABBIT_API_URI = f"{mgmt.scheme}://{user}:{password}@{mgmt.netloc}"


# -- the example programme -------------------------------------------------------

@pytest.fixture(scope="session")
def plan_dict() -> dict:
    """The example programme's plan as the Agency writes it (no version)."""
    return yaml.safe_load(EXAMPLE.read_text())


@pytest.fixture
def plan(plan_dict) -> Plan:
    """The example plan as version 1, as purpose_router stores it."""
    return Plan.from_dict(plan_dict, version=1)


# -- class-level caches ----------------------------------------------------------

@pytest.fixture(autouse=True)
def clear_plan_caches():
    """intake caches plans on the class (a plan version never changes; purpose_router's
    plan repository caches them per container); each test starts and ends with the
    cache empty, so no test sees another's plan."""
    IntakeService._rules.clear()
    yield
    IntakeService._rules.clear()


# -- the real store and broker -----------------------------------------------------

@pytest.fixture
def store_uri():
    """A database of this test's own, dropped afterwards."""
    name = f"svc_{uuid.uuid4().hex[:12]}"
    yield f"{STORE_URI}/{name}"
    client = pymongo.MongoClient(STORE_URI)
    try:
        client.drop_database(name)
    finally:
        client.close()


@pytest.fixture
def store_db(store_uri):
    """A plain pymongo handle on the test's database, for looking behind a service."""
    client = pymongo.MongoClient(store_uri)
    yield client.get_default_database()
    client.close()


@pytest.fixture
def identities(tmp_path):
    """An identities file with hashed tokens, and the tokens themselves."""
    path = ensure_tokens(str(tmp_path), WHO)
    tokens = {(k, i): (tmp_path / "tokens" / f"{k}-{i}").read_text().strip() for k, i in WHO}
    return path, tokens


@pytest.fixture
def kek_file(tmp_path):
    """A key-encryption key of the test's own (mode 0600)."""
    return make_kek(tmp_path / "keys" / "service.kek")


@pytest.fixture
def kek(kek_file) -> bytes:
    return load_kek(kek_file)


@pytest.fixture
def service_config(rabbit_config, store_uri, identities, kek_file):
    """nameko config for one started service: the test's vhost (from
    `rabbit_config`), database, identities, key-encryption key and a free gRPC port."""
    values = {"MONGO_URI": store_uri, "IDENTITIES_FILE": str(identities[0]),
              "GRPC_BIND_HOST": "127.0.0.1", "GRPC_BIND_PORT": find_free_port(),
              "METRICS_PORT": 0, "KEY_ENCRYPTION_KEY_FILE": str(kek_file)}
    with config.patch(values):
        yield dict(config)
    # Storage.stop() disconnects, but a container that was killed (not stopped)
    # leaves mongoengine's default connection registered to this test's database.
    mongoengine.disconnect()


@pytest.fixture
def start_container(service_config, container_factory):
    """Starts a service in a container on the test's broker and store; stops
    it gracefully after the test (before the database and vhost go away)."""
    started = []

    def start(service_cls, **replacements):
        """`replacements` name dependencies to swap before starting (nameko's
        `replace_dependencies`), e.g. `purpose_router=FakeRouter()`."""
        container = container_factory(service_cls)
        if replacements:
            replace_dependencies(container, **replacements)
        container.start()
        started.append(container)
        return container

    yield start
    for container in reversed(started):
        container.stop()
