"""deploy/: the alert rules pass their promtool unit tests, the dashboards parse, and the
static checks of tools/deploy_lint.py refuse what they exist to refuse."""

from __future__ import annotations

import copy
import json
import shutil

import pytest
import yaml

from services.requests.service import DAYS_LEFT_BANDS, days_left_band
from tools import deploy_lint


def test_alert_rules_configs_and_unit_tests_pass():
    assert deploy_lint.check_prometheus() == []


def test_dashboards_are_valid_and_every_expression_parses():
    assert deploy_lint.check_dashboards() == []


def test_a_dashboard_with_a_broken_expression_is_refused(tmp_path, monkeypatch):
    dash = json.loads((deploy_lint.DASHBOARDS / "tiaki-overview.json").read_text())
    panel = next(p for p in dash["panels"] if p["type"] != "row")
    panel["targets"][0]["expr"] = "sum by (unit (rate(tiaki_router_deliveries_total[5m]))"
    panel["gridPos"]["w"] = 30
    (tmp_path / "broken.json").write_text(json.dumps(dash))
    monkeypatch.setattr(deploy_lint, "DASHBOARDS", tmp_path)
    problems = deploy_lint.check_dashboards()
    assert any("do not parse" in p for p in problems)
    assert any("within 24 columns" in p for p in problems)


def test_every_alert_needs_a_unit_test(tmp_path, monkeypatch):
    shutil.copy(deploy_lint.PROMETHEUS / "alerts.yml", tmp_path)
    tests = yaml.safe_load((deploy_lint.PROMETHEUS / "alerts_test.yml").read_text())
    tests["tests"] = [t for t in tests["tests"]
                      if all(a["alertname"] != "ServiceDown" for a in t.get("alert_rule_test", []))]
    (tmp_path / "alerts_test.yml").write_text(yaml.safe_dump(tests))
    monkeypatch.setattr(deploy_lint, "PROMETHEUS", tmp_path)
    assert "alerts_test.yml: no unit test for alert ServiceDown" in deploy_lint.check_prometheus()


def test_metric_names_in_promql():
    names = deploy_lint.promql_metric_names
    assert names('histogram_quantile(0.95, sum by (le, service) '
                 '(rate(tiaki_worker_seconds_bucket{entrypoint=~"[A-Z].*"}[5m])))') == {
        "tiaki_worker_seconds_bucket"}
    assert names('tiaki:unit_queue_messages_ready / on (vhost, queue) clamp_min(sum by '
                 '(vhost, queue) (rate(rabbitmq_detailed_channel_messages_delivered_ack_total'
                 '[$__rate_interval])), 0.01) > 1e3 and up offset 5m') == {
        "tiaki:unit_queue_messages_ready", "rabbitmq_detailed_channel_messages_delivered_ack_total",
        "up"}


def test_names_used_resolve_recording_rules_to_exported_metrics():
    used = deploy_lint.exported_names_used()
    assert "rabbitmq_detailed_queue_messages_ready" in used   # via tiaki:unit_queue_messages_ready
    assert "tiaki_requests_open" in used                      # via tiaki:requests_open:max
    assert not any(":" in n for n in used) and "up" not in used


def deployment(name="intake") -> dict:
    probe = {"grpc": {"port": 50051}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"template": {"spec": {
                "serviceAccountName": name, "securityContext": {"runAsNonRoot": True},
                "containers": [{"name": name, "readinessProbe": probe, "livenessProbe": probe,
                                "securityContext": {"readOnlyRootFilesystem": True,
                                                    "allowPrivilegeEscalation": False},
                                "resources": {"requests": {"cpu": "1", "memory": "1Gi"},
                                              "limits": {"cpu": "1", "memory": "1Gi"}}}]}}}}


