#!/usr/bin/env bash
# Start/stop the real infrastructure tiaki runs on, for development, tests and CI:
#   - RabbitMQ: this checkout's own node (Debian's rabbitmq-server package, run as the invoking
#     user, not as the Debian service), loopback only, data/logs/config under var/rabbitmq/,
#     with rabbitmq_management (nameko's test fixtures create throwaway vhosts through it).
#   - The stores: nx-27017 (MongoDB wire protocol on SQLite) from .venv, one process per owner
#     of data (scripts/stores.sh), each with its data in var/store/<owner>/ (0700, files 0600).
#
# Usage: scripts/infra.sh start|stop|status|rabbitmqctl ARGS...
#   start   start both (a part that already runs is reused); waits until each answers.
#           If something else (e.g. another checkout) already answers on the ports as a
#           RabbitMQ with management, or as the store, it is reused.
#           Then, every time, the broker's users (tiaki/plumbing/broker_users.py): an
#           administrator tiaki-admin with a random password (made through guest the first
#           time), a user per service and per unit, and guest deleted; their AMQP URIs in
#           var/broker/<user>.uri (mode 600; TIAKI_BROKER_DIR to use another directory).
#   stop    stop the parts this checkout started (data stays in var/); never touches
#           servers started by another checkout.
#   status  one line per part; exit 0 if both answer, 3 otherwise.
#   rabbitmqctl ARGS...  run rabbitmqctl against this checkout's node (right cookie/env).
#   reset-admin  this checkout's node: (re)make tiaki-admin with the password in
#           var/broker/tiaki-admin.uri (through the Erlang cookie; no password on a command line).
# Environment: TIAKI_AMQP_PORT (5672), TIAKI_RABBIT_MGMT_PORT (15672), TIAKI_STORE_PORT (27017:
#   the first store's port, the others follow; scripts/stores.sh),
#   TIAKI_RABBIT_NODE (tiaki@localhost, or tiaki-<amqp port>@localhost for a non-default port),
#   TIAKI_INFRA_TIMEOUT (seconds to wait for each part to answer, 60).
# Needs scripts/bootstrap.sh to have run (rabbitmq-server, curl, .venv).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

say() { printf 'tiaki: %s\n' "$*"; }
die() { printf 'tiaki: ERROR: %s\n' "$*" >&2; exit 1; }
trap 'printf "tiaki: ERROR: infra.sh failed at line %s: %s\n" "$LINENO" "$BASH_COMMAND" >&2' ERR

AMQP_PORT="${TIAKI_AMQP_PORT:-5672}"
MGMT_PORT="${TIAKI_RABBIT_MGMT_PORT:-15672}"
STORE_PORT="${TIAKI_STORE_PORT:-27017}"
TIMEOUT="${TIAKI_INFRA_TIMEOUT:-60}"
HOST=127.0.0.1
if [ "$AMQP_PORT" = 5672 ]; then NODE_DEFAULT=tiaki@localhost; else NODE_DEFAULT="tiaki-$AMQP_PORT@localhost"; fi
NODE="${TIAKI_RABBIT_NODE:-$NODE_DEFAULT}"
for p in "$AMQP_PORT" "$MGMT_PORT" "$STORE_PORT" "$TIMEOUT"; do
    [[ "$p" =~ ^[0-9]+$ ]] || die "ports and TIAKI_INFRA_TIMEOUT must be numbers (got '$p')"
done

VAR="$ROOT/var"
RMQ_DIR="$VAR/rabbitmq"
RMQ_PID="$RMQ_DIR/rabbitmq.pid"
RMQ_STATE="$RMQ_DIR/running"           # "<node> <amqp port> <mgmt port>" of the node started here
RMQ_SBIN=/usr/lib/rabbitmq/bin          # Debian's real scripts; /usr/sbin/* would su to user rabbitmq
# shellcheck source=scripts/stores.sh
. "$ROOT/scripts/stores.sh"
BROKER_DIR="${TIAKI_BROKER_DIR:-$ROOT/var/broker}"
export TIAKI_BROKER_DIR="$BROKER_DIR"
NX="$ROOT/.venv/bin/nx-27017"
PY="$ROOT/.venv/bin/python"

