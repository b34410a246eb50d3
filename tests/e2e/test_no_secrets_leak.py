"""Pseudonym keys, API tokens and other secrets never leave where they are
kept, and client references never reach a log: a whole journey (a submission
with rejections, deliveries, an access and a correction request, refused
calls, the command line) runs while a tap queue copies every broker message
in the stack's vhost; then every service's and
unit's log, every /metrics page, every copied message, every error text and
the CLI's output are searched for the secrets in every form they could take."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import uuid

import grpc
import pytest
import requests

from services.intake.storage import key_purpose
from services.purpose_router.routing.storage import secret_purpose
from tests.e2e.journey import quarter, submit
from tests.stack import ROOT
from tiaki.intake.v1 import intake_pb2 as ipb
from tiaki.plumbing.secrets import unseal
from tiaki.requests.v1 import requests_pb2 as rpb
from tiaki.router.v1 import ledger_pb2

PROGRAMME = "best-foot-forward"


def forms(secret: bytes) -> list[str]:
    """The ways a secret could be written out: hex, base64 (both alphabets),
    and as text when it is text. Prefixes, so a shortened one is found too."""
    out = [secret.hex()[:24], base64.b64encode(secret).decode()[:20],
           base64.urlsafe_b64encode(secret).decode()[:20]]
    try:
        text = secret.decode("ascii")
        if text.isprintable():
            out.append(text)
            if text.startswith("tk_"):  # a token's random part, should its prefix be cut off
                # (tk_<kind>_<random>: the random part may itself hold "_")
                out.append(text.split("_", 2)[2][:16])
    except UnicodeDecodeError:
        pass
    return out


def test_forms_find_a_secret_however_it_is_written():
    key = os.urandom(32)
    for shown in (key.hex(), key.hex()[:32], base64.b64encode(key).decode(),
                  base64.urlsafe_b64encode(key).decode()):
        assert any(f in f"log line: {shown} end" for f in forms(key))
    token = b"tk_unit_Xyz_abcdefghijklmnopqrst"
    assert any(f in "Bearer Xyz_abcdefghijklmnopqrst" for f in forms(token))
    # A random part ending in "_x" must not make "x" a form: it is everywhere.
    assert all(len(f) >= 12 for f in forms(b"tk_provider_abcdefghijklmnopqrstuvw_x"))


def drain(queue) -> list[str]:
    texts = []
    while (message := queue.get(no_ack=True)) is not None:
        body = message.body if isinstance(message.body, bytes) else str(message.body).encode()
        texts.append(f"{message.headers!r} {message.delivery_info.get('routing_key')} "
                     f"{body.decode('utf-8', errors='replace')}")
    return texts


def refused(call) -> str:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return f"{caught.value.code().name}: {caught.value.details()}"


def cli(stack, *args, token_file=None) -> str:
    env = dict(os.environ, TIAKI_INTAKE=stack.address("intake"),
               TIAKI_ROUTER=stack.address("purpose_router"),
               TIAKI_REQUESTS=stack.address("requests"),
               TIAKI_TOKEN_FILE=str(token_file or stack.tmp / "tokens" / "provider-ccss"))
    done = subprocess.run([sys.executable, "-c", "from tiaki.cli.app import main; main()", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    return done.stdout + done.stderr


def test_no_secret_in_logs_metrics_messages_errors_or_output(stack, example_plan, tap, tmp_path):
    version = stack.create_plan(example_plan)
    ccss, other = stack.metadata("provider", "ccss"), stack.metadata("provider", "other-ngo")
    tag = uuid.uuid4().hex[:6]
    rows = [dict(r, client_ref=f"{tag}-{r['client_ref']}") for r in quarter(20, seed=41)]
    rows[3]["goals_met"] = "not a value"  # rejected with a reason
    rows[4]["favourite_colour"] = "blue"  # an undeclared field
    sid, summary = submit(stack, PROGRAMME, version, rows)
    assert summary.rejected_count == 2
    stack.wait_for(lambda: stack.unit_deliveries("evaluation", submission_id=sid),
                   what="the delivery")
    errors = []

    # A family's access request, answered; a correction; a unit records an access.
    client = rows[0]["client_ref"]
    opened = stack.requests().OpenAccessRequest(rpb.OpenAccessRequestRequest(
        programme_id=PROGRAMME, client_ref=client, requester="the client",
        authorisation="signed form", received="2026-03-02"), metadata=ccss).request
    stack.wait_for(lambda: stack.requests().GetRequest(rpb.GetRequestRequest(
        request_id=opened.request_id), metadata=ccss).request.state == rpb.REQUEST_STATE_COMPLETE,
        what="the answer")
    answer = stack.requests().GetAnswer(rpb.GetAnswerRequest(request_id=opened.request_id),
                                        metadata=ccss).html
    stack.requests().OpenCorrectionRequest(rpb.OpenCorrectionRequestRequest(
        programme_id=PROGRAMME, client_ref=client, requester="the client",
        authorisation="signed form", received="2026-03-02", correction=rpb.Correction(
            field="goals_met", current_value="", corrected_value="all", reason="we met them")),
        metadata=ccss)
    delivery = next(e for e in stack.ledger().ListFlows(ledger_pb2.ListFlowsRequest(
        submission_id=sid), metadata=ccss).entries if e.unit_id == "evaluation")
    stack.units().RecordAccess(ledger_pb2.RecordAccessRequest(
        delivery_id=delivery.delivery_id, accessor="analyst", fields=["goals_met"],
        reason="Q3 report"), metadata=stack.metadata("unit", "evaluation"))

    # Refusals of every kind: their texts are searched too.
    made_up = "tk_provider_" + "Q" * 32
    errors.append(refused(lambda: stack.intake().GetSubmission(
        ipb.GetSubmissionRequest(submission_id=sid), metadata=(("authorization",
                                                                f"Bearer {made_up}"),))))
    errors.append(refused(lambda: stack.intake().GetSubmission(
        ipb.GetSubmissionRequest(submission_id=sid), metadata=other)))
    errors.append(refused(lambda: stack.intake().GetSubmission(
        ipb.GetSubmissionRequest(submission_id=sid), metadata=stack.metadata("unit", "evaluation"))))
    errors.append(refused(lambda: stack.requests().OpenCorrectionRequest(
        rpb.OpenCorrectionRequestRequest(
            programme_id=PROGRAMME, client_ref=client, requester="x", authorisation="y",
            correction=rpb.Correction(field="goals_met", corrected_value="2", reason="z")),
        metadata=other)))
    unknown = f"{tag}-never-sent"  # a correction about nobody is refused naming it: never logged
    rows.append({"client_ref": unknown})
    errors.append(refused(lambda: stack.requests().OpenCorrectionRequest(
        rpb.OpenCorrectionRequestRequest(
            programme_id=PROGRAMME, client_ref=unknown, requester="x", authorisation="y",
            received="2026-03-02",
            correction=rpb.Correction(field="goals_met", corrected_value="2", reason="z")),
        metadata=ccss)))
    errors.append(refused(lambda: stack.intake().OpenSubmission(ipb.OpenSubmissionRequest(
        programme_id=PROGRAMME, period="last quarter"), metadata=ccss)))

    # The command line, with a good and a wrong token.
    wrong = tmp_path / "wrong-token"
    wrong.write_text(made_up)
    output = [cli(stack, "flows", "--head"), cli(stack, "flows", "--verify"),
              cli(stack, "flows", token_file=wrong)]
    assert "head " in output[0] and "intact" in output[1] and "UNAUTHENTICATED" in output[2]

    copied = drain(tap)
    assert any('"pseudonyms"' in m for m in copied), "the tap saw no accepted batch"
    assert any('"kind":"query"' in m.replace(" ", "") for m in copied), "no query seen"
    logs = {p.name: p.read_text(errors="replace") for p in stack.tmp.glob("*.log")}
    assert {"intake.log", "purpose_router.log", "requests.log", "unit-evaluation.log"} <= set(logs)
    metrics = {s: requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
               for s, port in stack.metrics_ports.items()}
    assert "tiaki_intake_records_accepted_total" in metrics["intake"]

    secrets: dict[str, bytes] = {}
    for kind_id, token in stack.tokens.items():
        secrets[f"token {kind_id}"] = token.encode()
    secrets[f"token {made_up[:12]}..."] = made_up.encode()
    for doc in stack.mongo[f"{stack.name}_intake"]["pseudonym_keys"].find():
        secrets[f"pseudonym key {doc['_id']}"] = unseal(stack.kek("intake"), doc["sealed"],
                                                        key_purpose(doc["_id"]))
    for doc in stack.mongo[f"{stack.name}_purpose_router"]["secrets"].find():
        secrets[f"router secret {doc['_id']}"] = unseal(stack.kek("purpose_router"),
                                                        doc["sealed"], secret_purpose(doc["_id"]))
    assert any(k.startswith("pseudonym key") for k in secrets)
    secrets.update(extra_secrets(stack))

    haystacks = {**{f"log {n}": t for n, t in logs.items()},
                 **{f"/metrics of {s}": t for s, t in metrics.items()},
                 **{f"broker message {i}": t for i, t in enumerate(copied)},
                 **{f"error {i}": t for i, t in enumerate(errors)},
                 **{f"CLI output {i}": t for i, t in enumerate(output)},
                 "the family's answer": answer}
    found = [(what, where) for what, secret in secrets.items() for needle in forms(secret)
             for where, text in haystacks.items() if needle in text]
    assert found == [], f"secrets found: {found[:10]}"
    # A family's client reference travels to intake (and as an RPC to it) and
    # is in the family's own answer, but never in a log, refusals included.
    refs = {r["client_ref"] for r in rows}
    in_logs = [(ref, name) for ref in refs for name, text in logs.items() if ref in text]
    assert in_logs == [], f"client references in logs: {in_logs[:10]}"


def extra_secrets(stack) -> dict[str, bytes]:
    """Private keys of a TLS setup, when the stack has one."""
    out = {}
    for path in sorted(getattr(stack, "tls_dir", None).glob("*.key")
                       if getattr(stack, "tls_dir", None) else []):
        body = b"".join(line for line in path.read_bytes().splitlines()
                        if line and not line.startswith(b"-----"))
        out[f"private key {path.name}"] = base64.b64decode(body)
        out[f"private key text {path.name}"] = body[20:60]
    return out
