#!/usr/bin/env bash
# Starts and stops tiaki's four services and a reference Agency unit per unit
# of the example programme, as background processes with logs and pids under
# var/. Usage: scripts/services.sh start|stop|status
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
mkdir -p var/log var/run
PY=.venv/bin/python

services="intake:IntakeService purpose_router:PurposeRouterService requests:RequestsService insights:InsightsService"
units="evaluation:9111 service-delivery:9112"

# `make run BROKER_USERS=1`: each process connects as its own broker user
# (tiaki broker-users wrote their URIs); otherwise as guest, as before.
amqp_for() {
  if [ "${TIAKI_BROKER_USERS:-}" = 1 ] && [ -f "var/broker/tiaki-$1.uri" ]; then cat "var/broker/tiaki-$1.uri"; fi
}

# `make run TLS=1`: gRPC mutual TLS with the certificates scripts/certs.sh made in
# var/tls (server.pem for every service; each unit calls with its own certificate).
tls_server=() tls_probe=()
if [ "${TIAKI_TLS_ON:-}" = 1 ]; then
  tls_server=(TIAKI_TLS_CERT=var/tls/server.pem TIAKI_TLS_KEY=var/tls/server.key TIAKI_TLS_CLIENT_CA=var/tls/ca.pem)
  tls_probe=(TIAKI_TLS_CA=var/tls/ca.pem TIAKI_TLS_CERT=var/tls/server.pem TIAKI_TLS_KEY=var/tls/server.key)
fi
tls_unit() { [ "${TIAKI_TLS_ON:-}" = 1 ] && echo "--tls-ca var/tls/ca.pem --tls-cert var/tls/unit-$1.pem --tls-key var/tls/unit-$1.key"; return 0; }

alive() { [ -f "var/run/$1.pid" ] && kill -0 "$(cat "var/run/$1.pid")" 2>/dev/null; }

start_one() {  # name, command...
  local name=$1; shift
  if alive "$name"; then echo "tiaki: $name already running (pid $(cat "var/run/$name.pid"))"; return; fi
  nohup "$@" >>"var/log/$name.log" 2>&1 </dev/null &
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
    for s in $services; do
      name=${s%%:*}; cls=${s##*:}
      uri=$(amqp_for "svc-$name")
      start_one "$name" env ${uri:+AMQP_URI=$uri} "${tls_server[@]}" $PY -m tiaki.nameko run --config "config/$name.yaml" "services.$name.service:$cls"
    done
    env "${tls_probe[@]}" $PY -m tiaki.ops wait-healthy 127.0.0.1:50051 127.0.0.1:50052 127.0.0.1:50053 127.0.0.1:50054 || {
      tail -n 20 var/log/*.log; exit 1; }
    for u in $units; do
      unit=${u%%:*}; port=${u##*:}
      $PY -m tiaki.tokens var "unit:$unit" >/dev/null
      uri=$(amqp_for "unit-$unit")
      start_one "unit-$unit" $PY -m tiaki.unit_sdk --unit "$unit" \
        --store-uri "mongodb://127.0.0.1:27017/tiaki_unit_${unit//-/_}" \
        --token-file "var/tokens/unit-$unit" --metrics-port "$port" \
        ${uri:+--amqp-uri "$uri" --passive-queue} $(tls_unit "$unit")
    done
    ;;
  stop)
    for u in $units; do stop_one "unit-${u%%:*}"; done
    for s in $services; do stop_one "${s%%:*}"; done
    ;;
  status)
    for s in $services; do n=${s%%:*}; alive "$n" && echo "$n: running" || echo "$n: stopped"; done
    for u in $units; do n=unit-${u%%:*}; alive "$n" && echo "$n: running" || echo "$n: stopped"; done
    ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
