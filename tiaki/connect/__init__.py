"""How anything reaches tiaki: gRPC channels and the broker's queues, shared by
the services and their clients. No nameko here: an Agency unit uses it alone."""
