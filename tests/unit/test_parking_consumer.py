"""A broker that goes away under an acknowledgement must not end the service:
the broker has the message back already and redelivers it (seen in the fault
tests: a RabbitMQ restart reset the socket under an ack, and nameko, catching
only amqp's ConnectionError, let the container die)."""

from unittest import mock

import pytest

from tiaki.plumbing.dead_letter import ParkingConsumer


@pytest.mark.parametrize("lost", [ConnectionResetError(104, "Connection reset by peer"),
                                  BrokenPipeError(32, "Broken pipe")])
def test_an_ack_or_requeue_on_a_dropped_connection_is_survived(lost):
    consumer = ParkingConsumer.__new__(ParkingConsumer)  # no broker needed for this
    message = mock.Mock()
    message.channel.connection = object()
    message.ack.side_effect = message.requeue.side_effect = lost
    consumer.ack_message(message)
    consumer.requeue_message(message)
    assert message.ack.called and message.requeue.called


def test_other_errors_still_surface():
    consumer = ParkingConsumer.__new__(ParkingConsumer)
    message = mock.Mock()
    message.channel.connection = object()
    message.ack.side_effect = ValueError("a bug, not a dropped connection")
    with pytest.raises(ValueError):
        consumer.ack_message(message)
