"""Static checks of everything in deploy/, run by `make lint`:

- Prometheus: promtool check config (both configs), check rules, test rules.
- Grafana: the dashboards are valid dashboard JSON and every PromQL expression in them
  parses (promtool checks them as recording rules in a generated file).
- Compose: dclint validates compose.yaml against the Compose Specification; each tiaki
  service has its own database, runs read-only and not as root; the image is non-root.
  On compose.yaml rendered as `docker compose config` would (variables substituted;
  Docker is not needed): MongoDB runs with --auth (and a read-only keyFile for the
  replica set); each service's URI names its own user, database and authSource, with
  the password mongo-init gives that user (mongo-users.json: readWrite on its own
  database only); the units' stores are not the services'; no process is the broker's
  guest or shares another's broker user, and each uses the password broker-users.sh
  gives its user; a key-encryption key is a secret mounted into its own service only.
- The portal (services/portal, not a nameko service: PORTAL_* settings) is held to the
  same: its own database and store user, read-only and not root, a health check (GET
  /healthz); in Compose no broker URI, the services by their gRPC ports, its admin
  token a secret mounted into it only; in Kubernetes a ServiceAccount, Service and
  HorizontalPodAutoscaler, HTTP probes on /healthz, each organisation's client
  certificate (PORTAL_TLS_CLIENTS, a Secret) where the services serve mutual TLS, and a
  NetworkPolicy letting it reach only the services' gRPC ports, MongoDB, the mail relay
  (TCP 587) and DNS. In Compose every published port is on 127.0.0.1. Its mail relay's
  password is a file (PORTAL_SMTP_PASSWORD_FILE: a secret mounted into it only, in
  Kubernetes a Secret's mount), never an environment value, and a login goes with
  STARTTLS (PORTAL_SMTP_STARTTLS=1).
- Kubernetes: kubectl's kustomize renders every overlay; kubernetes-validate checks every
  object against the Kubernetes schemas (strict: unknown fields fail); and each service
  is non-root with a read-only root filesystem, requests and limits, gRPC health probes,
  its own ServiceAccount, a Service and a HorizontalPodAutoscaler; no Secret has a value;
  each service reaches MongoDB as its own user whose role reaches its own database only,
  and a service that seals secrets mounts a key-encryption-key Secret no other pod mounts;
  MongoDB is a replica set (3 or more members, odd) and each service's URI names every
  member and the set, and its store client writes majority with the journal, retries,
  and reads majority from the primary (REPLICA_SET_CLIENT).

Whether the metric names used exist in the services' real output is checked with the
services running, in tests/e2e/test_metrics_exposition.py (names come from here).

Usage: python tools/deploy_lint.py   (exit 1 and one line per problem when anything fails)
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
DASHBOARDS = DEPLOY / "grafana" / "dashboards"
COMPOSE = DEPLOY / "compose" / "compose.yaml"
COMPOSE_STORE_USERS = COMPOSE.parent / "mongo-users.json"
COMPOSE_BROKER_USERS = COMPOSE.parent / "broker-users.sh"
KUBERNETES = DEPLOY / "kubernetes"
KUBECTL = ROOT / ".venv" / "bin" / "kubectl"
DCLINT = ROOT / ".tools" / "node_modules" / ".bin" / "dclint"
# Kubernetes versions the manifests must be valid for: the oldest we support, the newest.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
PLACEHOLDER = "REPLACE_ME"
# The services, from their nameko configs: config/<name>.yaml.
SERVICES = sorted(p.stem for p in (ROOT / "config").glob("*.yaml"))
# The portal: its own process, not a nameko service (no config/*.yaml, no broker); its
# settings are PORTAL_* variables (services/portal/app.py Settings).
PORTAL = "portal"
PORTAL_SMTP_PORT = 587  # the mail relay: submission, STARTTLS and a login (services/portal/mail.py)
NAME = "app.kubernetes.io/name"  # the label every workload and its pods carry
# Each has a database of its own, reached as a store user of its own.
STORE_OWNERS = [*SERVICES, PORTAL]
# A service run as two parts (tiaki/plumbing/parts.py): "<name>" takes its bulk work and serves
# its gRPC port, "<name>-interactive" answers other services' RPCs; the two share its store
# user, broker user and key-encryption key, as two instances of the service do.
INTERACTIVE = "-interactive"
# Grafana's own variables, given a value so promtool can parse the expression.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
PROMQL_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
                   "group_right", "offset", "bool", "inf", "nan", "atan2"}


# ------------------------------------------------------------------ PromQL names

def promql_metric_names(expr: str) -> set[str]:
    """Metric (and recording rule) names an expression selects. Good enough for our own
    expressions: strings, label matchers, ranges and grouping clauses are removed, and
    a name followed by "(" is a function or an aggregation."""
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        before = text[match.start() - 1] if match.start() else " "
        if before.isdigit() or before == ".":   # 5m, 1e3, 0.5
            continue
        if text[match.end():].lstrip().startswith("("):
            continue
        if match.group(0).lower() in PROMQL_KEYWORDS:
            continue
        names.add(match.group(0))
    return names


def rule_groups() -> list[dict]:
    return yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]


def recording_rules() -> dict[str, str]:
    return {r["record"]: r["expr"] for g in rule_groups() for r in g["rules"] if "record" in r}


def dashboards() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def panels(dashboard: dict):
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])   # panels inside a collapsed row


def dashboard_exprs() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, expression) for every target."""
    return [(name, panel.get("title", ""), target["expr"])
            for name, dash in dashboards().items() for panel in panels(dash)
            for target in panel.get("targets", []) if target.get("expr")]


