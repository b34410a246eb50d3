"""`tiaki directory set --file`: the example directory's entries are sent as
written; a file that is not a directory is a usage error and sends nothing."""

from __future__ import annotations

from click.testing import CliRunner

from tiaki.cli import app as tcli
from tiaki.cli import directory
from tiaki.router.v1 import directory_pb2 as dpb


def test_the_example_directory_is_set_entry_by_entry(monkeypatch, tmp_path):
    sent = []
    monkeypatch.setattr(directory.base, "call", lambda server, stub, method, request: (
        sent.append(request.entry) or dpb.SetEntryResponse(entry=request.entry)))
    result = CliRunner().invoke(tcli.cli, ["--token", "t", "directory", "set", "--file",
                                           "programmes/directory.yaml"])
    assert result.exit_code == 0, result.output
    assert [(e.kind, e.id) for e in sent] == [
        (dpb.PARTY_KIND_AGENCY, "agency"), (dpb.PARTY_KIND_UNIT, "evaluation"),
        (dpb.PARTY_KIND_UNIT, "service-delivery"), (dpb.PARTY_KIND_PROVIDER, "ccss")]
    assert all(e.display_name and e.postal_address and e.phone and e.privacy_email for e in sent)
    assert "set provider City Centre Social Services" in result.output

    bad = tmp_path / "bad.yaml"
    bad.write_text("entries: [{kind: person, id: x}]\n")
    sent.clear()
    result = CliRunner().invoke(tcli.cli, ["--token", "t", "directory", "set", "--file",
                                           str(bad)])
    assert result.exit_code == 2 and sent == []
