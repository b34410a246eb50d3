"""The person in every decision, end to end: a call naming a person
(`tiaki-person`, the CLI's --person) records that person with the decision and
the ledger entry it makes, shown back over gRPC and by `tiaki flows`; a call
naming nobody records nobody, and the chain verifies either way."""

from __future__ import annotations

import copy
import uuid

import grpc
import pytest
from click.testing import CliRunner

from tests.e2e.journey import fresh_period, quarter, submit
from tiaki.cli.app import cli
from tiaki.plumbing import plan_proto
from tiaki.router.v1 import agreement_pb2 as apb
from tiaki.router.v1 import codesign_pb2 as cpb
from tiaki.router.v1 import ledger_pb2
from tiaki.router.v1.agreement_pb2_grpc import AgreementServiceStub
from tiaki.router.v1.codesign_pb2_grpc import CodesignServiceStub


def acting(stack, kind: str, ident: str, person: str = ""):
    return stack.metadata(kind, ident) + ((("tiaki-person", person),) if person else ())


def test_an_agreement_and_a_codesign_step_record_who_acted(stack, example_plan):
    plan = copy.deepcopy(example_plan)
    plan["programme_id"] = programme = f"person-{uuid.uuid4().hex[:8]}"
    codesign = CodesignServiceStub(stack.channel("purpose_router"))
    opened = codesign.OpenDraft(cpb.OpenDraftRequest(plan=plan_proto.to_proto(plan)),
                                metadata=acting(stack, "agency", "agency", "hana.kaimahi")).draft
    assert (opened.opened_by, opened.opened_by_person) == ("agency:agency", "hana.kaimahi")
    published = codesign.PublishDraft(cpb.PublishDraftRequest(programme_id=programme, version=1),
                                      metadata=acting(stack, "agency", "agency")).draft
    assert published.published_by_person == ""  # nobody named: nobody recorded

    agreements = AgreementServiceStub(stack.channel("purpose_router"))
    choices = [apb.ItemChoice(item_name=i["name"], decision=apb.ITEM_DECISION_ACCEPT)
               for i in plan["items"]]
    made = agreements.DecideItems(apb.DecideItemsRequest(
        programme_id=programme, plan_version=1, choices=choices),
        metadata=acting(stack, "provider", "ccss", "mere.tane")).agreement
    assert (made.person, made.made_by) == ("mere.tane", "mere.tane")
    assert {(i.person, i.decided_by, i.caller) for i in made.items} == {
        ("mere.tane", "mere.tane", "provider:ccss")}
    shown = agreements.GetAgreement(apb.GetAgreementRequest(
        programme_id=programme, plan_version=1, provider_id="ccss"),
        metadata=acting(stack, "agency", "agency")).in_force
    assert shown.person == "mere.tane"

    other = agreements.DecideItems(apb.DecideItemsRequest(
        programme_id=programme, plan_version=1, choices=choices, decided_by="Sam Lee"),
        metadata=acting(stack, "provider", "other-ngo")).agreement
    assert (other.person, other.made_by) == ("", "Sam Lee")
    assert {i.person for i in other.items} == {""}

    with pytest.raises(grpc.RpcError) as refused:
        agreements.GetAgreement(apb.GetAgreementRequest(programme_id=programme, plan_version=1),
                                metadata=acting(stack, "provider", "ccss", "Mere Tane"))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "tiaki-person" in refused.value.details()


def test_a_units_access_names_its_person_in_the_ledger_and_in_tiaki_flows(stack, example_plan):
    version = stack.create_plan(example_plan)
    submission_id, _ = submit(stack, "best-foot-forward", version, quarter(20, seed=31),
                              period=fresh_period())
    ledger, ccss = stack.ledger(), stack.metadata("provider", "ccss")

    def flows():
        return list(ledger.ListFlows(ledger_pb2.ListFlowsRequest(submission_id=submission_id),
                                     metadata=ccss).entries)

    delivery = stack.wait_for(
        lambda: next((e for e in flows() if e.kind == ledger_pb2.ENTRY_KIND_DELIVERY
                      and e.unit_id == "evaluation"), None), what="the evaluation delivery")
    for person, reason in (("rangi.walker", "Q3 outcomes report"), ("", "nightly check")):
        stack.units().RecordAccess(ledger_pb2.RecordAccessRequest(
            delivery_id=delivery.delivery_id, accessor="evaluation team", fields=["goals_met"],
            reason=reason), metadata=acting(stack, "unit", "evaluation", person))
    accesses = [e for e in flows() if e.kind == ledger_pb2.ENTRY_KIND_ACCESS]
    assert [(a.reason, a.person) for a in accesses] == [
        ("Q3 outcomes report", "rangi.walker"), ("nightly check", "")]

    runner = CliRunner()
    base = ["--router", stack.address("purpose_router"), "--token",
            stack.tokens[("provider", "ccss")]]
    shown = runner.invoke(cli, [*base, "flows", "--submission", submission_id])
    assert shown.exit_code == 0, shown.output
    lines = [line for line in shown.output.splitlines() if " access " in line]
    assert len(lines) == 2
    assert "Q3 outcomes report (person rangi.walker)" in shown.output
    assert "person" not in next(line for line in lines if "nightly check" in line)
    verified = runner.invoke(cli, [*base, "flows", "--verify"])
    assert verified.exit_code == 0, verified.output
