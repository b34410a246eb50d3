"""End-to-end fixtures: the real services as processes on the real broker and
store, each test session in its own RabbitMQ vhost and its own databases."""

from __future__ import annotations

import pytest
import yaml

from tests.stack import ROOT, drop, start_stack


@pytest.fixture(scope="session", autouse=True)
def state_dir(tmp_path_factory):
    """The CLI's and the units' remembered ledger heads, this session's own."""
    with pytest.MonkeyPatch.context() as patch:
        path = tmp_path_factory.mktemp("state")
        patch.setenv("TIAKI_STATE_DIR", str(path))
        yield path


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    s = start_stack(tmp_path_factory.mktemp("stack"))
    try:
        yield s
    finally:
        drop(s)


@pytest.fixture(scope="session")
def example_plan() -> dict:
    return yaml.safe_load((ROOT / "programmes" / "best-foot-forward.yaml").read_text())