def exported_names_used() -> set[str]:
    """Every metric name the dashboards and alert rules read from a scrape, recording
    rules resolved to what they are computed from; `up` is Prometheus's own."""
    records = recording_rules()
    exprs = [e for _, _, e in dashboard_exprs()]
    exprs += [r["expr"] for g in rule_groups() for r in g["rules"]]
    names: set[str] = set()
    pending = [n for e in exprs for n in promql_metric_names(e)]
    while pending:
        name = pending.pop()
        if name in records:
            pending.extend(promql_metric_names(records.pop(name)))
        elif ":" not in name:
            names.add(name)
    return names - {"up"}


# ------------------------------------------------------------------ checks

def service_of(name: str) -> str:
    """The service a compose service or Deployment runs all or a part of: purpose_router
    for "purpose_router", "purpose-router" and "purpose-router-interactive"."""
    return name.removesuffix(INTERACTIVE).replace("-", "_")


def interactive_parts(names) -> list[str]:
    """The names of split services' interactive parts among `names`."""
    return [n for n in names if n.endswith(INTERACTIVE) and service_of(n) in SERVICES]


def run(cmd: list, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)


def check_prometheus() -> list[str]:
    problems = []
    for config in sorted(PROMETHEUS.glob("prometheus*.yml")):
        out = run(["promtool", "check", "config", config])
        if out.returncode:
            problems.append(f"promtool check config {config.name}: {out.stdout}{out.stderr}")
    out = run(["promtool", "check", "rules", "alerts.yml"], cwd=PROMETHEUS)
    if out.returncode:
        problems.append(f"promtool check rules alerts.yml: {out.stdout}{out.stderr}")
    out = run(["promtool", "test", "rules", "alerts_test.yml"], cwd=PROMETHEUS)
    if out.returncode:
        problems.append(f"promtool test rules alerts_test.yml: {out.stdout}{out.stderr}")
    alerts = {r["alert"] for g in rule_groups() for r in g["rules"] if "alert" in r}
    tested = {t["alertname"] for case in yaml.safe_load(
        (PROMETHEUS / "alerts_test.yml").read_text())["tests"]
        for t in case.get("alert_rule_test", [])}
    problems += [f"alerts_test.yml: no unit test for alert {a}" for a in sorted(alerts - tested)]
    return problems


def check_dashboard(name: str, dash: dict) -> list[str]:
    problems = []
    for key in ("uid", "title", "panels", "schemaVersion"):
        if key not in dash:
            problems.append(f"{name}: no {key!r}")
    variables = {v["name"] for v in dash.get("templating", {}).get("list", [])}
    ids = [p.get("id") for p in panels(dash)]
    if len(ids) != len(set(ids)) or None in ids:
        problems.append(f"{name}: panel ids must be present and unique")
    for panel in panels(dash):
        title = panel.get("title") or f"panel {panel.get('id')}"
        grid = panel.get("gridPos", {})
        if not {"x", "y", "w", "h"} <= set(grid) or grid["x"] + grid["w"] > 24:
            problems.append(f"{name}: {title}: gridPos must have x, y, w, h within 24 columns")
        if panel.get("type") == "row":
            continue
        targets = panel.get("targets") or []
        if not targets or not all(t.get("expr") for t in targets):
            problems.append(f"{name}: {title}: every panel needs targets with an expression")
        if len({t.get("refId") for t in targets}) != len(targets):
            problems.append(f"{name}: {title}: refIds must be unique")
        uid = (panel.get("datasource") or {}).get("uid", "")
        if uid.startswith("${") and uid[2:-1] not in variables:
            problems.append(f"{name}: {title}: data source variable {uid} is not defined")
    return problems


def check_dashboards() -> list[str]:
    problems = []
    try:
        found = dashboards()
    except json.JSONDecodeError as exc:
        return [f"dashboard JSON: {exc}"]
    if not found:
        return [f"no dashboards in {DASHBOARDS}"]
    for name, dash in found.items():
        problems += check_dashboard(name, dash)
    # Every expression as a recording rule, next to the real rules so that the
    # recording rules' names resolve too; promtool parses each one.
    rules = []
    for i, (_, _, expr) in enumerate(dashboard_exprs()):
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        rules.append({"record": f"dashboard:expr_{i}", "expr": expr})
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as fh:
        yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}, fh)
        fh.flush()
        out = run(["promtool", "check", "rules", fh.name])
    if out.returncode:
        problems.append(f"dashboard expressions do not parse: {out.stdout}{out.stderr}")
    return problems


