"""Intake's pseudonym keys in the real store, across rotations: the current
generation's key for new batches, every generation's keys for finding a
person, generation 1's key under the plain "<programme>/<purpose>" id, and another
instance sees a rotation within the generation's TTL."""

from __future__ import annotations

import mongoengine
import pytest

from services.intake import storage as intake_storage
from services.intake.domain import pseudonym
from services.intake.storage import IntakeStorage
from tiaki.plumbing.store import connect


@pytest.fixture
def keys(store_uri, kek):
    connect(store_uri)
    store = IntakeStorage(kek)
    store.ensure_indexes()
    yield store
    mongoengine.disconnect()


def test_rotation_starts_a_new_generation_and_keeps_the_old_keys(keys, store_db):
    first = keys.pseudonym_key("bff", "evaluation")
    assert keys.key_generation("bff") == 1
    assert store_db.pseudonym_keys.find_one({"_id": "bff/evaluation"}) is not None  # as before

    assert keys.rotate_keys("bff", ["evaluation", "reporting"]) == 2
    second = keys.pseudonym_key("bff", "evaluation")
    assert second != first and len(second) == 32
    assert keys.programme_keys("bff") == {"evaluation": [first, second],
                                          "reporting": [keys.pseudonym_key("bff", "reporting")]}
    assert keys.rotate_keys("bff", ["evaluation"]) == 3
    third = keys.pseudonym_key("bff", "evaluation")
    assert keys.programme_keys("bff")["evaluation"] == [first, second, third]
    # One person, one pseudonym per generation, none alike.
    assert len({pseudonym(k, "ccss", "C-1") for k in (first, second, third)}) == 3
    # Another programme is untouched.
    assert keys.key_generation("other") == 1


def test_another_instance_sees_the_rotation_once_its_generation_is_read_again(
        keys, monkeypatch):
    other = IntakeStorage(keys.kek)
    before = other.pseudonym_key("bff", "evaluation")
    keys.rotate_keys("bff", ["evaluation"])
    assert keys.pseudonym_key("bff", "evaluation") != before  # the rotating instance: at once
    monkeypatch.setattr(intake_storage, "GENERATION_TTL", 0.0)
    assert other.pseudonym_key("bff", "evaluation") == keys.pseudonym_key("bff", "evaluation")