def complete_set(monkeypatch) -> list[dict]:
    monkeypatch.setattr(deploy_lint, "SERVICES", ["intake"])
    return [deployment(),
            {"kind": "ServiceAccount", "metadata": {"name": "intake"}},
            {"kind": "Service", "metadata": {"name": "intake"},
             "spec": {"ports": [{"name": "grpc", "port": 50051}]}},
            {"kind": "HorizontalPodAutoscaler", "metadata": {"name": "intake"},
             "spec": {"scaleTargetRef": {"name": "intake"}}},
            {"kind": "Secret", "metadata": {"name": "s"}, "stringData": {"k": "REPLACE_ME"}},
            *portal_set()]


def portal_set() -> list[dict]:
    """The portal: its workload as a service's, HTTP probes, and what it may reach."""
    portal = deployment("portal")
    probe = {"httpGet": {"path": "/healthz", "port": "http"}}
    portal["spec"]["template"]["spec"]["containers"][0].update(
        readinessProbe=probe, livenessProbe=probe,
        env=[{"name": "PORTAL_TLS_CLIENTS", "value": "/tls"},
             {"name": "PORTAL_SMTP_STARTTLS", "value": "1"},
             {"name": "PORTAL_SMTP_USER", "value": "tiaki-portal"},
             {"name": "PORTAL_SMTP_PASSWORD_FILE", "value": "/smtp/password"}],
        volumeMounts=[{"name": "client-tls", "mountPath": "/tls"},
                      {"name": "smtp", "mountPath": "/smtp"}])
    portal["spec"]["template"]["spec"]["volumes"] = [
        {"name": "client-tls", "secret": {"secretName": "clients"}},
        {"name": "smtp", "secret": {"secretName": "smtp"}}]
    egress = [{"to": [{"podSelector": {"matchLabels": {deploy_lint.NAME: "intake"}}}],
               "ports": [{"protocol": "TCP", "port": 50051}]},
              {"to": [{"podSelector": {"matchLabels": {deploy_lint.NAME: "mongodb"}}}],
               "ports": [{"protocol": "TCP", "port": 27017}]},
              {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 587}]},
              {"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
               "ports": [{"protocol": "UDP", "port": 53}]}]
    return [portal, {"kind": "ServiceAccount", "metadata": {"name": "portal"}},
            {"kind": "Service", "metadata": {"name": "portal"}},
            {"kind": "HorizontalPodAutoscaler", "metadata": {"name": "portal"},
             "spec": {"scaleTargetRef": {"name": "portal"}}},
            {"kind": "NetworkPolicy", "metadata": {"name": "portal"},
             "spec": {"podSelector": {"matchLabels": {deploy_lint.NAME: "portal"}},
                      "policyTypes": ["Egress"], "egress": egress}}]


def _portal_env(objects) -> list[dict]:
    return objects[5]["spec"]["template"]["spec"]["containers"][0]["env"]


def test_kubernetes_policy_accepts_a_complete_service(monkeypatch):
    assert deploy_lint.kubernetes_policy(complete_set(monkeypatch)) == []