def check_compose() -> list[str]:
    problems = []
    out = run([DCLINT, "-c", COMPOSE.parent / "dclint.json", "--max-warnings", "0", COMPOSE])
    if out.returncode:
        problems.append(f"dclint {COMPOSE.relative_to(ROOT)}: {out.stdout}{out.stderr}")
    compose, store_users, broker_users = compose_files()
    problems += compose_policy(compose, store_users, broker_users)
    services = compose["services"]
    databases = {}
    for name in [*STORE_OWNERS, *interactive_parts(services)]:
        svc = services.get(name)
        if svc is None:
            problems.append(f"compose: no service {name}")
            continue
        uris = [v for k, v in (svc.get("environment") or {}).items() if k.endswith("_MONGO_URI")]
        if len(uris) != 1:
            problems.append(f"compose: {name} needs exactly one *_MONGO_URI")
        elif name in STORE_OWNERS:  # a part's is its service's (compose_store_problems)
            databases[name] = uris[0].split("/")[-1].split("?")[0]
        if svc.get("read_only") is not True or str(svc.get("user", "0")).split(":")[0] in ("0", "root"):
            problems.append(f"compose: {name} must run read-only and not as root")
    if len(set(databases.values())) != len(databases):
        problems.append(f"compose: services share a database: {databases}")
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    if not users or users[-1].split(":")[0] in ("0", "root"):
        problems.append("deploy/Dockerfile: the image must end with a non-root USER")
    return problems


