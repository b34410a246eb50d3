"""Writes docs/api.md, the API reference, from the protos' own comments: every
service and RPC, message and field, enum and value, as protoc reads them (its
descriptors with source info). `--check` exits 1 when docs/api.md is not what
this makes; `uncommented()` lists what has no comment (a unit test requires none)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import descriptor_pb2

from tools.examples import ROOT, write_or_check

PROTOS = ROOT / "protos"
# Published with ours but not ours: the standard health service, vendored
# unchanged (its comments are gRPC's; only tiaki's own protos must comment everything).
VENDORED = {"grpc/health/v1/health.proto": (
    "The standard gRPC health service, vendored unchanged from grpc-proto (Apache-2.0): "
    "every tiaki server answers `Check` (NOT_FOUND for a service it does not serve; "
    "the empty name for the server as a whole), `Watch` and `List`. SERVING while the "
    "server's store and broker answer, NOT_SERVING while either does not.")}
API = ROOT / "docs" / "api.md"
# FileDescriptorProto field numbers, for SourceCodeInfo paths
PACKAGE, MESSAGE, ENUM, SERVICE = 2, 4, 5, 6
FIELD, NESTED, NESTED_ENUM, VALUE, METHOD = 2, 3, 4, 2, 2


@dataclass(frozen=True)
class Element:
    kind: str       # "service", "rpc", "message", "field", "enum", "value"
    name: str       # full name, e.g. tiaki.router.v1.PlanService.GetPlan
    detail: str     # what it is: the field's type, the RPC's request and response
    comment: str
    file: str


def descriptors() -> list[descriptor_pb2.FileDescriptorProto]:
    files = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "set.pb"
        subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTOS}",
                        "--include_source_info", f"--descriptor_set_out={out}", *files],
                       check=True)
        found = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    return list(found.file)


def _comment(loc) -> str:
    text = (loc.leading_comments or loc.trailing_comments or "").strip() if loc else ""
    return " ".join(line.strip() for line in text.splitlines())


def _type(field) -> str:
    name = (field.type_name.lstrip(".") if field.type_name else
            descriptor_pb2.FieldDescriptorProto.Type.Name(field.type)[5:].lower())
    return ("repeated " if field.label == field.LABEL_REPEATED else "") + name


def elements(files=None) -> list[Element]:
    """Every element of tiaki's own protos (not the VENDORED ones)."""
    out: list[Element] = []
    for f in files if files is not None else descriptors():
        if f.name in VENDORED:
            continue
        at = {tuple(loc.path): loc for loc in f.source_code_info.location}

        def add(kind, name, detail, path, _file=f.name, _at=at):
            out.append(Element(kind, name, detail, _comment(_at.get(tuple(path))), _file))

        def enum(e, prefix, path):
            add("enum", f"{prefix}.{e.name}", "", path)
            for i, v in enumerate(e.value):
                add("value", f"{prefix}.{e.name}.{v.name}", str(v.number), [*path, VALUE, i])

        def message(m, prefix, path):
            name = f"{prefix}.{m.name}"
            add("message", name, "", path)
            for i, field in enumerate(m.field):
                add("field", f"{name}.{field.name}", f"{_type(field)} = {field.number}",
                    [*path, FIELD, i])
            for i, nested in enumerate(m.nested_type):
                if not nested.options.map_entry:
                    message(nested, name, [*path, NESTED, i])
            for i, e in enumerate(m.enum_type):
                enum(e, name, [*path, NESTED_ENUM, i])

        for i, s in enumerate(f.service):
            add("service", f"{f.package}.{s.name}", "", [SERVICE, i])
            for j, m in enumerate(s.method):
                add("rpc", f"{f.package}.{s.name}.{m.name}",
                    f"{m.input_type.lstrip('.')} -> {m.output_type.lstrip('.')}",
                    [SERVICE, i, METHOD, j])
        for i, m in enumerate(f.message_type):
            message(m, f.package, [MESSAGE, i])
        for i, e in enumerate(f.enum_type):
            enum(e, f.package, [ENUM, i])
    return out


def uncommented(found: list[Element]) -> list[str]:
    return [f"{e.file}: {e.kind} {e.name}" for e in found if not e.comment]


def render(files=None) -> str:
    files = files if files is not None else descriptors()
    found = elements(files)
    lines = ["# tiaki's gRPC API", "",
             "Generated from `protos/` by `python -m tools.api_reference` (do not edit; "
             "tests/unit/test_api_reference.py fails when it is stale or anything is "
             "uncommented). Calling it: [vendor-quickstart.md](vendor-quickstart.md).", ""]
    for f in sorted(files, key=lambda f: f.name):
        at = {tuple(loc.path): loc for loc in f.source_code_info.location}
        lines += [f"## {f.name}", "", f"Package `{f.package}`. {_comment(at.get((PACKAGE,)))}".rstrip(),
                  ""]
        if f.name in VENDORED:
            lines += [VENDORED[f.name], ""]
            lines += [f"- rpc `{s.name}.{m.name}` `{m.input_type.lstrip('.')} -> "
                      f"{m.output_type.lstrip('.')}`" for s in f.service for m in s.method]
        for e in (e for e in found if e.file == f.name):
            short = e.name[len(f.package) + 1:]
            if e.kind in ("service", "message", "enum"):
                lines += ["", f"### {e.kind} {short}", "", e.comment, ""]
            else:
                detail = f" `{e.detail}`" if e.detail else ""
                lines.append(f"- {e.kind} `{short.rsplit('.', 1)[-1]}`{detail}: {e.comment}")
        lines.append("")
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.rstrip() + "\n"


def main(argv: list[str]) -> int:
    for m in uncommented(elements()):
        print(f"uncommented: {m}")
    return write_or_check(argv, API, render, "tools.api_reference")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
