"""Secrets at rest: intake's pseudonym keys and the router's secrets are
stored sealed under the owning service's key-encryption key, open with that
key only, and a service refuses to start without a usable key file."""

from __future__ import annotations

import os

import mongoengine
import pytest

from services.intake.service import IntakeService
from services.intake.storage import IntakeStorage
from services.purpose_router.routing.storage import RoutingStorage
from services.purpose_router.service import PurposeRouterService
from tiaki.plumbing.secrets import KeyFileProblem
from tiaki.plumbing.store import connect


@pytest.fixture
def db(store_uri):
    connect(store_uri)
    yield
    mongoengine.disconnect()


def stored_bytes(collection) -> bytes:
    return b"".join(bytes(v) for doc in collection.find() for v in doc.values()
                    if isinstance(v, bytes))


def test_a_pseudonym_key_is_stored_sealed_and_opens_only_under_intakes_key(db, kek, store_db):
    store = IntakeStorage(kek)
    store.ensure_indexes()
    first = store.pseudonym_key("bff", "evaluation")
    store.rotate_keys("bff", ["evaluation"])
    second = store.pseudonym_key("bff", "evaluation")
    assert store_db.pseudonym_keys.count_documents({}) == 2
    stored = stored_bytes(store_db.pseudonym_keys)
    assert first not in stored and second not in stored
    # Another instance with the same key reads them; a different key reads nothing.
    assert IntakeStorage(kek).programme_keys("bff") == {"evaluation": [first, second]}
    with pytest.raises(ValueError, match="does not open"):
        IntakeStorage(os.urandom(32)).programme_keys("bff")


def test_a_sealed_key_copied_onto_another_record_does_not_open(db, kek, store_db):
    store = IntakeStorage(kek)
    store.pseudonym_key("bff", "evaluation")
    sealed = store_db.pseudonym_keys.find_one({"_id": "bff/evaluation"})["sealed"]
    store_db.pseudonym_keys.insert_one({"_id": "bff/reporting", "programme_id": "bff",
                                        "purpose_id": "reporting", "generation": 1,
                                        "sealed": sealed, "created_at": 0.0})
    with pytest.raises(ValueError):
        IntakeStorage(kek).pseudonym_key("bff", "reporting")


def test_the_routers_secret_is_stored_sealed_and_shared_by_its_instances(db, kek, store_db):
    seed = RoutingStorage(kek).secret("rounding-seed")
    assert len(seed) == 32 and seed not in stored_bytes(store_db.secrets)
    assert RoutingStorage(kek).secret("rounding-seed") == seed
    with pytest.raises(ValueError):
        RoutingStorage(os.urandom(32)).secret("rounding-seed")


@pytest.mark.parametrize("service", [IntakeService, PurposeRouterService])
@pytest.mark.parametrize("problem", ["missing", "too open"])
def test_a_service_refuses_to_start_without_a_usable_key_file(
        service, problem, kek_file, service_config, container_factory):
    if problem == "missing":
        kek_file.unlink()
    else:
        kek_file.chmod(0o644)
    container = container_factory(service)
    with pytest.raises(KeyFileProblem, match="cannot be read" if problem == "missing"
                       else "readable by others"):
        container.start()