def interpolate(text: str) -> str:
    """Compose's variable substitution as `docker compose config` does it with no
    variable set, except that a required one (`${NAME:?message}`) stands for its value
    as `__NAME__`: a default is used, a plain `${NAME}` is empty, `$$` is `$`."""
    def value(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, word = match.group(1) or match.group(4), match.group(2), match.group(3)
        if operator and "?" in operator:
            return required(name)
        return word if operator else ""
    return re.sub(r"\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}|\$(\w+)", value, text)


def required(variable: str | None) -> str:
    """What a required variable renders as."""
    return f"__{variable}__"


def compose_files() -> tuple[dict, list[dict], dict[str, str]]:
    """compose.yaml rendered; the store users mongo-init makes; {broker user: the
    variable broker-users.sh takes its password from}."""
    users = re.findall(r'^uri (\S+) "\$(\w+)"$', COMPOSE_BROKER_USERS.read_text(), re.M)
    # Through JSON: each service its own objects, as `docker compose config` prints them
    # (YAML anchors share them).
    return (json.loads(json.dumps(yaml.safe_load(interpolate(COMPOSE.read_text())))),
            json.loads(COMPOSE_STORE_USERS.read_text()), dict(users))


def compose_policy(compose: dict, store_users: list[dict], broker_users: dict[str, str]) -> list[str]:
    """Each service's data, queues and keys its own, in the rendered compose."""
    services = compose["services"]
    return [f"compose: {p}" for p in compose_store_problems(services, store_users)
            + compose_broker_problems(services, broker_users) + compose_kek_problems(compose)
            + compose_portal_problems(compose) + published_port_problems(services)]


def command_option(svc: dict, option: str) -> str | None:
    command = svc.get("command") or []
    return command[command.index(option) + 1] if option in command[:-1] else None


def uri_hosts(uri: str) -> set[str]:
    return {h.split(":")[0] for h in urllib.parse.urlsplit(uri).netloc.rpartition("@")[2].split(",")}


def compose_store_problems(services: dict, users: list[dict]) -> list[str]:
    problems = []
    for name, svc in services.items():
        command = svc.get("command") or []
        if command[:1] != ["mongod"]:
            continue
        if "--auth" not in command:
            problems.append(f"{name}: mongod must run with --auth")
        if not re.fullmatch(r"__\w+__", str((svc.get("environment") or {}).get(
                "MONGO_INITDB_ROOT_PASSWORD", ""))):
            problems.append(f"{name}: MONGO_INITDB_ROOT_PASSWORD must come from a required "
                            "variable (deploy/compose/.env), not be empty or written here")
        if "--replSet" in command:
            keyfile = command_option(svc, "--keyFile") or ""
            volume = next((str(v).split(":")[0] for v in svc.get("volumes") or []
                           if str(v).endswith(f":{keyfile.rpartition('/')[0]}:ro")), None)
            writers = [" ".join(o.get("command") or []) for o in services.values()
                       if f"{volume}:{keyfile.rpartition('/')[0]}" in (o.get("volumes") or [])]
            if volume is None or len(writers) != 1 or not re.search(
                    r"chown 999:999 \S+ && chmod 0?400 ", writers[0] + " "):
                problems.append(f"{name}: a replica-set member needs --keyFile in a volume "
                                "mounted read-only, made by one init service that gives it "
                                f"to mongod's user (999) with mode 0400, not {keyfile!r}")
    init_env = (services.get("mongo-init") or {}).get("environment") or {}
    by_user = {u["user"]: u for u in users}
    problems += users_problems(users)
    store_hosts = set()
    for name in [*STORE_OWNERS, *interactive_parts(services)]:
        service = service_of(name)
        env = (services.get(name) or {}).get("environment") or {}
        uri = env.get(store_uri_variable(service) or "", "")
        store_hosts |= uri_hosts(uri)
        problem = store_uri_problem(name, service, uri, by_user)
        if problem:
            problems.append(problem)
            continue
        variable = by_user[service]["passwordFrom"]
        if urllib.parse.urlsplit(uri).password != required(variable) \
                or init_env.get(variable) != required(variable):
            problems.append(f"{name}: its store password must be ${{{variable}:?...}}, the "
                            "variable mongo-init gives its user (mongo-users.json passwordFrom)")
    for name, svc in services.items():
        unit_store = command_option(svc, "--store-uri")
        if unit_store and uri_hosts(unit_store) & store_hosts:
            problems.append(f"{name}: a unit's store must be its own, not the services' "
                            f"store server: {unit_store!r}")
    return problems


def amqp_uris(svc: dict) -> list[str]:
    env = svc.get("environment") or {}
    return [u for u in (env.get("AMQP_URI"), command_option(svc, "--amqp-uri")) if u]


def compose_broker_problems(services: dict, broker_users: dict[str, str]) -> list[str]:
    problems, admins = [], set()
    for name, svc in services.items():
        if str(svc.get("image", "")).startswith("rabbitmq"):
            env = svc.get("environment") or {}
            admin = env.get("RABBITMQ_DEFAULT_USER", "guest")
            admins.add(admin)
            if admin == "guest" or env.get("RABBITMQ_DEFAULT_PASS") != required(broker_users.get(admin)):
                problems.append(f"{name}: the node's first user must be broker-users.sh's "
                                f"administrator with its password, never guest (not {admin!r})")
    users: dict[str, list[str]] = {}
    for name, svc in services.items():
        unit = command_option(svc, "--unit")
        own = f"tiaki-svc-{service_of(name)}" if service_of(name) in SERVICES \
            else unit and f"tiaki-unit-{unit}"
        uris = amqp_uris(svc)
        if own and len(uris) != 1:
            problems.append(f"{name}: needs its own broker user in one AMQP URI")
        if unit and "--passive-queue" not in svc["command"]:
            problems.append(f"{name}: a unit may not declare its queue: --passive-queue")
        for uri in uris:
            parsed = urllib.parse.urlsplit(uri)
            users.setdefault(parsed.username, []).append(name)
            if parsed.username in admins:
                problems.append(f"{name}: connects as the broker's administrator "
                                f"{parsed.username}, which only broker-users may use")
            elif parsed.username in (None, "guest") or (own and parsed.username != own):
                problems.append(f"{name}: must connect to the broker as {own or 'its own user'}, "
                                f"not {parsed.username or 'guest'}")
            elif parsed.password != required(broker_users.get(parsed.username)):
                problems.append(f"{name}: its broker password must be the variable "
                                f"broker-users.sh gives {parsed.username}")
    problems += [f"{names}: share the broker user {user}" for user, names in users.items()
                 if len(names) > 1 and not split_pair(names)]
    env = (services.get("broker-users") or {}).get("environment") or {}
    problems += [f"broker-users: needs {v} from .env" for v in broker_users.values()
                 if env.get(v) != required(v)]
    return problems


def split_pair(names: list[str]) -> bool:
    """Whether these are exactly the two parts of one service."""
    base = names[0].removesuffix(INTERACTIVE)
    return sorted(names) == [base, base + INTERACTIVE] and service_of(base) in SERVICES


def service_secrets(svc: dict) -> dict[str, str]:
    """{secret: where it is mounted} (Compose's short and long syntax)."""
    out = {}
    for s in svc.get("secrets") or []:
        source, target = (s, s) if isinstance(s, str) else (s["source"], s.get("target", s["source"]))
        out[source] = target if target.startswith("/") else f"/run/secrets/{target}"
    return out


def bind_mounts(volume: str, file: str) -> bool:
    """Whether a service's volume (short syntax) binds that file or a directory holding it."""
    source = str(volume).split(":")[0]
    if not source.startswith((".", "/")):
        return False
    path, target = (COMPOSE.parent / source).resolve(), (COMPOSE.parent / file).resolve()
    return path == target or path in target.parents


def compose_kek_problems(compose: dict) -> list[str]:
    problems = []
    for service in SERVICES:
        variable = config_variable(service, "KEY_ENCRYPTION_KEY_FILE")
        if variable is not None:
            problems += own_secret_problems(compose, service, variable)
    return problems


def own_secret_problems(compose: dict, service: str, variable: str) -> list[str]:
    """The file `variable` names is a secret mounted into `service` only, made by the
    operator (never a file in the repository)."""
    services, defined = compose["services"], compose.get("secrets") or {}
    svc = services.get(service) or {}
    path = (svc.get("environment") or {}).get(variable)
    # Its interactive part, when split, reads the same key from the same place.
    parts = [service] + [n for n in interactive_parts(services) if service_of(n) == service
                         and (services[n].get("environment") or {}).get(variable) == path]
    own = [s for s, target in service_secrets(svc).items() if target == path]
    if not own:
        return [f"{service}: {variable} must name a secret mounted into it, not {path!r}"]
    problems = []
    secret, file = own[0], (defined.get(own[0]) or {}).get("file", "")
    others = sorted(n for n, o in services.items() if n not in parts and (
        secret in service_secrets(o) or any(file and bind_mounts(v, file)
                                            for v in o.get("volumes") or [])))
    if others:
        problems.append(f"secret {secret} must be mounted into {' and '.join(parts)} only, "
                        f"not {others}")
    if not file or run(["git", "ls-files", COMPOSE.parent / file], cwd=ROOT).stdout:
        problems.append(f"secret {secret}: a file the operator makes, never one in the repository")
    return problems


def compose_portal_problems(compose: dict) -> list[str]:
    """The portal: a health check, no broker, each service by its gRPC port, and its
    admin token a secret of its own."""
    svc = compose["services"].get(PORTAL)
    if svc is None:
        return []  # check_compose reports it missing
    env, problems = svc.get("environment") or {}, []
    if not (svc.get("healthcheck") or {}).get("test"):
        problems.append(f"{PORTAL}: needs a healthcheck (GET /healthz)")
    if amqp_uris(svc):
        problems.append(f"{PORTAL}: has no broker work, so no AMQP URI")
    for service in SERVICES:
        want = f"{service}:{config_default(service, 'GRPC_BIND_PORT')}"
        if env.get(f"PORTAL_{service.upper()}") != want:
            problems.append(f"{PORTAL}: PORTAL_{service.upper()} must be {want} (the service's "
                            f"gRPC port), not {env.get(f'PORTAL_{service.upper()}')!r}")
    return (problems + own_secret_problems(compose, PORTAL, "PORTAL_ADMIN_TOKEN_FILE")
            + own_secret_problems(compose, PORTAL, "PORTAL_SMTP_PASSWORD_FILE")
            + smtp_problems(PORTAL, {k: "" if v is None else str(v) for k, v in env.items()}))


def smtp_problems(where: str, env: dict[str, str], secret_mounts: set[str] | None = None) -> list[str]:
    """The portal's mail relay settings (services/portal/mail.py): no password in the
    environment, a login only with STARTTLS, and (Kubernetes) the password file in a
    Secret's mount."""
    problems = [f"{where}: {k} puts a password in the environment; use PORTAL_SMTP_PASSWORD_FILE"
                for k in env if "PASSWORD" in k and k.startswith("PORTAL_SMTP")
                and k != "PORTAL_SMTP_PASSWORD_FILE"]
    if env.get("PORTAL_SMTP_USER") and not env.get("PORTAL_SMTP_STARTTLS", "").startswith("1"):
        problems.append(f"{where}: PORTAL_SMTP_USER needs PORTAL_SMTP_STARTTLS=1 (a password "
                        "never goes to the relay without TLS)")
    password = env.get("PORTAL_SMTP_PASSWORD_FILE", "")
    if secret_mounts is not None and env.get("PORTAL_SMTP_USER") and not any(
            password.startswith(m.rstrip("/") + "/") for m in secret_mounts):
        problems.append(f"{where}: PORTAL_SMTP_PASSWORD_FILE must be in a Secret's mount, "
                        f"not {password!r}")
    return problems


def published_port_problems(services: dict) -> list[str]:
    """Every published port is on the host's loopback only (short syntax HOST:PUBLISHED:TARGET)."""
    return [f"{name}: publishes {port!r}; publish on 127.0.0.1 only"
            for name, svc in services.items() for port in svc.get("ports") or []
            if not str(port).startswith("127.0.0.1:")]


def render(overlay: Path) -> list[dict]:
    out = run([KUBECTL, "kustomize", overlay])
    if out.returncode:
        raise ValueError(f"kustomize {overlay.relative_to(ROOT)}: {out.stderr}")
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def pod_spec(obj: dict) -> dict | None:
    if obj["kind"] in ("Deployment", "StatefulSet", "Job", "DaemonSet"):
        return obj["spec"]["template"]["spec"]
    return None


def health_probe_problems(name: str, which: str, probe: dict, mtls: bool) -> list[str]:
    """A gRPC health probe; with mutual TLS on, Kubernetes' own gRPC probe (no
    client certificate) cannot pass: `python -m tiaki.plumbing.ops healthy` as an exec probe."""
    command = (probe.get("exec") or {}).get("command") or []
    if command[:4] == ["python", "-m", "tiaki.plumbing.ops", "healthy"]:
        return []
    if "grpc" in probe and not mtls:
        return []
    if "grpc" in probe:
        return [f"{name}: serves mutual TLS, so its {which} must be the exec probe "
                "`python -m tiaki.plumbing.ops healthy HOST:PORT`"]
    return [f"{name}: needs a gRPC health {which}"]


def kubernetes_policy(objects: list[dict]) -> list[str]:
    """What every tiaki workload must be, beyond the schema."""
    problems = []
    by_kind: dict[str, dict[str, dict]] = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj
    for obj in objects:
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["kind"] == "Secret":
            if obj.get("data") or any(v != PLACEHOLDER for v in (obj.get("stringData") or {}).values()):
                problems.append(f"{name}: a committed Secret holds only {PLACEHOLDER} values")
        spec = pod_spec(obj)
        if spec is None:
            continue
        if not (spec.get("securityContext") or {}).get("runAsNonRoot"):
            problems.append(f"{name}: pod must set securityContext.runAsNonRoot")
        for c in spec.get("containers", []) + spec.get("initContainers", []):
            sc = c.get("securityContext") or {}
            if not sc.get("readOnlyRootFilesystem") or sc.get("allowPrivilegeEscalation", True):
                problems.append(f"{name}/{c['name']}: needs readOnlyRootFilesystem and no "
                                "privilege escalation")
            resources = c.get("resources") or {}
            for part in ("requests", "limits"):
                if not {"cpu", "memory"} <= set(resources.get(part) or {}):
                    problems.append(f"{name}/{c['name']}: needs cpu and memory {part}")
    names = [s.replace("_", "-") for s in SERVICES]
    for name in names + interactive_parts(by_kind.get("Deployment", {})):
        deployment = by_kind.get("Deployment", {}).get(name)
        if deployment is None:
            problems.append(f"no Deployment for service {service_of(name)}")
            continue
        spec = pod_spec(deployment)
        container = spec["containers"][0]
        mtls = any(e.get("name") == "TIAKI_TLS_CLIENT_CA" for e in container.get("env") or [])
        for probe in ("readinessProbe", "livenessProbe"):
            problems += health_probe_problems(f"Deployment/{name}", probe,
                                              container.get(probe) or {}, mtls)
        if mtls and any((v.get("secret") or {}).get("optional") for v in spec.get("volumes", [])
                        if v.get("name") == "grpc-tls"):
            problems.append(f"Deployment/{name}: serves mutual TLS; its grpc-tls secret "
                            "volume must not be optional")
        problems += workload_problems(name, deployment, by_kind)
    return problems + portal_kubernetes_problems(by_kind)


def workload_problems(name: str, deployment: dict, by_kind: dict[str, dict[str, dict]]) -> list[str]:
    """Its own ServiceAccount, a Service and a HorizontalPodAutoscaler."""
    problems = []
    if pod_spec(deployment).get("serviceAccountName") != name \
            or name not in by_kind.get("ServiceAccount", {}):
        problems.append(f"Deployment/{name}: needs its own ServiceAccount {name}")
    if name not in by_kind.get("Service", {}):
        problems.append(f"no Service for {name}")
    hpa = by_kind.get("HorizontalPodAutoscaler", {}).get(name)
    if hpa is None or hpa["spec"]["scaleTargetRef"]["name"] != name:
        problems.append(f"no HorizontalPodAutoscaler for Deployment/{name}")
    return problems


def portal_kubernetes_problems(by_kind: dict[str, dict[str, dict]]) -> list[str]:
    """The portal as every service (workload_problems), with HTTP probes on /healthz
    and a NetworkPolicy that lets it reach only what it calls (portal_egress_problems)."""
    deployment = by_kind.get("Deployment", {}).get(PORTAL)
    if deployment is None:
        return ["no Deployment for the portal"]
    container = pod_spec(deployment)["containers"][0]
    problems = [f"Deployment/{PORTAL}: its {probe} must be GET /healthz"
                for probe in ("readinessProbe", "livenessProbe")
                if ((container.get(probe) or {}).get("httpGet") or {}).get("path") != "/healthz"]
    mtls = any(e.get("name") == "TIAKI_TLS_CLIENT_CA" for name, d in by_kind.get("Deployment", {}).items()
               if name.replace("-", "_") in SERVICES for e in pod_spec(d)["containers"][0].get("env") or [])
    secrets = {v["name"] for v in pod_spec(deployment).get("volumes", []) if "secret" in v}
    mounted = {m["mountPath"] for m in container.get("volumeMounts", []) if m["name"] in secrets}
    problems += smtp_problems(f"Deployment/{PORTAL}", container_env(deployment), mounted)
    if mtls and container_env(deployment).get("PORTAL_TLS_CLIENTS") not in mounted:
        problems.append(f"Deployment/{PORTAL}: the services serve mutual TLS, so PORTAL_TLS_CLIENTS "
                        "must name a Secret's mount holding each organisation's client certificate")
    policies = [p for p in by_kind.get("NetworkPolicy", {}).values()
                if (p["spec"].get("podSelector") or {}).get("matchLabels") == {NAME: PORTAL}]
    if len(policies) != 1 or "Egress" not in policies[0]["spec"].get("policyTypes", []):
        problems.append(f"one NetworkPolicy must select the portal's pods ({NAME}: {PORTAL}) "
                        "with policyTypes Egress")
    else:
        problems += portal_egress_problems(policies[0], by_kind)
    return problems + workload_problems(PORTAL, deployment, by_kind)



def egress_peers(rule: dict) -> list[tuple]:
    """What one egress rule allows, as (peer, protocol, port); ("any", ...) for a rule
    without `to` or without `ports` (it allows every peer or every port)."""
    peers = []
    for to in rule.get("to") or [{"any": True}]:
        pods = ((to.get("podSelector") or {}).get("matchLabels") or {})
        if "any" in to:
            peers.append(("any",))
        elif "ipBlock" in to:
            peers.append(("outside",))
        elif "namespaceSelector" in to:
            peers.append(("dns",) if pods.get("k8s-app") == "kube-dns" else ("any",))
        else:
            peers.append(("pods", pods.get(NAME)))
    ports = [(p.get("protocol", "TCP"), p.get("port")) for p in rule.get("ports") or []] or [("any", "any")]
    return [(*peer, protocol, port) for peer in peers for protocol, port in ports]


def portal_egress_problems(policy: dict, by_kind: dict[str, dict[str, dict]]) -> list[str]:
    """Each service's gRPC port (from its Service), MongoDB's 27017, the mail relay on TCP
    25 outside, DNS on 53: each of these is allowed, and nothing else."""
    needed = {("pods", "mongodb", "TCP", 27017), ("outside", "TCP", PORTAL_SMTP_PORT),
              ("dns", "UDP", 53)}
    for service in SERVICES:
        name = service.replace("_", "-")
        ports = (by_kind.get("Service", {}).get(name) or {}).get("spec", {}).get("ports", [])
        needed |= {("pods", name, "TCP", p["port"]) for p in ports if p.get("name") == "grpc"}
    allowed = {peer for rule in policy["spec"].get("egress") or [] for peer in egress_peers(rule)}
    problems = [f"NetworkPolicy/{policy['metadata']['name']}: the portal must not reach {peer}"
                for peer in sorted(allowed - needed - {("dns", "TCP", 53)}, key=str)]
    problems += [f"NetworkPolicy/{policy['metadata']['name']}: the portal must reach {peer}"
                 for peer in sorted(needed - allowed, key=str)]
    return problems


def store_policy(objects: list[dict]) -> list[str]:
    """Each service's data and keys reachable by that service only."""
    deployments = {o["metadata"]["name"]: o for o in objects
                   if o["kind"] == "Deployment" and service_of(o["metadata"]["name"]) in STORE_OWNERS}
    return store_user_problems(objects, deployments) + kek_problems(objects, deployments)


def config_variable(service: str, key: str) -> str | None:
    """The environment variable that sets `key` in config/<service>.yaml
    (`KEY: ${VARIABLE:default}`), or None when the service has no such key."""
    path = ROOT / "config" / f"{service}.yaml"
    found = path.exists() and re.search(rf"^{key}:\s*\$\{{(\w+):", path.read_text(), re.M)
    return found.group(1) if found else None


def config_default(service: str, key: str) -> str | None:
    """The default of `key` in config/<service>.yaml (`KEY: ${VARIABLE:default}`)."""
    found = re.search(rf"^{key}:\s*\$\{{\w+:([^}}]*)\}}",
                      (ROOT / "config" / f"{service}.yaml").read_text(), re.M)
    return found.group(1) if found else None


def store_uri_variable(owner: str) -> str | None:
    """The environment variable holding a service's (or the portal's) store URI."""
    return "PORTAL_MONGO_URI" if owner == PORTAL else config_variable(owner, "MONGO_URI")


def container_env(obj: dict) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in pod_spec(obj)["containers"][0].get("env") or []}