# ------------------------------------------------------------------ helpers
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null; }
now() { date +%s; }

# pid from a pid file if that process is alive and its environment/cmdline contains $2
live_pid() {
    local file="$1" mark="$2" pid
    [ -s "$file" ] || return 1
    pid="$(tr -dc 0-9 <"$file")"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    { tr '\0' '\n' <"/proc/$pid/environ"; tr '\0' '\n' <"/proc/$pid/cmdline"; } 2>/dev/null \
        | grep -F -- "$mark" >/dev/null || return 1   # not -q: SIGPIPE + pipefail
    printf '%s\n' "$pid"
}

show_tail() {  # file [lines]
    [ -s "$1" ] || return 0
    printf 'tiaki: ---- last lines of %s ----\n' "${1#"$ROOT"/}" >&2
    tail -n "${2:-30}" "$1" >&2
    printf 'tiaki: ----\n' >&2
}

# ------------------------------------------------------------------ RabbitMQ
rmq_env() {
    export RABBITMQ_NODENAME="$NODE"
    export RABBITMQ_NODE_IP_ADDRESS="$HOST"
    export RABBITMQ_NODE_PORT="$AMQP_PORT"
    export RABBITMQ_DIST_PORT=$((AMQP_PORT + 20000))
    export RABBITMQ_MNESIA_BASE="$RMQ_DIR/mnesia"
    export RABBITMQ_LOG_BASE="$RMQ_DIR/log"
    export RABBITMQ_PID_FILE="$RMQ_PID"
    export RABBITMQ_CONFIG_FILE="$RMQ_DIR/rabbitmq.conf"
    export RABBITMQ_ADVANCED_CONFIG_FILE="$RMQ_DIR/advanced.config"
    export RABBITMQ_ENABLED_PLUGINS_FILE="$RMQ_DIR/enabled_plugins"
    export RABBITMQ_CONF_ENV_FILE="$RMQ_DIR/rabbitmq-env.conf"   # not /etc/rabbitmq's
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
    export ERL_EPMD_ADDRESS=127.0.0.1       # if this node is the one that starts epmd
    export ERL_CRASH_DUMP="$RMQ_DIR/log/erl_crash.dump"   # default is the cwd (the repo)
    # The Erlang cookie is read from $HOME/.erlang.cookie by the server and the CLI alike;
    # give both a HOME of their own so it works whatever HOME is (root, CI, sudo).
    export HOME="$RMQ_DIR/home"
}
rmq() { ( rmq_env; exec "$RMQ_SBIN/$1" "${@:2}" ); }
rmq_pid() { live_pid "$RMQ_PID" "RABBITMQ_MNESIA_BASE=$RMQ_DIR/mnesia"; }
mgmt_ok() {  # the management API answers (it refuses a call without credentials with 401)
    [ "$(curl -sS -m 3 -o /dev/null -w '%{http_code}' "http://$HOST:$MGMT_PORT/api/overview" 2>/dev/null)" = 401 ]
}
# The administrator, the services' and units' users, guest deleted (idempotent).
rmq_users() {
    "$PY" -m tiaki.plumbing.broker_users --mgmt "http://$HOST:$MGMT_PORT" --amqp "$HOST:$AMQP_PORT" >/dev/null
    say "RabbitMQ users: tiaki-admin (management UI and API), one per service and unit; guest deleted; credentials in ${BROKER_DIR#"$ROOT"/}/<user>.uri"
}
# this checkout's node: tiaki-admin with the password in its URI file, made with rabbitmqctl
# (the Erlang cookie, not a password, authorises it); the password goes in on stdin.
rmq_reset_admin() {
    local file="$BROKER_DIR/tiaki-admin.uri" password
    [ -s "$file" ] || die "$file does not exist; scripts/infra.sh start makes it"
    password="$(sed -E 's#^pyamqp://[^:]+:([^@]+)@.*#\1#' "$file")"
    rmq rabbitmqctl -q -n "$NODE" delete_user tiaki-admin >/dev/null 2>&1 || true
    printf '%s\n' "$password" | rmq rabbitmqctl -q -n "$NODE" add_user tiaki-admin >/dev/null
    rmq rabbitmqctl -q -n "$NODE" set_user_tags tiaki-admin administrator >/dev/null
    rmq rabbitmqctl -q -n "$NODE" set_permissions -p / tiaki-admin '.*' '.*' '.*' >/dev/null
    say "tiaki-admin reset with the password in ${file#"$ROOT"/}"
}

# Our node runs: take node name and ports from what it was started with, so that stop and
# status work whatever TIAKI_* say now.
use_running_rmq() {
    local n a m
    [ -s "$RMQ_STATE" ] || return 0
    read -r n a m <"$RMQ_STATE" || return 0
    NODE="${n:-$NODE}"; AMQP_PORT="${a:-$AMQP_PORT}"; MGMT_PORT="${m:-$MGMT_PORT}"
}

rmq_prepare() {
    [ -x "$RMQ_SBIN/rabbitmq-server" ] || die "$RMQ_SBIN/rabbitmq-server not found: run scripts/bootstrap.sh"
    command -v curl >/dev/null 2>&1 || die "curl not found: run scripts/bootstrap.sh"
    mkdir -p "$RMQ_DIR/mnesia" "$RMQ_DIR/log" "$RMQ_DIR/home"
    chmod 700 "$RMQ_DIR" "$RMQ_DIR/home"
    if [ ! -s "$RMQ_DIR/home/.erlang.cookie" ]; then
        (umask 077; head -c 32 /dev/urandom | sha256sum | cut -c1-32 >"$RMQ_DIR/home/.erlang.cookie")
    fi
    chmod 400 "$RMQ_DIR/home/.erlang.cookie"
    cat >"$RMQ_DIR/rabbitmq.conf" <<EOF
# written by scripts/infra.sh on every start; edit the script, not this file
listeners.tcp.default = $HOST:$AMQP_PORT
management.tcp.ip = $HOST
management.tcp.port = $MGMT_PORT
prometheus.tcp.ip = $HOST
prometheus.tcp.port = ${TIAKI_RABBIT_PROM_PORT:-15692}
loopback_users.guest = true
log.console = false
log.file.level = info
EOF
    # rabbitmq_prometheus: queue depths, consumers and dead-lettering for Prometheus
    printf '[rabbitmq_management,rabbitmq_prometheus].\n' >"$RMQ_DIR/enabled_plugins"
    : >"$RMQ_DIR/rabbitmq-env.conf"
}

rmq_start() {
    local pid t0 logf="$RMQ_DIR/log/$NODE.log" startf="$RMQ_DIR/log/startup.log"
    if pid="$(rmq_pid)"; then
        local want="$NODE $AMQP_PORT $MGMT_PORT"
        use_running_rmq
        [ "$want" = "$NODE $AMQP_PORT $MGMT_PORT" ] \
            || die "this checkout's RabbitMQ already runs as node $NODE on amqp $AMQP_PORT / management $MGMT_PORT, not as asked ($want); run scripts/infra.sh stop first"
        if mgmt_ok && port_open "$AMQP_PORT"; then
            say "RabbitMQ already running (node $NODE, pid $pid, amqp $HOST:$AMQP_PORT)"
            return 0
        fi
        say "RabbitMQ node $NODE (pid $pid) is running but not answering yet; waiting"
    else
        if port_open "$AMQP_PORT" || port_open "$MGMT_PORT"; then
            if port_open "$AMQP_PORT" && mgmt_ok; then
                say "reusing running RabbitMQ on $HOST:$AMQP_PORT (management on $MGMT_PORT; not started by this checkout)"
                return 0
            fi
            die "port $AMQP_PORT or $MGMT_PORT on $HOST is in use, but not by a RabbitMQ with management on $MGMT_PORT (Debian's rabbitmq-server service? then run scripts/bootstrap.sh; else stop it or set TIAKI_AMQP_PORT/TIAKI_RABBIT_MGMT_PORT)"
        fi
        if port_open $((AMQP_PORT + 20000)); then
            die "port $((AMQP_PORT + 20000)) (Erlang distribution port for amqp $AMQP_PORT) on $HOST is in use; stop whatever holds it or set TIAKI_AMQP_PORT"
        fi
        rmq_prepare
        rm -f "$RMQ_PID"
        printf '%s %s %s\n' "$NODE" "$AMQP_PORT" "$MGMT_PORT" >"$RMQ_STATE"
        say "starting RabbitMQ (node $NODE, amqp $HOST:$AMQP_PORT, management $HOST:$MGMT_PORT, data var/rabbitmq/)"
        case "$RMQ_DIR" in *[[:space:]]*)
            say "warning: the checkout path contains whitespace; RabbitMQ's free-disk-space monitor cannot handle that and logs errors (harmless otherwise)" ;;
        esac
        (rmq_env; umask 077; exec setsid nohup "$RMQ_SBIN/rabbitmq-server" </dev/null >"$startf" 2>&1) &
        pid=$!
    fi
    t0="$(now)"
    until mgmt_ok && port_open "$AMQP_PORT"; do
        if ! kill -0 "$pid" 2>/dev/null && ! rmq_pid >/dev/null; then
            show_tail "$startf"; show_tail "$logf"
            rm -f "$RMQ_STATE"
            die "RabbitMQ exited during startup (logs above; full log: ${logf#"$ROOT"/})"
        fi
        if [ $(($(now) - t0)) -ge "$TIMEOUT" ]; then
            show_tail "$startf"; show_tail "$logf"
            die "RabbitMQ did not answer on $HOST:$AMQP_PORT and http://$HOST:$MGMT_PORT within ${TIMEOUT}s (pid $pid still running; stop it with scripts/infra.sh stop)"
        fi
        sleep 0.5
    done
    if ! rmq rabbitmqctl -q -n "$NODE" await_startup --timeout 30 >/dev/null 2>&1; then
        show_tail "$logf"
        die "RabbitMQ answers on its ports but 'rabbitmqctl -n $NODE await_startup' failed (Erlang cookie in var/rabbitmq/home?)"
    fi
    say "RabbitMQ up after $(($(now) - t0))s: amqp://$HOST:$AMQP_PORT/, http://$HOST:$MGMT_PORT/"
}


