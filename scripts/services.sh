#!/usr/bin/env bash
# Starts and stops tiaki's four services and a reference Agency unit per unit
# of the example programme, as background processes with logs and pids under
# var/. Usage: scripts/services.sh start|stop|status
# TIAKI_SCALE=N (make run SCALE=N) starts N instances of each service against the
# one broker and store: instance n>1 is "<service>-n", on gRPC port 50051+10(n-1)...
# and metrics port 9101+20(n-1)...; the units call every instance in turn.
# intake and purpose_router run each instance as two processes (tiaki/plumbing/parts.py):
# "<instance>" takes the bulk work and serves the gRPC port, "<instance>-interactive"
# answers the other services' RPCs (gRPC port +5 for health, metrics port +15).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
mkdir -p var/log var/run
PY=.venv/bin/python
# shellcheck source=scripts/stores.sh
. scripts/stores.sh  # each service, and the units, on a store process of its own

services="intake:IntakeService purpose_router:PurposeRouterService requests:RequestsService insights:InsightsService"
units="evaluation:9111 service-delivery:9112"
scale=${TIAKI_SCALE:-1}
[[ "$scale" =~ ^[1-9][0-9]*$ ]] || { echo "TIAKI_SCALE must be a whole number >= 1, got '$scale'" >&2; exit 2; }
declare -A prefix=([intake]=INTAKE [purpose_router]=ROUTER [requests]=REQUESTS [insights]=INSIGHTS)
declare -A grpc_port=([intake]=50051 [purpose_router]=50052 [requests]=50053 [insights]=50054)
declare -A metrics_port=([intake]=9101 [purpose_router]=9102 [requests]=9103 [insights]=9104)
declare -A split=([intake]=1 [purpose_router]=1)
instance_name() { [ "$2" -eq 1 ] && echo "$1" || echo "$1-$2"; }
every_instance() {  # the addresses of every instance of a service, as one gRPC target
  local out="" n
  for n in $(seq 1 "$scale"); do out+="${out:+,}127.0.0.1:$((grpc_port[$1] + 10 * (n - 1)))"; done
  [ "$scale" -eq 1 ] && echo "$out" || echo "ipv4:$out"
}

# Each process connects as its own broker user (scripts/infra.sh start made them and
# wrote their AMQP URIs in var/broker/), given in its environment, never on a command line.
amqp_for() {
  local file="${TIAKI_BROKER_DIR:-var/broker}/tiaki-$1.uri"
  [ -s "$file" ] || { echo "tiaki: $file is missing: run scripts/infra.sh start (make infra)" >&2; return 1; }
  cat "$file"
}

# `make run TLS=1`: gRPC mutual TLS with the certificates scripts/certs.sh made in
# var/tls (server.pem for every service; each unit calls with its own certificate, the
# portal with each organisation's).
tls_server=() tls_probe=() tls_portal=()
if [ "${TIAKI_TLS_ON:-}" = 1 ]; then
  tls_portal=(PORTAL_TLS_CLIENTS=var/tls)
  tls_server=(TIAKI_TLS_CERT=var/tls/server.pem TIAKI_TLS_KEY=var/tls/server.key TIAKI_TLS_CLIENT_CA=var/tls/ca.pem)
  tls_probe=(TIAKI_TLS_CA=var/tls/ca.pem TIAKI_TLS_CERT=var/tls/server.pem TIAKI_TLS_KEY=var/tls/server.key)
fi
tls_unit() { [ "${TIAKI_TLS_ON:-}" = 1 ] && echo "--tls-ca var/tls/ca.pem --tls-cert var/tls/unit-$1.pem --tls-key var/tls/unit-$1.key"; return 0; }

alive() { [ -f "var/run/$1.pid" ] && kill -0 "$(cat "var/run/$1.pid")" 2>/dev/null; }

start_one() {  # name, command...
  local name=$1; shift
  if alive "$name"; then echo "tiaki: $name already running (pid $(cat "var/run/$name.pid"))"; return; fi
  # A service writes var/log/$name.log itself (rotated by size, config/*.yaml
  # LOGGING); what else reaches its stdout/stderr (a crash) goes to $name.out.
  local out="var/log/$name.log"
  [[ "$name" == unit-* ]] || out="var/log/$name.out"
  LOG_FILE="var/log/$name.log" nohup "$@" >>"$out" 2>&1 </dev/null &
  echo $! >"var/run/$name.pid"
  echo "tiaki: started $name (pid $!, log var/log/$name.log)"
}