def store_user_problems(objects: list[dict], deployments: dict[str, dict]) -> list[str]:
    """Each service reaches MongoDB as its own user, named in its URI with its own
    database as authSource, and each user's roles reach that database only."""
    init = next((o for o in objects if o["kind"] == "ConfigMap"
                 and o["metadata"]["name"] == "mongodb-init"), None)
    if init is None or "users.json" not in init.get("data", {}):
        return ["ConfigMap/mongodb-init: needs users.json (one MongoDB user per service)"]
    users = json.loads(init["data"]["users.json"])
    by_user = {u["user"]: u for u in users}
    problems = users_problems(users)
    for name, deployment in deployments.items():
        service = service_of(name)
        uri = container_env(deployment).get(f"{store_uri_variable(service)}", "")
        problem = store_uri_problem(f"Deployment/{name}", service, uri, by_user)
        if problem:
            problems.append(problem)
    return problems


def users_problems(users: list[dict]) -> list[str]:
    """Each MongoDB user's roles reach its own database only; no two share one."""
    problems = [f"MongoDB user {u['user']}: its roles must be readWrite on {u['db']} only, "
                f"not {u['roles']}" for u in users
                if any(r.get("db") != u["db"] or r.get("role") != "readWrite" for r in u["roles"])]
    databases = [u["db"] for u in users]
    if len(set(databases)) != len(databases):
        problems.append(f"MongoDB users share a database: {databases}")
    return problems