rmq_stop() {
    local pid t0
    if ! pid="$(rmq_pid)"; then
        rm -f "$RMQ_PID"
        if port_open "$AMQP_PORT"; then
            say "RabbitMQ on $HOST:$AMQP_PORT was not started by this checkout; leaving it running"
        else
            say "RabbitMQ not running"
        fi
        return 0
    fi
    use_running_rmq
    say "stopping RabbitMQ (node $NODE, pid $pid)"
    t0="$(now)"
    # `stop <pidfile>` returns once the VM has exited (the management plugin alone takes ~5s).
    if ! (rmq_env; timeout 90 "$RMQ_SBIN/rabbitmqctl" -q -n "$NODE" stop "$RMQ_PID") >/dev/null 2>&1; then
        if kill -0 "$pid" 2>/dev/null; then
            say "rabbitmqctl stop failed; sending SIGTERM to pid $pid"
            kill -TERM "$pid" 2>/dev/null || true
        fi
    fi
    for _ in $(seq 1 120); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
        show_tail "$RMQ_DIR/log/$NODE.log"
        die "RabbitMQ (pid $pid) did not stop within 60s"
    fi
    rm -f "$RMQ_PID" "$RMQ_STATE"
    say "RabbitMQ stopped after $(($(now) - t0))s (data kept in var/rabbitmq/)"
}