@pytest.mark.parametrize("breakage, expected", [
    (lambda o: o[0]["spec"]["template"]["spec"]["securityContext"].clear(), "runAsNonRoot"),
    (lambda o: o[0]["spec"]["template"]["spec"]["containers"][0]["securityContext"].update(
        readOnlyRootFilesystem=False), "readOnlyRootFilesystem"),
    (lambda o: o[0]["spec"]["template"]["spec"]["containers"][0]["resources"].pop("limits"),
     "limits"),
    (lambda o: o[0]["spec"]["template"]["spec"]["containers"][0].update(
        livenessProbe={"tcpSocket": {"port": 50051}}), "gRPC health livenessProbe"),
    (lambda o: o.pop(1), "own ServiceAccount"),
    (lambda o: o.pop(3), "HorizontalPodAutoscaler"),
    (lambda o: o[4]["stringData"].update(k="tk_provider_real"), "Secret"),
    (lambda o: o[4].update(data={"k": "c2VjcmV0"}), "Secret"),
    (lambda o: o[5]["spec"]["template"]["spec"]["containers"][0].update(
        livenessProbe={"tcpSocket": {"port": 8080}}), "portal: its livenessProbe must be GET /healthz"),
    (lambda o: o.pop(6), "own ServiceAccount portal"),
    (lambda o: o[9]["spec"]["egress"].append(
        {"to": [{"podSelector": {"matchLabels": {deploy_lint.NAME: "rabbitmq"}}}],
         "ports": [{"protocol": "TCP", "port": 5672}]}), "must not reach ('pods', 'rabbitmq'"),
    (lambda o: o[9]["spec"]["egress"][0].pop("ports"), "reach ('pods', 'intake', "),
    (lambda o: o[9]["spec"]["egress"].append({}), "must not reach ('any',"),
    (lambda o: o[9]["spec"]["egress"].pop(1), "must reach ('pods', 'mongodb', 'TCP', 27017)"),
    (lambda o: o[9]["spec"].update(policyTypes=["Ingress"]), "NetworkPolicy must select the portal"),
    (lambda o: _portal_env(o).append({"name": "PORTAL_SMTP_PASSWORD", "value": "x"}),
     "PORTAL_SMTP_PASSWORD puts a password in the environment"),
    (lambda o: _portal_env(o)[1].update(value="0"), "PORTAL_SMTP_USER needs PORTAL_SMTP_STARTTLS=1"),
    (lambda o: _portal_env(o)[3].update(value="/tmp/password"),
     "PORTAL_SMTP_PASSWORD_FILE must be in a Secret's mount, not '/tmp/password'"),
])
def test_kubernetes_policy_refuses(monkeypatch, breakage, expected):
    objects = copy.deepcopy(complete_set(monkeypatch))
    breakage(objects)
    problems = deploy_lint.kubernetes_policy(objects)
    assert problems and all(expected in p for p in problems), problems


def test_compose_gives_every_service_its_own_database():
    compose = yaml.safe_load(deploy_lint.COMPOSE.read_text())["services"]
    uris = {s: [v for k, v in compose[s]["environment"].items() if k.endswith("_MONGO_URI")]
            for s in deploy_lint.SERVICES}
    assert sorted(deploy_lint.SERVICES) == ["insights", "intake", "purpose_router", "requests"]
    assert len({u[0] for u in uris.values()}) == 4
    assert all("replicaSet=rs0" in u[0] for u in uris.values())


def test_open_requests_are_banded_by_working_days_left():
    assert [days_left_band(d) for d in (-3, -1, 0, 3, 5, 6, 10, 11, 20, 21, 60)] == [
        "overdue", "overdue", "0", "3", "5", "6-10", "6-10", "11-20", "11-20", "over-20",
        "over-20"]
    assert {days_left_band(d) for d in range(-5, 40)} == set(DAYS_LEFT_BANDS)


# -- each service's data and keys its own (issue 12) ----------------------------------

@pytest.fixture(scope="module")
def rendered() -> list[dict]:
    if not deploy_lint.KUBECTL.exists():
        pytest.skip("kubectl (kustomize) is not installed in .venv")
    return deploy_lint.render(deploy_lint.KUBERNETES / "overlays" / "small")


def named(objects, kind, name) -> dict:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def test_each_service_reaches_only_its_own_database_as_its_own_user(rendered):
    assert deploy_lint.store_policy(rendered) == []
    users = json.loads(named(rendered, "ConfigMap", "mongodb-init")["data"]["users.json"])
    assert sorted(u["user"] for u in users) == sorted(deploy_lint.STORE_OWNERS)
    for service in deploy_lint.STORE_OWNERS:
        env = deploy_lint.container_env(named(rendered, "Deployment", service.replace("_", "-")))
        uri = env[deploy_lint.store_uri_variable(service)]
        assert uri.startswith(f"mongodb://{service}:") and f"/tiaki_{service}?" in uri, uri
        assert f"authSource=tiaki_{service}" in uri
        (user,) = [u for u in users if u["user"] == service]
        assert user["roles"] == [{"role": "readWrite", "db": f"tiaki_{service}"}]