def store_uri_problem(label: str, service: str, uri: str, users: dict[str, dict]) -> str | None:
    """The service's store URI names its own user and database, authSource too."""
    parsed = urllib.parse.urlsplit(uri)
    db, query = parsed.path.lstrip("/"), urllib.parse.parse_qs(parsed.query)
    user = users.get(parsed.username or "")
    if parsed.username != service or user is None or user["db"] != db \
            or query.get("authSource") != [db]:
        return (f"{label}: its store URI must name its own user {service} and database "
                f"(authSource too), and the users file that user on that database: {uri!r}")
    return None


def kek_problems(objects: list[dict], deployments: dict[str, dict]) -> list[str]:
    """A service that seals secrets (KEY_ENCRYPTION_KEY_FILE in its config) reads its
    key from a Secret of its own, mounted into that service's pods only (the pods of
    its two Deployments when it runs as two parts, INTERACTIVE)."""
    problems = []
    for name, deployment in deployments.items():
        variable = config_variable(service_of(name), "KEY_ENCRYPTION_KEY_FILE")
        if variable is None:
            continue
        base = name.removesuffix(INTERACTIVE)
        secret = f"tiaki-{base}-kek"
        mounts = [f"{o['kind']}/{o['metadata']['name']}" for o in objects
                  if pod_spec(o) is not None and any((v.get("secret") or {}).get("secretName")
                                                     == secret for v in pod_spec(o).get("volumes", []))]
        allowed = [f"Deployment/{base}"] + [f"Deployment/{base}{INTERACTIVE}"] * (
            f"{base}{INTERACTIVE}" in deployments)
        if sorted(mounts) != allowed:
            problems.append(f"Secret {secret} must be mounted by {' and '.join(allowed)} only, "
                            f"not {[m.partition('/')[2] for m in mounts]}")
            continue
        spec = pod_spec(deployment)
        volume = next(v["name"] for v in spec["volumes"]
                      if (v.get("secret") or {}).get("secretName") == secret)
        paths = [m["mountPath"] for m in spec["containers"][0].get("volumeMounts", [])
                 if m["name"] == volume]
        if not any(container_env(deployment).get(variable, "").startswith(p + "/") for p in paths):
            problems.append(f"Deployment/{name}: {variable} must name a file in its {secret} mount")
    return problems


