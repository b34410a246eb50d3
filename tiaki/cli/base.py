"""What every `tiaki` command group shares: the global settings, the caller's
token as call metadata, stubs on one channel per server, a failed call as one
line and exit 1, and table and time formatting. It imports no command module.

Plain grpcio clients (never under eventlet). Every call carries the caller's API
token as `authorization: Bearer <token>` metadata."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NoReturn, TypeVar

import click
import grpc
import yaml

from tiaki.connect.channel import ClientTls, client_channel
from tiaki.core.plan import Plan, PlanInvalid
from tiaki.router.v1 import directory_pb2, plan_pb2
from tiaki.router.v1.directory_pb2_grpc import DirectoryServiceStub
from tiaki.router.v1.plan_pb2_grpc import PlanServiceStub

Stub = TypeVar("Stub")


@dataclass
class Settings:
    """The global options, and the channels opened with them (one per server)."""

    intake: str
    router: str
    token: str | None
    token_file: str | None
    requests: str = "127.0.0.1:50053"
    # Set by the `outcomes` and `measures` groups, which take --insights themselves.
    insights: str = "127.0.0.1:50054"
    person: str = ""  # --person / TIAKI_PERSON: sent as tiaki-person on every call
    channels: dict[str, grpc.Channel] = field(default_factory=dict)

    def close(self) -> None:
        for channel in self.channels.values():
            channel.close()
        self.channels.clear()


def settings() -> Settings:
    return click.get_current_context().find_object(Settings)


def read_token_file(path: str, what: str, hint: str = "") -> str:
    """A token file's contents, stripped; a usage error naming `what` when it
    cannot be read (`hint`: what to do about it)."""
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip()
    except OSError as exc:
        raise click.UsageError(f"cannot read {what} {path}: {exc.strerror}"
                               + (f" ({hint})" if hint else "")) from None


def token() -> str:
    """The API token from --token / TIAKI_TOKEN, else from --token-file / TIAKI_TOKEN_FILE."""
    given = settings()
    if given.token and given.token.strip():
        return given.token.strip()
    if given.token_file:
        found = read_token_file(given.token_file, "token file")
        if found:
            return found
        raise click.UsageError(f"token file {given.token_file} is empty")
    raise click.UsageError(
        "no API token: give one with --token TOKEN or the TIAKI_TOKEN environment variable, "
        "or put it in a file and use --token-file PATH or TIAKI_TOKEN_FILE")


def call_metadata() -> tuple[tuple[str, str], ...]:
    """The call metadata every request carries. With TIAKI_TLS_CA/CERT/KEY set
    (mutual TLS, tiaki/plumbing/mtls.py) the certificate names the caller; a token is optional."""
    given = settings()
    person = (("tiaki-person", given.person),) if given.person else ()
    if ClientTls.from_env() and not (given.token or given.token_file):
        return person
    return (("authorization", f"Bearer {token()}"), *person)


def stub(stub_class: Callable[[grpc.Channel], Stub], server: str) -> Stub:
    """A stub_class stub to 'intake', 'router', 'requests' or 'insights', on the
    channel every call to that server shares."""
    given = settings()
    if server not in given.channels:
        given.channels[server] = client_channel(getattr(given, server))
    return stub_class(given.channels[server])


def fail(err: grpc.RpcError, status: int = 1) -> NoReturn:
    """One line on stderr for a failed call, and exit 1 (or `status`)."""
    code = err.code() if callable(getattr(err, "code", None)) else None
    details = err.details() if callable(getattr(err, "details", None)) else str(err)
    name = code.name if code is not None else "UNKNOWN"
    click.echo(f"tiaki: {name}: {details}", err=True)
    sys.exit(status)


def rpc_errors(command: Callable | None = None, *, status: int = 1) -> Callable:
    """Turns a gRPC error anywhere in a command into `fail` (exit `status`):
    `@rpc_errors`, or `@rpc_errors(status=2)` where a failed call is exit 2."""

    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def wrapper(*args, **kwargs):
            try:
                return command(*args, **kwargs)
            except grpc.RpcError as err:
                fail(err, status)

        return wrapper

    return decorate(command) if command is not None else decorate


def table(header: list[str], rows: list[list[str]]) -> str:
    """Left-aligned columns, two spaces apart."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(w) for cell, w in zip(r, widths)).rstrip()
             for r in [header, *rows]]
    return "\n".join(lines)


def when(iso: str) -> str:
    """A stored ISO timestamp, shortened for a table."""
    return iso[:19].replace("T", " ") + "Z"


def call(server: str, stub_class: Callable[[grpc.Channel], object], method: str, request):
    """One unary call to a server with the caller's metadata; a failed call is `fail`."""
    try:
        return getattr(stub(stub_class, server), method)(request, metadata=call_metadata())
    except grpc.RpcError as err:
        fail(err)


def enum_words(enum, value: int, prefix: str) -> str:
    """A contract's enum value as words: ROLE_PROVIDER_LEAD -> 'provider lead'."""
    return enum.Name(value).removeprefix(prefix).lower().replace("_", " ")


def read_yaml(path: str, must_hold: str) -> dict:
    """A YAML file holding a mapping; a usage error (exit 2) for anything else."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise click.UsageError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise click.UsageError(f"{path} must hold {must_hold}")
    return data


def checked_plan(path: str, data: dict) -> Plan:
    """The plan read from `path`, checked here; every problem on stderr and exit 2."""
    try:
        return Plan.from_dict(data, version=0)
    except PlanInvalid as exc:
        click.echo(f"{path}: the plan has {len(exc.problems)} problem(s):", err=True)
        for problem in exc.problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(2)


def names() -> dict[str, str]:
    """The directory's display names by "<kind>:<id>", for views that name
    parties; empty when the directory cannot be read (the view shows ids)."""
    try:
        found = stub(DirectoryServiceStub, "router").ListEntries(
            directory_pb2.ListEntriesRequest(), metadata=call_metadata())
    except grpc.RpcError:
        return {}
    return {f"{enum_words(directory_pb2.PartyKind, e.kind, 'PARTY_KIND_')}:{e.id}": e.display_name
            for e in found.entries}


def programme_name(programme_id: str) -> str:
    """A programme's name in its latest plan; its id when the plan cannot be read."""
    try:
        plan = stub(PlanServiceStub, "router").GetPlan(
            plan_pb2.GetPlanRequest(programme_id=programme_id), metadata=call_metadata()).plan
    except grpc.RpcError:
        return programme_id
    return plan.name or programme_id