rmq_status() {
    local pid
    if pid="$(rmq_pid)"; then
        use_running_rmq
        if mgmt_ok && port_open "$AMQP_PORT"; then
            say "rabbitmq: running (node $NODE, pid $pid) amqp://$HOST:$AMQP_PORT management http://$HOST:$MGMT_PORT"
            return 0
        fi
        say "rabbitmq: starting or unhealthy (node $NODE, pid $pid; not answering on $AMQP_PORT/$MGMT_PORT)"
        return 1
    fi
    if port_open "$AMQP_PORT"; then
        if mgmt_ok; then
            say "rabbitmq: running, not started by this checkout (reusable) amqp://$HOST:$AMQP_PORT management http://$HOST:$MGMT_PORT"
            return 0
        fi
        say "rabbitmq: port $HOST:$AMQP_PORT in use by something without management on $MGMT_PORT (not usable)"
        return 1
    fi
    say "rabbitmq: stopped"
    return 1
}

# ------------------------------------------------------------------ stores (nx-27017)
# One store process per owner (scripts/stores.sh); store_use NAME picks which one the
# functions below act on.
store_use() {
    SNAME="$1"
    STORE_PORT="$(store_port "$1")"
    STORE_DIR="$VAR/store/$1"
    STORE_PID="$VAR/run/store-$1.pid"
    STORE_LOG="$VAR/log/store-$1.log"
    STORE_STATE="$VAR/run/store-$1.port"      # port of the store started here
}
store_pid() { live_pid "$STORE_PID" "$STORE_DIR"; }
store_ping() {  # seconds to keep trying
    "$PY" - "$STORE_PORT" "$1" <<'EOF' 2>/dev/null
import sys, time
import pymongo
port, budget = int(sys.argv[1]), float(sys.argv[2])
deadline = time.monotonic() + budget
while True:
    try:
        c = pymongo.MongoClient("127.0.0.1", port, directConnection=True,
                                serverSelectionTimeoutMS=500, connectTimeoutMS=500)
        c.admin.command("ping")
        c.close()
        sys.exit(0)
    except Exception:
        if time.monotonic() >= deadline:
            sys.exit(1)
        time.sleep(0.2)
EOF
}

