"""The Agency units' SDK stands alone: a unit could install it without the
services, so importing it loads no nameko, eventlet, mongoengine or service code."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("nameko", "nameko_grpc", "eventlet", "mongoengine", "services", "tiaki.plumbing",
             "tiaki.cli")


def test_importing_the_unit_sdk_loads_none_of_the_services():
    probe = ("import sys, tiaki.unit, tiaki.unit.client, tiaki.unit.store, tiaki.unit.checks, "
             "tiaki.unit.review, tiaki.unit.review_server, "
             "tiaki.unit.__main__\n"
             f"print('\\n'.join(m for m in sys.modules "
             f"if any(m == f or m.startswith(f + '.') for f in {FORBIDDEN!r})))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []
