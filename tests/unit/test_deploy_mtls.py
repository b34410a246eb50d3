"""The deploy lint's rules for mutual TLS on Kubernetes (tools/deploy_lint.py)."""

from __future__ import annotations

import copy

import yaml

from tests.unit.test_deploy import complete_set
from tools import deploy_lint

PROBE = {"exec": {"command": ["python", "-m", "tiaki.plumbing.ops", "healthy", "127.0.0.1:50051"]}}


def with_mtls(objects, probe=PROBE, optional=False):
    spec = objects[0]["spec"]["template"]["spec"]
    container = spec["containers"][0]
    container["env"] = [{"name": "TIAKI_TLS_CLIENT_CA", "value": "/etc/tiaki/tls/ca.crt"}]
    container.update(readinessProbe=copy.deepcopy(probe), livenessProbe=copy.deepcopy(probe))
    secret = {"secretName": "tiaki-grpc-tls", **({"optional": True} if optional else {})}
    spec["volumes"] = [{"name": "grpc-tls", "secret": secret}]
    return objects


def test_an_mtls_service_with_exec_probes_and_its_certificates_passes(monkeypatch):
    assert deploy_lint.kubernetes_policy(with_mtls(complete_set(monkeypatch))) == []


def test_an_mtls_service_with_kubernetes_grpc_probes_is_refused(monkeypatch):
    problems = deploy_lint.kubernetes_policy(
        with_mtls(complete_set(monkeypatch), probe={"grpc": {"port": 50051}}))
    assert len(problems) == 2 and all("tiaki.plumbing.ops healthy" in p for p in problems), problems


def test_an_mtls_service_with_optional_certificates_is_refused(monkeypatch):
    problems = deploy_lint.kubernetes_policy(with_mtls(complete_set(monkeypatch), optional=True))
    assert problems == ["Deployment/intake: serves mutual TLS; its grpc-tls secret volume "
                        "must not be optional"]


def test_the_committed_services_serve_mtls_with_their_certificates():
    seen = []
    for path in sorted((deploy_lint.KUBERNETES / "base").glob("*.yaml")):
        for obj in yaml.safe_load_all(path.read_text()):
            if not obj or obj["kind"] != "Deployment" or "tiaki" not in str(
                    obj["spec"]["template"]["spec"]["containers"][0].get("image")):
                continue
            container = obj["spec"]["template"]["spec"]["containers"][0]
            if not any(p["name"] == "grpc" for p in container["ports"]):
                continue  # the portal serves HTTP, not gRPC
            env = {e["name"]: e.get("value") for e in container["env"]}
            assert env["TIAKI_TLS_CLIENT_CA"] == env["TIAKI_TLS_CA"] == "/etc/tiaki/tls/ca.crt"
            assert env["TIAKI_TLS_CERT"] == "/etc/tiaki/tls/tls.crt", path
            port = container["ports"][0]["containerPort"]
            for which in ("startupProbe", "readinessProbe", "livenessProbe"):
                assert container[which]["exec"]["command"][-1] == f"127.0.0.1:{port}", path
            seen.append(obj["metadata"]["name"])
    assert sorted(seen) == ["insights", "intake", "intake-interactive", "purpose-router",
                            "purpose-router-interactive", "requests"]
