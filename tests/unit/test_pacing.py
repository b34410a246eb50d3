"""Bulk work gives way to calls (tiaki/plumbing/pacing.py): a call that
arrives while a batch is worked through waits for a slice of it, and the
batch waits while the call is answered, but never for long."""

from __future__ import annotations

import time
from types import SimpleNamespace

import eventlet
import pytest
from nameko.events import EventHandler
from nameko.rpc import Rpc

from tiaki.plumbing import pacing


@pytest.fixture(autouse=True)
def no_calls():
    pacing._calls.clear()
    yield
    pacing._calls.clear()


def worker(entrypoint):
    return SimpleNamespace(entrypoint=entrypoint)


def test_paced_gives_every_item_in_order_and_lets_others_run_between():
    ran_during: list[int] = []
    seen: list[int] = []

    def other():
        ran_during.append(len(seen))

    eventlet.spawn(other)
    for item in pacing.paced(range(250), every=100):
        seen.append(item)
    assert seen == list(range(250))
    assert ran_during and 0 < ran_during[0] < 250  # mid-batch, not after it


def test_bulk_work_waits_while_a_call_is_answered():
    calls = pacing.CallsFirst()
    call = worker(Rpc())
    calls.worker_setup(call)
    finished = []

    def answer():
        eventlet.sleep(0.05)
        finished.append(time.monotonic())
        calls.worker_teardown(call)

    eventlet.spawn(answer)
    pacing.give_way()
    resumed = time.monotonic()
    assert finished and resumed >= finished[0]


def test_bulk_work_waits_for_calls_only_so_long():
    pacing.CallsFirst().worker_setup(worker(Rpc()))  # a call that never ends
    started = time.monotonic()
    pacing.give_way()
    assert pacing.MAX_PAUSE <= time.monotonic() - started < pacing.MAX_PAUSE + 1


def test_only_rpc_workers_are_waited_for():
    pacing.CallsFirst().worker_setup(worker(EventHandler("intake", "records_accepted")))
    assert not pacing.calls_in_flight()


def test_a_call_whose_teardown_never_came_is_forgotten(monkeypatch):
    pacing.CallsFirst().worker_setup(worker(Rpc()))
    assert pacing.calls_in_flight()
    later = time.monotonic() + pacing.FORGET_AFTER + 1
    monkeypatch.setattr(pacing.time, "monotonic", lambda: later)
    assert not pacing.calls_in_flight()
