"""Every gRPC method of every service, called with messages hypothesis builds
from the generated descriptors (so a new method is fuzzed without editing this
file): odd and huge strings, invalid UTF-8 on the wire, huge repeated fields,
nested messages, out-of-range enums, absent fields, truncated and junk bytes.

The service must keep answering, every error must be a precise status (never
UNKNOWN or INTERNAL, which mean our code broke), and a refused call must leave
no new document in the service's databases."""

from __future__ import annotations

import importlib
import os
import struct

import grpc
import pytest
from google.protobuf import descriptor as d
from google.protobuf import message_factory
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.stack import ROOT
from tiaki.plumbing.ops import wait_healthy

EXAMPLES = int(os.environ.get("TIAKI_FUZZ_EXAMPLES", "12"))  # per method
TIMEOUT = 20  # a call that hangs fails as DEADLINE_EXCEEDED, which is not allowed
# ...except a feed: a valid watch with nothing to send yet stays open, quietly.
FEED_QUIET = 2
PRECISE = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
           grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.FAILED_PRECONDITION,
           grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.RESOURCE_EXHAUSTED}
SERVERS = {"tiaki.intake": "intake", "tiaki.router": "purpose_router",
           "tiaki.requests": "requests", "tiaki.insights": "insights"}
CALLERS = [("provider", "ccss"), ("agency", "agency"), ("unit", "evaluation")]


def _methods():
    """(server, method descriptor) for every method of every generated *_pb2."""
    found = []
    for path in sorted((ROOT / "tiaki").glob("*/v1/*_pb2.py")):
        if path.parts[-3] == "unit":  # a unit's own review service, not one of the services
            continue
        module = importlib.import_module(
            ".".join(path.relative_to(ROOT).with_suffix("").parts))
        for service in module.DESCRIPTOR.services_by_name.values():
            server = SERVERS[".".join(service.full_name.split(".")[:2])]
            found.extend((server, m) for m in service.methods)
    return found


METHODS = _methods()


# -- messages from descriptors ---------------------------------------------------------

WORDS = ["", " ", "\x00", "best-foot-forward", "ccss", "other-ngo", "evaluation", "2026Q3",
         "2026-02-30", "2026-03-02", "0", "-1", "99999999999999999999", "' OR 1=1 --",
         '{"$gt": ""}', "$where", "a.b.c", "\u202eevil", "Ngā mihi", "\U0001f600" * 50,
         "name", "regions", "tender", "{}", "[]", "null", "Bearer x"]
INVALID_UTF8 = [b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xfe\xfe\xff", b"abc\x80def"]
INTS = {d.FieldDescriptor.TYPE_INT32: (-2**31, 2**31 - 1),
        d.FieldDescriptor.TYPE_SINT32: (-2**31, 2**31 - 1),
        d.FieldDescriptor.TYPE_SFIXED32: (-2**31, 2**31 - 1),
        d.FieldDescriptor.TYPE_INT64: (-2**63, 2**63 - 1),
        d.FieldDescriptor.TYPE_SINT64: (-2**63, 2**63 - 1),
        d.FieldDescriptor.TYPE_SFIXED64: (-2**63, 2**63 - 1),
        d.FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1), d.FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
        d.FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1), d.FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1)}
KNOWN: list[str] = []  # ids that exist in the stack (see `known_ids`), so calls get past lookups


def text(huge: bool = False) -> st.SearchStrategy:
    words = st.sampled_from(WORDS + KNOWN)
    strings = [words, words, st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)]
    return st.one_of(*strings, *[st.just("x" * 70_000)] * huge)  # huge only at the top


