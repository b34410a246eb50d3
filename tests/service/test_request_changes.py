"""A provider watching a request hears of a change the moment this instance
makes it, not at the next look at the store."""

from __future__ import annotations

import eventlet

from services.requests.service import RequestChanges


def test_a_watcher_wakes_when_its_own_request_changes_and_only_then():
    changes = RequestChanges()
    woke = []

    def watch(request_id):
        changes.wait(request_id, 60)
        woke.append(request_id)

    watchers = [eventlet.spawn(watch, "r1"), eventlet.spawn(watch, "r1"), eventlet.spawn(watch, "r2")]
    eventlet.sleep(0)  # every watcher is waiting
    changes.notify("r3")  # nobody watches r3
    eventlet.sleep(0)
    assert woke == []

    changes.notify("r1")
    with eventlet.Timeout(5):  # fails here if notify did not wake them (the wait is 60 s)
        watchers[0].wait()
        watchers[1].wait()
    assert woke == ["r1", "r1"]
    changes.notify("r2")
    with eventlet.Timeout(5):
        watchers[2].wait()
    assert woke == ["r1", "r1", "r2"] and changes._waiting == {}


def test_a_watcher_that_times_out_leaves_nothing_behind():
    changes = RequestChanges()
    changes.wait("r1", 0.01)
    assert changes._waiting == {}
    changes.notify("r1")  # no one to wake: nothing happens