# Every service's store client on the replica set (tiaki/plumbing/store.py DURABILITY,
# docs/operations.md): what it must be set to, from its own env or a ConfigMap it takes.
REPLICA_SET_CLIENT = {"STORE_WRITE_CONCERN": "majority", "STORE_JOURNAL": "true",
                      "STORE_RETRY_WRITES": "true", "STORE_RETRY_READS": "true",
                      "STORE_READ_CONCERN": "majority", "STORE_READ_PREFERENCE": "primary"}


def configured_env(obj: dict, objects: list[dict]) -> dict[str, str]:
    """The first container's environment: its ConfigMaps (envFrom), then its own env."""
    maps = {o["metadata"]["name"]: o.get("data") or {} for o in objects if o["kind"] == "ConfigMap"}
    env: dict[str, str] = {}
    for source in pod_spec(obj)["containers"][0].get("envFrom") or []:
        env.update(maps.get((source.get("configMapRef") or {}).get("name"), {}))
    return {**env, **container_env(obj)}


def replica_set_problems(objects: list[dict]) -> list[str]:
    """MongoDB is a replica set of an odd number (3 or more) of members, and each service
    names every member and the set in its URI and writes with majority and the journal,
    retries, and reads majority from the primary (REPLICA_SET_CLIENT)."""
    mongodb = next((o for o in objects if o["kind"] == "StatefulSet"
                    and o["metadata"]["name"] == "mongodb"), None)
    if mongodb is None:
        return ["no StatefulSet mongodb"]
    members = mongodb["spec"].get("replicas", 1)
    args = pod_spec(mongodb)["containers"][0].get("args") or []
    replica_set = args[args.index("--replSet") + 1] if "--replSet" in args[:-1] else None
    problems = []
    if replica_set is None or members < 3 or members % 2 == 0:
        problems.append(f"StatefulSet/mongodb: must be a replica set (--replSet) of an odd number "
                        f"of members, 3 or more, not {members} (set {replica_set!r})")
    hosts = {f"mongodb-{i}.mongodb" for i in range(members)}
    for obj in objects:
        service = service_of(obj["metadata"]["name"])
        if obj["kind"] != "Deployment" or service not in STORE_OWNERS:
            continue
        label, env = f"Deployment/{obj['metadata']['name']}", configured_env(obj, objects)
        uri = env.get(store_uri_variable(service) or "", "")
        if urllib.parse.parse_qs(urllib.parse.urlsplit(uri).query).get("replicaSet") != [
                replica_set] or uri_hosts(uri) != hosts:
            problems.append(f"{label}: its store URI must name every member {sorted(hosts)} "
                            f"and replicaSet={replica_set}: {uri!r}")
        wrong = {k: env.get(k) for k, v in REPLICA_SET_CLIENT.items()
                 if str(env.get(k, "")).lower() != v}
        if wrong:
            problems.append(f"{label}: its store client must be set to {REPLICA_SET_CLIENT}, "
                            f"not {wrong}")
        if not str(env.get("STORE_WRITE_TIMEOUT_MS", "")).isdigit() \
                or int(env["STORE_WRITE_TIMEOUT_MS"]) <= 0:
            problems.append(f"{label}: STORE_WRITE_TIMEOUT_MS must be set, in milliseconds "
                            "above 0 (a majority write that cannot be had fails, not hangs)")
    return problems