def scalar(field: d.FieldDescriptor, depth: int = 1) -> st.SearchStrategy:
    t = field.type
    if t == d.FieldDescriptor.TYPE_STRING:
        return text(huge=not depth)
    if t == d.FieldDescriptor.TYPE_BYTES:
        return st.one_of(st.binary(max_size=40), st.sampled_from(INVALID_UTF8))
    if t == d.FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if t in (d.FieldDescriptor.TYPE_DOUBLE, d.FieldDescriptor.TYPE_FLOAT):
        return st.floats(allow_nan=True, allow_infinity=True, width=32)
    if t == d.FieldDescriptor.TYPE_ENUM:  # proto3 enums are open: unknown numbers arrive
        known = [v.number for v in field.enum_type.values]
        return st.one_of(st.sampled_from(known), st.integers(-3, 40),
                         st.sampled_from([2**31 - 1, -2**31]))
    lo, hi = INTS[t]
    return st.one_of(st.integers(-2, 5).filter(lambda v: lo <= v), st.integers(lo, hi),
                     st.sampled_from([lo, hi]))


def value(field: d.FieldDescriptor, depth: int) -> st.SearchStrategy:
    if field.type == d.FieldDescriptor.TYPE_MESSAGE:
        return message_values(field.message_type, depth + 1)
    return scalar(field, depth)


def message_values(desc: d.Descriptor, depth: int = 0) -> st.SearchStrategy:
    """A dict of some of the message's fields (absent ones stay unset)."""
    if depth > 4:
        return st.just({})
    fields = {}
    for field in desc.fields:
        if field.message_type and field.message_type.GetOptions().map_entry:
            key, val = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
            fields[field.name] = st.dictionaries(scalar(key), value(val, depth), max_size=4)
        elif field.is_repeated:
            one = value(field, depth)
            few = st.lists(one, max_size=4)
            # Huge repeated fields at the top only: 300 messages each holding
            # 20,000 strings would be six million, more than this machine has room for.
            if depth:
                fields[field.name] = few
            elif field.type == d.FieldDescriptor.TYPE_MESSAGE:
                fields[field.name] = st.one_of(few, st.builds(lambda v: [v] * 300, one))
            else:  # of short values: 20,000 huge strings would be over a gigabyte
                fields[field.name] = st.one_of(few, st.builds(lambda v: [v] * 20_000,
                                                              value(field, depth + 1)))
        else:
            fields[field.name] = value(field, depth)
    return st.fixed_dictionaries({}, optional=fields)


def fill(msg, values: dict):
    for name, v in values.items():
        field = msg.DESCRIPTOR.fields_by_name[name]
        target = getattr(msg, name)
        if field.message_type and field.message_type.GetOptions().map_entry:
            for key, item in v.items():
                if isinstance(item, dict):
                    fill(target[key], item)
                else:
                    target[key] = item
        elif field.is_repeated:
            for item in v:
                if isinstance(item, dict):
                    fill(target.add(), item)
                else:
                    target.append(item)
        elif isinstance(v, dict):
            target.SetInParent()
            fill(target, v)
        else:
            setattr(msg, name, v)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def wire(desc: d.Descriptor) -> st.SearchStrategy[bytes]:
    """The serialised message, sometimes spoilt on the wire."""
    cls = message_factory.GetMessageClass(desc)
    strings = [f.number for f in desc.fields if f.type == d.FieldDescriptor.TYPE_STRING]

    def build(values, spoil, cut, junk, bad):
        msg = cls()
        fill(msg, values)
        data = msg.SerializeToString()
        if spoil == "bad_utf8" and strings:  # a string field that is not UTF-8 (last one wins)
            number = strings[cut % len(strings)]
            data += _varint(number << 3 | 2) + _varint(len(bad)) + bad
        elif spoil == "truncated" and data:
            data = data[: cut % len(data)]
        elif spoil == "junk":
            data = junk
        elif spoil == "unknown_fields":  # fields this version does not know, nested deep
            nested = b""
            for _ in range(60):
                nested = _varint(1 << 3 | 2) + _varint(len(nested)) + nested
            data += _varint(999 << 3 | 2) + _varint(len(nested)) + nested
            data += _varint(1000 << 3 | 5) + struct.pack("<f", 1.5)
        return data

    return st.builds(build, message_values(desc),
                     st.sampled_from(["none", "none", "none", "bad_utf8", "truncated", "junk",
                                      "unknown_fields"]),
                     st.integers(0, 10_000), st.binary(max_size=60), st.sampled_from(INVALID_UTF8))