use_running_store() {
    local p
    [ -s "$STORE_STATE" ] || return 0
    read -r p <"$STORE_STATE" || return 0
    STORE_PORT="${p:-$STORE_PORT}"
}

store_check_venv() {
    [ -x "$NX" ] && [ -x "$PY" ] || die ".venv/bin/nx-27017 not found: run scripts/bootstrap.sh"
}

store_start() {
    local pid t0
    store_check_venv
    if pid="$(store_pid)"; then
        local want="$STORE_PORT"
        use_running_store
        [ "$want" = "$STORE_PORT" ] \
            || die "this checkout's $SNAME store already runs on port $STORE_PORT, not $want as asked; run scripts/infra.sh stop first"
        store_ping "$TIMEOUT" || { show_tail "$STORE_LOG"; die "$SNAME store (pid $pid) runs but does not answer on $HOST:$STORE_PORT"; }
        say "$SNAME store already running (pid $pid, mongodb://$HOST:$STORE_PORT)"
        return 0
    fi
    if port_open "$STORE_PORT"; then
        if store_ping 3; then
            say "reusing running store on $HOST:$STORE_PORT for $SNAME (not started by this checkout)"
            return 0
        fi
        die "port $STORE_PORT on $HOST is in use by something that does not answer a MongoDB ping (stop it or set TIAKI_STORE_PORT)"
    fi
    mkdir -p "$VAR/run" "$VAR/log" "$STORE_DIR"
    chmod 700 "$VAR/store" "$STORE_DIR"
    printf '%s\n' "$STORE_PORT" >"$STORE_STATE"
    say "starting $SNAME store (nx-27017, mongodb://$HOST:$STORE_PORT, data ${STORE_DIR#"$ROOT"/}/)"
    t0="$(now)"
    # Absolute paths: the daemon chdirs to / (it only absolutises --data-dir itself).
    # umask 077: its databases, journals, log and pid file are readable by their owner only.
    (umask 077; exec "$NX" --data-dir "$STORE_DIR" --host "$HOST" -p "$STORE_PORT" \
        --log-file "$STORE_LOG" --pid-file "$STORE_PID" -d </dev/null >>"$STORE_LOG" 2>&1) \
        || { show_tail "$STORE_LOG"; die "nx-27017 failed to start"; }
    until store_ping 1; do
        if [ $(($(now) - t0)) -ge 3 ] && ! store_pid >/dev/null; then
            show_tail "$STORE_LOG"
            die "$SNAME store exited during startup (log: ${STORE_LOG#"$ROOT"/})"
        fi
        if [ $(($(now) - t0)) -ge "$TIMEOUT" ]; then
            show_tail "$STORE_LOG"
            die "$SNAME store did not answer a ping on $HOST:$STORE_PORT within ${TIMEOUT}s"
        fi
    done
    pid="$(store_pid || echo '?')"
    say "$SNAME store up after $(($(now) - t0))s (pid $pid): mongodb://$HOST:$STORE_PORT/"
}