def test_the_portal_calls_the_mtls_services_with_each_organisations_certificate(rendered):
    assert deploy_lint.kubernetes_policy(rendered) == []
    objects = copy.deepcopy(rendered)
    container = deploy_lint.pod_spec(named(objects, "Deployment", "portal"))["containers"][0]
    container["env"] = [e for e in container["env"] if e["name"] != "PORTAL_TLS_CLIENTS"]
    problems = deploy_lint.kubernetes_policy(objects)
    assert problems and all("PORTAL_TLS_CLIENTS" in p for p in problems), problems


def test_only_intake_and_the_router_mount_a_kek_each_their_own_in_both_parts(rendered):
    mounted = {}
    for o in rendered:
        spec = deploy_lint.pod_spec(o)
        for v in (spec or {}).get("volumes", []):
            name = (v.get("secret") or {}).get("secretName", "")
            if name.endswith("-kek"):
                mounted.setdefault(name, []).append(o["metadata"]["name"])
    assert {k: sorted(v) for k, v in mounted.items()} == {
        "tiaki-intake-kek": ["intake", "intake-interactive"],
        "tiaki-purpose-router-kek": ["purpose-router", "purpose-router-interactive"]}


def with_users(objects, change) -> list[dict]:
    objects = copy.deepcopy(objects)
    init = named(objects, "ConfigMap", "mongodb-init")
    users = json.loads(init["data"]["users.json"])
    change(users)
    init["data"]["users.json"] = json.dumps(users)
    return objects


def set_env(objects, deployment, name, value) -> list[dict]:
    objects = copy.deepcopy(objects)
    for e in deploy_lint.pod_spec(named(objects, "Deployment", deployment))["containers"][0]["env"]:
        if e["name"] == name:
            e["value"] = value
    return objects


def test_a_user_reaching_another_database_is_refused(rendered):
    def widen(users):
        users[0]["roles"].append({"role": "read", "db": "tiaki_intake"})
    problems = deploy_lint.store_policy(with_users(rendered, widen))
    assert any("roles must be readWrite" in p for p in problems), problems
    def any_db(users):
        users[0]["roles"] = [{"role": "readWriteAnyDatabase", "db": "admin"}]
    assert deploy_lint.store_policy(with_users(rendered, any_db))


def test_a_service_on_another_services_user_or_database_is_refused(rendered):
    uri = ("mongodb://intake:$(STORE_PASSWORD)@mongodb-0.mongodb/tiaki_intake"
           "?replicaSet=rs0&authSource=tiaki_intake")
    problems = deploy_lint.store_policy(set_env(rendered, "requests", "REQUESTS_MONGO_URI", uri))
    assert any("Deployment/requests" in p for p in problems), problems


def test_a_kek_mounted_into_another_service_is_refused(rendered):
    objects = copy.deepcopy(rendered)
    spec = deploy_lint.pod_spec(named(objects, "Deployment", "requests"))
    spec["volumes"].append({"name": "kek", "secret": {"secretName": "tiaki-intake-kek"}})
    problems = deploy_lint.store_policy(objects)
    assert any("tiaki-intake-kek must be mounted by Deployment/intake and "
               "Deployment/intake-interactive only" in p for p in problems), problems


def test_a_kek_mounted_into_another_services_interactive_part_is_refused(rendered):
    objects = copy.deepcopy(rendered)
    spec = deploy_lint.pod_spec(named(objects, "Deployment", "purpose-router-interactive"))
    spec["volumes"].append({"name": "other-kek", "secret": {"secretName": "tiaki-intake-kek"}})
    problems = deploy_lint.store_policy(objects)
    assert any("tiaki-intake-kek must be mounted by Deployment/intake and" in p
               and "purpose-router-interactive" in p for p in problems), problems


def test_an_interactive_part_on_another_database_is_refused(rendered):
    uri = ("mongodb://requests:$(STORE_PASSWORD)@mongodb-0.mongodb/tiaki_requests"
           "?replicaSet=rs0&authSource=tiaki_requests")
    problems = deploy_lint.store_policy(set_env(rendered, "intake-interactive",
                                                "INTAKE_MONGO_URI", uri))
    assert any("Deployment/intake-interactive" in p for p in problems), problems


