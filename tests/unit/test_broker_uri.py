"""A broker user's AMQP URI (tiaki/plumbing/broker_users.py): one node, or
every node of a cluster as kombu's alternates, each with the user and vhost."""

from __future__ import annotations

from kombu import Connection

from tiaki.plumbing.broker_users import amqp_uri


def test_one_node_is_one_uri():
    assert amqp_uri(("u", "p w"), "127.0.0.1:5672", "/") == "pyamqp://u:p%20w@127.0.0.1:5672/"


def test_a_cluster_is_one_alternate_per_node_each_with_the_user_and_vhost():
    uri = amqp_uri(("svc-intake", "pw/1"), "127.0.0.1:5801, 127.0.0.1:5802,127.0.0.1:5803",
                   "t1")
    conn = Connection(uri)
    assert [a.split("@")[1] for a in conn.alt] == [
        "127.0.0.1:5801/t1", "127.0.0.1:5802/t1", "127.0.0.1:5803/t1"]
    assert all(a.startswith("pyamqp://svc-intake:pw%2F1@") for a in conn.alt)
    assert (conn.hostname, conn.port, conn.virtual_host) == ("127.0.0.1", 5801, "t1")
    conn.maybe_switch_next()  # what kombu does when a node does not answer
    assert (conn.hostname, conn.port, conn.virtual_host) == ("127.0.0.1", 5802, "t1")