def check_kubernetes() -> list[str]:
    import kubernetes_validate  # slow to import: only when this check runs

    problems = []
    overlays = sorted(p for p in (KUBERNETES / "overlays").iterdir() if p.is_dir())
    if not overlays:
        return ["no overlays in deploy/kubernetes/overlays/"]
    for overlay in overlays:
        try:
            objects = render(overlay)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        for obj in objects:
            for version in KUBERNETES_VERSIONS:
                try:
                    kubernetes_validate.validate(obj, version, strict=True)
                except kubernetes_validate.ValidationError as exc:
                    path = ".".join(str(p) for p in exc.path)
                    problems.append(f"{overlay.name}: {obj['kind']}/{obj['metadata']['name']} "
                                    f"(Kubernetes {version}): {path}: {exc.message}")
                except kubernetes_validate.SchemaNotFoundError:
                    problems.append(f"{overlay.name}: no Kubernetes {version} schema for "
                                    f"{obj['apiVersion']} {obj['kind']}")
        problems += [f"{overlay.name}: {p}" for p in kubernetes_policy(objects) + store_policy(objects)
                     + replica_set_problems(objects)]
    return problems


CHECKS = {"prometheus": check_prometheus, "dashboards": check_dashboards,
          "compose": check_compose, "kubernetes": check_kubernetes}


def main(argv=None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or list(CHECKS)
    failed = False
    for name in names:
        problems = CHECKS[name]()
        for problem in problems:
            print(f"deploy lint: {name}: {problem.rstrip()}")
        if not problems:
            print(f"deploy lint: {name}: ok")
        failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