stop_one() {
  local name=$1
  if alive "$name"; then
    local pid; pid=$(cat "var/run/$name.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    echo "tiaki: stopped $name"
  fi
  rm -f "var/run/$name.pid"
}

case "${1:-}" in
  start)
    # intake's and purpose_router's key-encryption keys (0600 in a 0700 var/keys), made once
    $PY -m tiaki.plumbing.secrets "${INTAKE_KEK_FILE:-var/keys/intake.kek}" "${ROUTER_KEK_FILE:-var/keys/purpose_router.kek}"
    for s in $services; do amqp_for "svc-${s%%:*}" >/dev/null || exit 1; done  # before starting any
    for u in $units; do amqp_for "unit-${u%%:*}" >/dev/null || exit 1; done
    addresses=()
    for s in $services; do
      name=${s%%:*}; cls=${s##*:}
      uri=$(amqp_for "svc-$name") || exit 1
      for n in $(seq 1 "$scale"); do
        p=${prefix[$name]}; g=$((grpc_port[$name] + 10 * (n - 1))); m=$((metrics_port[$name] + 20 * (n - 1)))
        i=$(instance_name "$name" "$n")
        if [ -n "${split[$name]:-}" ]; then
          parts=("$i:bulk:$g:$m" "$i-interactive:interactive:$((g + 5)):$((m + 15))")
        else
          parts=("$i:all:$g:$m")
        fi
        for part in "${parts[@]}"; do
          IFS=: read -r process role pg pm <<<"$part"
          (export AMQP_URI=$uri
           start_one "$process" env "ROLE=$role" "${p}_GRPC_PORT=$pg" "${p}_METRICS_PORT=$pm" \
            "${p}_MONGO_URI=mongodb://127.0.0.1:$(store_port "$name")/tiaki_$name" \
            "${tls_server[@]}" \
            $PY -m tiaki.plumbing.nameko run --config "config/$name.yaml" "services.$name.service:$cls")
          addresses+=("127.0.0.1:$pg")
        done
      done
    done
    env "${tls_probe[@]}" $PY -m tiaki.plumbing.ops wait-healthy "${addresses[@]}" || {
      tail -n 20 var/log/*.log var/log/*.out; exit 1; }
    for u in $units; do
      unit=${u%%:*}; port=${u##*:}
      $PY -m tiaki.plumbing.tokens var "unit:$unit" >/dev/null
      # The unit's staff client's token, for its review service (config/units/reference.yaml).
      [ -s "var/tokens/unit-staff-$unit" ] || (umask 077
        $PY -c 'import secrets; print("tk_unitstaff_" + secrets.token_urlsafe(24))' \
          >"var/tokens/unit-staff-$unit")
      uri=$(amqp_for "unit-$unit") || exit 1
      (export AMQP_URI=$uri
       start_one "unit-$unit" $PY -m tiaki.unit --unit "$unit" --passive-queue \
        --store-uri "mongodb://127.0.0.1:$(store_port units)/tiaki_unit_${unit//-/_}" \
        --token-file "var/tokens/unit-$unit" --metrics-port "$port" --config config/units/reference.yaml \
        --router "$(every_instance purpose_router)" --requests "$(every_instance requests)" \
        $(tls_unit "$unit"))
    done
    # A local mail server for the portal's notifications (aiosmtpd; mail kept in the
    # maildir var/mail, which it makes: read it with any mail reader, or ls var/mail/new).
    start_one smtp $PY -m aiosmtpd -n -l "127.0.0.1:${PORTAL_SMTP_PORT:-8025}" -c aiosmtpd.handlers.Mailbox var/mail
    # The portal (services/portal): its own store, the services' addresses, the tokens
    # `make run` made (it calls as each signed-in person's organisation).
    start_one portal env "PORTAL_SMTP=127.0.0.1:${PORTAL_SMTP_PORT:-8025}" "PORTAL_MONGO_URI=mongodb://127.0.0.1:$(store_port portal)/tiaki_portal" \
      "PORTAL_INTAKE=$(every_instance intake)" "PORTAL_PURPOSE_ROUTER=$(every_instance purpose_router)" \
      "PORTAL_REQUESTS=$(every_instance requests)" "PORTAL_INSIGHTS=$(every_instance insights)" \
      "${tls_portal[@]}" $PY -m services.portal
    for _ in $(seq 1 100); do
      (exec 3<>/dev/tcp/127.0.0.1/"${PORTAL_PORT:-8080}") 2>/dev/null && break; sleep 0.2; done
    PORTAL_MONGO_URI="mongodb://127.0.0.1:$(store_port portal)/tiaki_portal" \
      $PY -m services.portal demo var/portal/demo-people >/dev/null
    ;;
  stop)
    stop_one portal
    stop_one smtp
    for u in $units; do stop_one "unit-${u%%:*}"; done
    for s in $services; do
      for pidfile in var/run/"${s%%:*}"-[0-9]*.pid; do  # instances started with a larger scale
        [ -e "$pidfile" ] && stop_one "$(basename "$pidfile" .pid)"
      done
      stop_one "${s%%:*}-interactive"
      stop_one "${s%%:*}"
    done
    ;;
  status)
    for s in $services; do
      for n in "${s%%:*}" ${split[${s%%:*}]:+"${s%%:*}-interactive"} $(cd var/run && ls "${s%%:*}"-[0-9]*.pid 2>/dev/null | sed 's/\.pid$//'); do
        alive "$n" && echo "$n: running" || echo "$n: stopped"
      done
    done
    for u in $units; do n=unit-${u%%:*}; alive "$n" && echo "$n: running" || echo "$n: stopped"; done
    for n in portal smtp; do alive "$n" && echo "$n: running" || echo "$n: stopped"; done
    ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