# -- the same isolation in deploy/compose, rendered without Docker (issue 12) -----------

@pytest.fixture
def compose():
    return copy.deepcopy(deploy_lint.compose_files())


def compose_service(compose, name) -> dict:
    return compose[0]["services"][name]


def env_of(compose, name) -> dict:
    return compose_service(compose, name)["environment"]


def set_command_option(svc, option, value):
    command = svc["command"]
    command[command.index(option) + 1] = value


def test_the_compose_file_renders_as_compose_would():
    assert deploy_lint.interpolate("a${X:-1}b${Y:?set Y}c${Z}d$$e") == "a1b__Y__cd$e"


def test_compose_keeps_each_services_store_queues_and_keys_its_own(compose):
    assert deploy_lint.compose_policy(*compose) == []
    services = compose[0]["services"]
    for service in deploy_lint.SERVICES:
        env = services[service]["environment"]
        store = env[deploy_lint.config_variable(service, "MONGO_URI")]
        assert store.startswith(f"mongodb://{service}:__STORE_") and f"authSource=tiaki_{service}" in store
        assert env["AMQP_URI"].startswith(f"pyamqp://tiaki-svc-{service}:__BROKER_")
    assert [u["roles"] for u in compose[1]] == [[{"role": "readWrite", "db": u["db"]}]
                                                for u in compose[1]]
    assert {n: list(deploy_lint.service_secrets(s)) for n, s in services.items()
            if s.get("secrets")} == {"intake": ["intake-kek"],
                                     "intake-interactive": ["intake-kek"],
                                     "purpose_router": ["purpose-router-kek"],
                                     "purpose_router-interactive": ["purpose-router-kek"],
                                     "portal": ["portal-admin-token", "portal-smtp-password"]}
    assert "AMQP_URI" not in services["portal"]["environment"], "the portal has no broker work"


def _drop(svc, item):
    svc["command"].remove(item)


