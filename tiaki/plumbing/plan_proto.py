"""Converts plans between their dict form (tiaki.core.plan) and the gRPC message."""

from google.protobuf import json_format

from tiaki.router.v1 import plan_pb2


def to_proto(plan_dict: dict) -> plan_pb2.Plan:
    data = {**plan_dict}
    data["purposes"] = [{**p, "form": f"FORM_{p['form'].upper()}"} for p in plan_dict["purposes"]]
    # A YAML item with min or max has a range, as Plan.from_dict reads it.
    data["items"] = [{**i, "type": f"FIELD_TYPE_{i['type'].upper()}",
                      "has_range": i.get("has_range", "min" in i or "max" in i)}
                     for i in plan_dict["items"]]
    return json_format.ParseDict(data, plan_pb2.Plan())


def enum_text(value, prefix: str) -> str:
    """An enum value as the plan writes it; a number this version does not know
    (proto3 enums are open) stays a number, which the plan's checks refuse."""
    return value.removeprefix(prefix).lower() if isinstance(value, str) else str(value)


def from_proto(message: plan_pb2.Plan) -> dict:
    data = json_format.MessageToDict(message, preserving_proto_field_name=True,
                                     always_print_fields_with_no_presence=True)
    for p in data.get("purposes", []):
        p["form"] = enum_text(p["form"], "FORM_")
    for i in data.get("items", []):
        i["type"] = enum_text(i["type"], "FIELD_TYPE_")
        i["min"], i["max"] = int(i["min"]), int(i["max"])
    return data