# -- calling ---------------------------------------------------------------------------

def _identity(data: bytes) -> bytes:
    return data


def call(stack, server: str, method: d.MethodDescriptor, requests: list[bytes], who):
    """(status code or None, response count) of one raw call."""
    channel = stack.channel(server)
    path = f"/{method.containing_service.full_name}/{method.name}"
    meta = stack.metadata(*who)
    try:
        if method.client_streaming:
            channel.stream_unary(path, _identity, _identity)(
                iter(requests), metadata=meta, timeout=TIMEOUT)
        elif method.server_streaming:
            stream = channel.unary_stream(path, _identity, _identity)(
                requests[0], metadata=meta, timeout=FEED_QUIET)
            try:
                next(stream, None)  # a watch can go on for an hour: one answer will do
            finally:
                stream.cancel()
        else:
            channel.unary_unary(path, _identity, _identity)(
                requests[0], metadata=meta, timeout=TIMEOUT)
    except grpc.RpcError as err:
        if method.server_streaming and err.code() in (grpc.StatusCode.CANCELLED,
                                                      grpc.StatusCode.DEADLINE_EXCEEDED):
            return None, err.details()
        return err.code(), err.details()
    return None, ""


def documents(stack, server: str) -> dict[str, int]:
    """Documents per collection in the server's database."""
    db = stack.mongo[f"{stack.name}_{server}"]
    return {name: db[name].estimated_document_count() for name in db.list_collection_names()}


_callers: dict[str, list] = {}


def callers(stack, server, method) -> list:
    """The identities the method serves (probed with an empty message), so
    the fuzzing reaches past the permission check."""
    key = method.full_name
    if key not in _callers:
        allowed = [who for who in CALLERS
                   if call(stack, server, method, [b""], who)[0] != grpc.StatusCode.PERMISSION_DENIED]
        _callers[key] = allowed or CALLERS[:1]
    return _callers[key]


@pytest.fixture(scope="module", autouse=True)
def known_ids(stack):
    """A programme with a plan and an open submission of ccss's to aim at."""
    from tests.e2e.journey import open_submission
    from tests.e2e.test_bad_input import new_programme, plan_dict

    programme_id = new_programme("fuzz")
    version = stack.create_plan(plan_dict(programme_id))
    KNOWN.extend([programme_id, open_submission(stack, programme_id, version), "eval", "counts",
                  "region", "sessions", "North"])
    yield
    KNOWN.clear()


@pytest.mark.parametrize("server,method", METHODS, ids=[m.full_name for _, m in METHODS])
def test_method_survives_fuzzing(stack, server, method):
    who_options = callers(stack, server, method)
    count = st.integers(1, 3) if method.client_streaming else st.just(1)
    messages = wire(method.input_type)

    @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def fuzz(data):
        who = data.draw(st.sampled_from(who_options), label="caller")
        requests = [data.draw(messages, label="request") for _ in range(data.draw(count))]
        before = documents(stack, server)
        code, details = call(stack, server, method, requests, who)
        if code is None:
            return
        assert code in PRECISE, f"{method.full_name} answered {code.name}: {details[:500]}"
        if len(requests) > 1:
            return  # a stream's earlier messages may be stored before a later one is refused
        assert documents(stack, server) == before, (
            f"{method.full_name} refused a call ({code.name}: {details[:200]}) "
            "but stored something")

    fuzz()
    assert not wait_healthy([stack.address(server)], within=10), f"{server} stopped answering"
    assert stack.procs[server].poll() is None, f"{server} exited:\n{stack.log_tail(server)}"