@pytest.mark.parametrize("breakage, expected", [
    (lambda c: _drop(compose_service(c, "mongo2"), "--auth"), "mongo2: mongod must run with --auth"),
    (lambda c: _drop(compose_service(c, "unit-evaluation-store"), "--auth"),
     "unit-evaluation-store: mongod must run with --auth"),
    (lambda c: compose_service(c, "mongo1")["volumes"].remove("mongo-keyfile:/keyfile:ro"),
     "mongo1: a replica-set member needs --keyFile"),
    (lambda c: compose_service(c, "mongo-keyfile").update(command=["sh", "-c", "true"]),
     "mongo3: a replica-set member needs --keyFile"),
    (lambda c: env_of(c, "mongo1").update(
        MONGO_INITDB_ROOT_PASSWORD="example"), "mongo1: MONGO_INITDB_ROOT_PASSWORD"),
    (lambda c: c[1][1]["roles"].append({"role": "read", "db": "tiaki_intake"}),
     "MongoDB user purpose_router: its roles must be readWrite"),
    (lambda c: env_of(c, "requests").update(
        REQUESTS_MONGO_URI=env_of(c, "intake")["INTAKE_MONGO_URI"]),
     "requests: its store URI must name its own user"),
    (lambda c: env_of(c, "insights").update(
        INSIGHTS_MONGO_URI="mongodb://mongo1,mongo2,mongo3/tiaki_insights?replicaSet=rs0"),
     "insights: its store URI must name its own user"),
    (lambda c: env_of(c, "intake").update(
        INTAKE_MONGO_URI="mongodb://intake:secret@mongo1/tiaki_intake?authSource=tiaki_intake"),
     "intake: its store password must be ${STORE_INTAKE_PASSWORD"),
    (lambda c: env_of(c, "mongo-init").pop("STORE_INSIGHTS_PASSWORD"),
     "insights: its store password must be"),
    (lambda c: set_command_option(compose_service(c, "unit-evaluation"), "--store-uri",
                                  "mongodb://evaluation:x@mongo1/tiaki_unit_evaluation"),
     "unit-evaluation: a unit's store must be its own"),
    (lambda c: env_of(c, "rabbitmq").pop("RABBITMQ_DEFAULT_USER"),
     "rabbitmq: the node's first user"),
    (lambda c: env_of(c, "intake").update(
        AMQP_URI="pyamqp://guest:guest@rabbitmq:5672/"), "intake: must connect to the broker as"),
    (lambda c: env_of(c, "purpose_router").update(
        AMQP_URI=env_of(c, "intake")["AMQP_URI"]),
     "share the broker user tiaki-svc-intake"),
    (lambda c: set_command_option(
        compose_service(c, "unit-service-delivery"), "--amqp-uri",
        "pyamqp://tiaki-unit-evaluation:__BROKER_UNIT_EVALUATION_PASSWORD__@rabbitmq:5672/"),
     "share the broker user tiaki-unit-evaluation"),
    (lambda c: compose_service(c, "tokens").update(environment={
        "AMQP_URI": "pyamqp://tiaki-admin:__RABBITMQ_ADMIN_PASSWORD__@rabbitmq:5672/"}),
     "tokens: connects as the broker's administrator tiaki-admin"),
    (lambda c: env_of(c, "requests").update(
        AMQP_URI="pyamqp://tiaki-svc-requests:hunter2@rabbitmq:5672/"),
     "requests: its broker password must be the variable broker-users.sh gives"),
    (lambda c: env_of(c, "broker-users").pop("BROKER_INSIGHTS_PASSWORD"),
     "broker-users: needs BROKER_INSIGHTS_PASSWORD"),
    (lambda c: _drop(compose_service(c, "unit-evaluation"), "--passive-queue"),
     "unit-evaluation: a unit may not declare its queue"),
    (lambda c: compose_service(c, "requests").update(secrets=["intake-kek"]),
     "secret intake-kek must be mounted into intake and intake-interactive only, not ['requests']"),
    (lambda c: compose_service(c, "insights")["volumes"].append(
        "./secrets/purpose_router.kek:/kek:ro"),
     "secret purpose-router-kek must be mounted into purpose_router and "
     "purpose_router-interactive only, not ['insights']"),
    (lambda c: compose_service(c, "unit-evaluation")["volumes"].append("./secrets:/keys:ro"),
     "secret intake-kek must be mounted into intake and intake-interactive only, "
     "not ['unit-evaluation']"),
    # a split service's two parts share its store user, broker user and key, and no more
    (lambda c: compose_service(c, "purpose_router-interactive").update(secrets=["intake-kek"]),
     "not ['purpose_router-interactive']"),
    (lambda c: env_of(c, "purpose_router-interactive").update(
        AMQP_URI=env_of(c, "intake")["AMQP_URI"]),
     "purpose_router-interactive: must connect to the broker as tiaki-svc-purpose_router"),
    (lambda c: env_of(c, "intake-interactive").update(
        INTAKE_MONGO_URI=env_of(c, "requests")["REQUESTS_MONGO_URI"]),
     "intake-interactive: its store URI must name its own user intake"),
    (lambda c: env_of(c, "intake").update(INTAKE_KEK_FILE="/tmp/kek"),
     "intake: INTAKE_KEK_FILE must name a secret mounted into it"),
    (lambda c: c[0]["secrets"]["intake-kek"].update(file="./compose.yaml"),
     "secret intake-kek: a file the operator makes, never one in the repository"),
    # the portal, as the services
    (lambda c: env_of(c, "portal").update(PORTAL_MONGO_URI=env_of(c, "requests")["REQUESTS_MONGO_URI"]),
     "portal: its store URI must name its own user portal"),
    (lambda c: env_of(c, "mongo-init").pop("STORE_PORTAL_PASSWORD"),
     "portal: its store password must be"),
    (lambda c: env_of(c, "portal").update(AMQP_URI="pyamqp://tiaki-svc-intake:x@rabbitmq:5672/"),
     "portal: has no broker work"),
    (lambda c: env_of(c, "portal").update(PORTAL_REQUESTS="requests:9103"),
     "portal: PORTAL_REQUESTS must be requests:50053"),
    (lambda c: compose_service(c, "portal").pop("healthcheck"), "portal: needs a healthcheck"),
    (lambda c: compose_service(c, "insights").update(secrets=["portal-admin-token"]),
     "secret portal-admin-token must be mounted into portal only, not ['insights']"),
    (lambda c: compose_service(c, "portal").update(ports=["8080:8080"]),
     "portal: publishes '8080:8080'; publish on 127.0.0.1 only"),
    (lambda c: env_of(c, "portal").update(PORTAL_SMTP_PASSWORD_FILE="/etc/password"),
     "portal: PORTAL_SMTP_PASSWORD_FILE must name a secret mounted into it"),
    (lambda c: env_of(c, "portal").update(PORTAL_SMTP_PASSWORD="hunter2"),
     "portal: PORTAL_SMTP_PASSWORD puts a password in the environment"),
    (lambda c: env_of(c, "portal").update(PORTAL_SMTP_USER="tiaki-portal"),
     "portal: PORTAL_SMTP_USER needs PORTAL_SMTP_STARTTLS=1"),
])
def test_compose_policy_refuses(compose, breakage, expected):
    breakage(compose)
    problems = deploy_lint.compose_policy(*compose)
    assert any(expected in p for p in problems), problems


