#!/usr/bin/env bash
# Prometheus for `make run`: Debian's prometheus (installed by scripts/bootstrap.sh), run as
# the invoking user on loopback, scraping every service, the reference units and RabbitMQ
# with deploy/prometheus/prometheus.yml and its alert rules; data under var/prometheus/.
# Its web UI and API take basic authentication only: the user and password in
# var/prometheus-auth/credentials (mode 600), their bcrypt hash in var/prometheus-auth/web.yml
# (tiaki/plumbing/prometheus_auth.py; checked with `promtool check web-config`).
# Usage: scripts/prometheus.sh start|stop|status
# Environment: TIAKI_PROMETHEUS_PORT (9090), TIAKI_PROMETHEUS_VAR (var: where its data,
#   credentials, pid and log go).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PORT="${TIAKI_PROMETHEUS_PORT:-9090}"
HOST=127.0.0.1
CONFIG="$ROOT/deploy/prometheus/prometheus.yml"
VAR="${TIAKI_PROMETHEUS_VAR:-$ROOT/var}"
DATA="$VAR/prometheus"
AUTH="$VAR/prometheus-auth"
PID="$VAR/run/prometheus.pid"
LOG="$VAR/log/prometheus.log"
BIN=/usr/bin/prometheus
PY="$ROOT/.venv/bin/python"

say() { printf 'tiaki: %s\n' "$*"; }
die() { printf 'tiaki: ERROR: %s\n' "$*" >&2; exit 1; }
[[ "$PORT" =~ ^[0-9]+$ ]] || die "TIAKI_PROMETHEUS_PORT must be a number (got '$PORT')"

# Our process: the pid file names a live prometheus whose command line has our data dir.
our_pid() {
    local pid
    [ -s "$PID" ] || return 1
    pid="$(tr -dc 0-9 <"$PID")"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -F -- "$DATA" >/dev/null || return 1
    printf '%s\n' "$pid"
}
ready() {  # the credentials go to curl on stdin, not on its command line
    [ -s "$AUTH/credentials" ] || return 1
    printf 'user = "%s"\n' "$(cat "$AUTH/credentials")" \
        | curl -fsS -m 2 -o /dev/null -K - "http://$HOST:$PORT/-/ready" 2>/dev/null
}
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null; }

start() {
    local pid
    [ -x "$BIN" ] || die "$BIN not found: run scripts/bootstrap.sh (Debian package prometheus)"
    if pid="$(our_pid)"; then
        say "Prometheus already running (pid $pid, http://$HOST:$PORT/)"
        return 0
    fi
    port_open "$PORT" && die "port $PORT on $HOST is in use by another process; stop it or set TIAKI_PROMETHEUS_PORT"
    promtool check config "$CONFIG" >/dev/null || die "promtool check config $CONFIG failed"
    "$PY" -m tiaki.plumbing.prometheus_auth "$AUTH" >/dev/null
    promtool check web-config "$AUTH/web.yml" >/dev/null 2>&1 || die "promtool check web-config $AUTH/web.yml failed"
    mkdir -p "$DATA" "$(dirname "$PID")" "$(dirname "$LOG")"
    chmod 700 "$DATA"
    umask 077  # its data files readable by their owner only
    nohup "$BIN" --config.file="$CONFIG" --storage.tsdb.path="$DATA" --web.config.file="$AUTH/web.yml" \
        --web.listen-address="$HOST:$PORT" --storage.tsdb.retention.time=15d \
        </dev/null >>"$LOG" 2>&1 &
    echo $! >"$PID"
    for _ in $(seq 1 60); do
        ready && { say "Prometheus up (pid $(cat "$PID")): http://$HOST:$PORT/ (alerts: /alerts, data ${DATA#"$ROOT"/}/; user and password in ${AUTH#"$ROOT"/}/credentials)"; return 0; }
        kill -0 "$(cat "$PID")" 2>/dev/null || { tail -n 20 "$LOG" >&2; die "Prometheus exited during startup (log: ${LOG#"$ROOT"/})"; }
        sleep 0.5
    done
    tail -n 20 "$LOG" >&2
    die "Prometheus did not become ready on $HOST:$PORT within 30s"
}

stop() {
    local pid
    if ! pid="$(our_pid)"; then
        rm -f "$PID"
        say "Prometheus not running"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    rm -f "$PID"
    say "stopped Prometheus (data kept in ${DATA#"$ROOT"/}/)"
}

status() {
    local pid
    if pid="$(our_pid)" && ready; then
        say "prometheus: running (pid $pid) http://$HOST:$PORT/"
        return 0
    fi
    say "prometheus: stopped"
    return 3
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) printf 'usage: %s start|stop|status\n' "$0" >&2; exit 2 ;;
esac
