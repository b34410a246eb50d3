#!/usr/bin/env bash
# Prometheus for `make run`: Debian's prometheus (installed by scripts/bootstrap.sh), run as
# the invoking user on loopback, scraping every service, the reference units and RabbitMQ
# with deploy/prometheus/prometheus.yml and its alert rules; data under var/prometheus/.
# Usage: scripts/prometheus.sh start|stop|status
# Environment: TIAKI_PROMETHEUS_PORT (9090).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PORT="${TIAKI_PROMETHEUS_PORT:-9090}"
HOST=127.0.0.1
CONFIG="$ROOT/deploy/prometheus/prometheus.yml"
DATA="$ROOT/var/prometheus"
PID="$ROOT/var/run/prometheus.pid"
LOG="$ROOT/var/log/prometheus.log"
BIN=/usr/bin/prometheus

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
ready() { curl -fsS -m 2 -o /dev/null "http://$HOST:$PORT/-/ready" 2>/dev/null; }
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
    mkdir -p "$DATA" "$(dirname "$PID")" "$(dirname "$LOG")"
    chmod 700 "$DATA"
    umask 077  # its data files readable by their owner only
    nohup "$BIN" --config.file="$CONFIG" --storage.tsdb.path="$DATA" \
        --web.listen-address="$HOST:$PORT" --storage.tsdb.retention.time=15d \
        </dev/null >>"$LOG" 2>&1 &
    echo $! >"$PID"
    for _ in $(seq 1 60); do
        ready && { say "Prometheus up (pid $(cat "$PID")): http://$HOST:$PORT/ (alerts: /alerts, data var/prometheus/)"; return 0; }
        kill -0 "$(cat "$PID")" 2>/dev/null || { tail -n 20 "$LOG" >&2; die "Prometheus exited during startup (log: var/log/prometheus.log)"; }
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
    say "stopped Prometheus (data kept in var/prometheus/)"
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