# -- the store client on the replica set (issue 15) -----------------------------------

def test_every_service_writes_majority_to_every_member_of_the_replica_set(rendered):
    assert deploy_lint.replica_set_problems(rendered) == []
    for service in deploy_lint.SERVICES:
        env = deploy_lint.configured_env(named(rendered, "Deployment", service.replace("_", "-")),
                                         rendered)
        assert env["STORE_WRITE_CONCERN"] == "majority" and env["STORE_JOURNAL"] == "true"
        assert "replicaSet=rs0" in env[deploy_lint.config_variable(service, "MONGO_URI")]


def test_a_service_writing_to_one_member_or_reading_a_secondary_is_refused(rendered):
    objects = copy.deepcopy(rendered)
    container = deploy_lint.pod_spec(named(objects, "Deployment", "requests"))["containers"][0]
    container["env"].append({"name": "STORE_WRITE_CONCERN", "value": "1"})
    container["env"].append({"name": "STORE_READ_PREFERENCE", "value": "secondaryPreferred"})
    problems = deploy_lint.replica_set_problems(objects)
    assert len(problems) == 1 and "Deployment/requests" in problems[0], problems
    assert "'STORE_WRITE_CONCERN': '1'" in problems[0]


def test_a_store_client_without_the_settings_or_the_whole_set_is_refused(rendered):
    objects = [o for o in rendered if o["metadata"]["name"] != "tiaki-store-client"]
    problems = deploy_lint.replica_set_problems(objects)
    clients = len(deploy_lint.STORE_OWNERS) + 2  # and intake's and the router's interactive parts
    assert len([p for p in problems if "must be set to" in p]) == clients
    assert len([p for p in problems if "STORE_WRITE_TIMEOUT_MS" in p]) == clients
    one_member = ("mongodb://intake:$(STORE_PASSWORD)@mongodb-0.mongodb/tiaki_intake"
                  "?replicaSet=rs0&authSource=tiaki_intake")
    problems = deploy_lint.replica_set_problems(
        set_env(rendered, "intake", "INTAKE_MONGO_URI", one_member))
    assert problems and "Deployment/intake: its store URI must name every member" in problems[0]


def test_a_store_of_two_members_is_refused(rendered):
    objects = copy.deepcopy(rendered)
    named(objects, "StatefulSet", "mongodb")["spec"]["replicas"] = 2
    problems = deploy_lint.replica_set_problems(objects)
    assert problems[0].startswith("StatefulSet/mongodb: must be a replica set"), problems
