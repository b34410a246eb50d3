"""`tiaki keys rotate PROGRAMME`: the Agency starts a programme's next
pseudonym-key generation. The keys stay inside intake; this prints only the
generation now in use and the purposes given new keys."""

from __future__ import annotations

import click

from tiaki.cli import base
from tiaki.intake.v1 import keys_pb2 as pb
from tiaki.intake.v1 import keys_pb2_grpc


@click.group()
def keys() -> None:
    """Pseudonym keys (Agency only)."""


@keys.command("rotate")
@click.argument("programme")
@base.rpc_errors
def keys_rotate(programme: str) -> None:
    """Give every purpose of PROGRAMME a new pseudonym key: submissions from
    now on use it; access requests still find records under the old ones."""
    reply = base.stub(keys_pb2_grpc.KeysServiceStub, "intake").RotatePseudonymKeys(
        pb.RotatePseudonymKeysRequest(programme_id=programme), metadata=base.call_metadata())
    click.echo(f"{reply.programme_id}: pseudonym keys now at generation {reply.generation} "
               f"for {', '.join(reply.purpose_ids)} (rotated {reply.rotated_at.ToJsonString()})")
