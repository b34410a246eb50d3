"""`python -m tiaki.nameko run|test ...`: nameko's own command line, with
eventlet's green DNS turned off first. eventlet 0.33's green getaddrinfo
rejects the `type=` keyword pymongo 4 and prometheus_client pass; every address
here is an IP literal or localhost, so the blocking resolver costs nothing."""

import os
import sys

os.environ.setdefault("EVENTLET_NO_GREENDNS", "yes")

import eventlet  # noqa: E402

# Patched before anything imports socket or select (nameko's own command
# patches too, but only after this module has imported nameko_grpc).
eventlet.monkey_patch()

from nameko.cli import cli  # noqa: E402  (must come after the environment is set)

from tiaki.plumbing import bounds, grpc_errors, grpc_tuning, mtls  # noqa: E402

grpc_tuning.apply()
mtls.apply()
bounds.apply()
grpc_errors.register()

if __name__ == "__main__":
    sys.argv[0] = "nameko"
    sys.exit(cli())