store_stop() {
    local pid
    if ! pid="$(store_pid)"; then
        if port_open "$STORE_PORT"; then
            say "store on $HOST:$STORE_PORT ($SNAME) was not started by this checkout; leaving it running"
        else
            say "$SNAME store not running"
        fi
        return 0
    fi
    use_running_store
    say "stopping $SNAME store (pid $pid, port $STORE_PORT)"
    store_check_venv
    "$NX" --stop --pid-file "$STORE_PID" >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    kill -0 "$pid" 2>/dev/null && die "$SNAME store (pid $pid) did not stop within 30s"
    rm -f "$STORE_STATE"
    say "$SNAME store stopped (data kept in ${STORE_DIR#"$ROOT"/}/)"
}

store_status() {
    local pid
    if pid="$(store_pid)"; then
        use_running_store
        if store_ping 2; then
            say "store $SNAME: running (pid $pid) mongodb://$HOST:$STORE_PORT data ${STORE_DIR#"$ROOT"/}/"
            return 0
        fi
        say "store $SNAME: process $pid alive but not answering on $HOST:$STORE_PORT"
        return 1
    fi
    if port_open "$STORE_PORT"; then
        if [ -x "$PY" ] && store_ping 2; then
            say "store $SNAME: running, not started by this checkout (reusable) mongodb://$HOST:$STORE_PORT"
            return 0
        fi
        say "store $SNAME: port $HOST:$STORE_PORT in use by something that is not answering a MongoDB ping"
        return 1
    fi
    say "store $SNAME: stopped"
    return 1
}

stores() {  # start|stop|status, for every owner's store
    local name rc=0
    for name in $STORES; do store_use "$name"; "store_$1" || rc=1; done
    return "$rc"
}

# ------------------------------------------------------------------ main
cmd="${1:-}"
case "$cmd" in
    start)  rmq_start; rmq_users; stores start ;;
    stop)   stores stop; rmq_stop ;;
    status)
        rc=0
        rmq_status || rc=3
        stores status || rc=3
        exit "$rc" ;;
    rabbitmqctl)
        shift
        rmq_pid >/dev/null || die "this checkout's RabbitMQ node is not running"
        use_running_rmq
        rmq rabbitmqctl -n "$NODE" "$@" ;;
    reset-admin)
        rmq_pid >/dev/null || die "this checkout's RabbitMQ node is not running"
        use_running_rmq
        rmq_reset_admin ;;
    *)
        printf 'usage: %s start|stop|status|rabbitmqctl ARGS...|reset-admin\n' "$0" >&2
        exit 2 ;;
esac
