#!/usr/bin/env bash
# Install everything tiaki needs on a Debian 12 machine (run as root from the repo root):
#   - Debian packages: rabbitmq-server, prometheus, chromium, poppler-utils, fonts-dejavu-core
#     (plus python3/python3-venv, curl, npm when missing);
#     Debian's own rabbitmq-server service is stopped and disabled, because
#     scripts/infra.sh runs our own node with its data under var/rabbitmq/.
#   - .venv (Python 3.11+) with requirements.txt (fully pinned) and this project (editable).
#   - buf and dclint (npm, pinned in tools/package-lock.json) into .tools/node_modules/.bin/,
#     with @grpc/grpc-js and @grpc/proto-loader for the Node.js vendor example (tools/vendor-example),
#     and axe-core, injected into each page by the portal's browser tests (tests/browser).
# Idempotent: a second run checks and returns in a second or two. Does not generate protos.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

say() { printf 'tiaki: %s\n' "$*"; }
die() { printf 'tiaki: ERROR: %s\n' "$*" >&2; exit 1; }
trap 'printf "tiaki: ERROR: bootstrap failed at line %s: %s\n" "$LINENO" "$BASH_COMMAND" >&2' ERR

[ -f requirements.txt ] && [ -f pyproject.toml ] || die "run from the tiaki repo (requirements.txt/pyproject.toml not found in $ROOT)"

# ---------------------------------------------------------------- Python interpreter
py_ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1; }
pick_python() {
    local c
    for c in "${TIAKI_PYTHON:-}" python3.11 python3; do
        [ -n "$c" ] || continue
        if command -v "$c" >/dev/null 2>&1 && py_ok "$c"; then
            command -v "$c"
            return 0
        fi
    done
    return 1
}

# ---------------------------------------------------------------- Debian packages
apt_pkgs=()
dpkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep 'install ok installed' >/dev/null; }

dpkg_installed rabbitmq-server || apt_pkgs+=(rabbitmq-server)
command -v curl >/dev/null 2>&1 || apt_pkgs+=(curl)
command -v npm >/dev/null 2>&1 || apt_pkgs+=(npm)
# A real browser for the documents' layout tests (print to PDF, 375 px) and the
# portal's browser tests; poppler-utils counts printed pages; fonts so text has a size.
[ -x /usr/bin/chromium ] || apt_pkgs+=(chromium)
command -v pdfinfo >/dev/null 2>&1 || apt_pkgs+=(poppler-utils)
dpkg_installed fonts-dejavu-core || apt_pkgs+=(fonts-dejavu-core)
if PY="$(pick_python)"; then
    # Debian splits ensurepip (needed by `python -m venv`) into python3-venv.
    if [ ! -x .venv/bin/python ] && ! "$PY" -c 'import ensurepip, venv' >/dev/null 2>&1; then
        apt_pkgs+=(python3-venv)
    fi
else
    apt_pkgs+=(python3 python3-venv)
fi

# pids of processes named $2 owned by user $1 (from /proc: procps may not be installed)
pids_of() {
    local d out=""
    for d in /proc/[0-9]*; do
        [ "$(cat "$d/comm" 2>/dev/null)" = "$2" ] || continue
        [ "$(stat -c %U "$d" 2>/dev/null)" = "$1" ] || continue
        out="$out ${d#/proc/}"
    done
    printf '%s\n' "${out# }"
}

stop_debian_rabbitmq() {
    # The package's postinst starts and enables the stock service (node rabbit@<host>, data in
    # /var/lib/rabbitmq, listening on 0.0.0.0:5672). Our node must be the only one.
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        if systemctl is-enabled --quiet rabbitmq-server 2>/dev/null || systemctl is-active --quiet rabbitmq-server 2>/dev/null; then
            say "stopping and disabling Debian's rabbitmq-server service (systemd)"
            systemctl disable --now rabbitmq-server >/dev/null 2>&1 || true
        fi
    else
        if ls /etc/rc[2-5].d/S*rabbitmq-server >/dev/null 2>&1 && command -v update-rc.d >/dev/null 2>&1; then
            say "disabling Debian's rabbitmq-server init script"
            update-rc.d rabbitmq-server disable >/dev/null 2>&1 || true
        fi
    fi
    # The stock service runs as user rabbitmq; our nodes run as the invoking user, so this
    # never touches another checkout's node.
    local pids
    pids="$(pids_of rabbitmq beam.smp)"
    if [ -n "$pids" ]; then
        say "stopping Debian's rabbitmq-server node (beam.smp pid $pids, user rabbitmq)"
        if command -v service >/dev/null 2>&1; then service rabbitmq-server stop >/dev/null 2>&1 || true; fi
        # shellcheck disable=SC2086
        kill $pids 2>/dev/null || true
        for _ in $(seq 1 30); do
            [ -n "$(pids_of rabbitmq beam.smp)" ] || break
            sleep 1
        done
        pids="$(pids_of rabbitmq beam.smp)"
        # shellcheck disable=SC2086
        [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
    fi
    pids="$(pids_of rabbitmq epmd)"
    if [ -n "$pids" ]; then
        say "stopping epmd started by Debian's rabbitmq-server (pid $pids)"
        # shellcheck disable=SC2086
        kill $pids 2>/dev/null || true
    fi
}

if [ "${#apt_pkgs[@]}" -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || die "missing Debian packages (${apt_pkgs[*]}); run this script as root or install them"
    command -v apt-get >/dev/null 2>&1 || die "missing packages (${apt_pkgs[*]}) and no apt-get: this script targets Debian 12"
    say "installing Debian packages: ${apt_pkgs[*]}"
    apt-get update -qq || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_pkgs[@]}" >/dev/null \
        || die "apt-get install ${apt_pkgs[*]} failed"
else
    say "Debian packages present (rabbitmq-server $(dpkg-query -W -f='${Version}' rabbitmq-server))"
fi
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || die "/usr/lib/rabbitmq/bin/rabbitmq-server not found after installing rabbitmq-server"
stop_debian_rabbitmq

# ---------------------------------------------------------------- Prometheus (Debian)
# promtool checks and tests the alert rules (make lint); `make run` starts the server itself
# (scripts/prometheus.sh), so Debian's own service (0.0.0.0:9090, user prometheus) must not run.
if ! dpkg_installed prometheus; then
    [ "$(id -u)" -eq 0 ] || die "missing Debian package prometheus; run this script as root or install it"
    say "installing Debian package prometheus (server and promtool)"
    apt-get update -qq || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null \
        || die "apt-get install prometheus failed"
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        systemctl disable --now prometheus >/dev/null 2>&1 || true
    elif command -v update-rc.d >/dev/null 2>&1; then
        update-rc.d prometheus disable >/dev/null 2>&1 || true
    fi
    pids="$(pids_of prometheus prometheus)"
    # shellcheck disable=SC2086
    [ -z "$pids" ] || { say "stopping Debian's prometheus service (pid $pids)"; kill $pids 2>/dev/null || true; }
fi
command -v promtool >/dev/null 2>&1 || die "promtool not found after installing prometheus"

# ---------------------------------------------------------------- .venv
PY="$(pick_python)" || die "no Python 3.11+ found (tried \$TIAKI_PYTHON, python3.11, python3)"
if [ -x .venv/bin/python ] && ! py_ok .venv/bin/python; then
    say ".venv is broken or older than Python 3.11; recreating it"
    rm -rf .venv
elif [ -d .venv ] && ! head -n 3 .venv/bin/pip 2>/dev/null | grep -F "$ROOT/.venv/bin/python" >/dev/null; then
    # venvs are not relocatable: scripts in .venv/bin carry the absolute path they were made at
    say ".venv was made at another path (checkout moved?) or is incomplete; recreating it"
    rm -rf .venv
fi
if [ ! -x .venv/bin/python ]; then
    say "creating .venv with $PY ($("$PY" -c 'import platform; print(platform.python_version())'))"
    "$PY" -m venv .venv || die "'$PY -m venv .venv' failed (is python3-venv installed?)"
fi

STAMP=.venv/.requirements.sha256
# pip as configured on this machine may list file:// indexes that lack some projects; pip
# warns once per project for those. Drop that noise, keep everything else.
pip_filter() { grep -v "is ignored: it is neither a file nor a directory" || true; }
want="$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)"
have="$(cat "$STAMP" 2>/dev/null || true)"
if [ "$want" = "$have" ]; then
    say "Python packages up to date (.venv, $(.venv/bin/python -c 'import platform; print(platform.python_version())'))"
else
    say "installing Python packages into .venv (requirements.txt, then tiaki in editable mode)"
    rm -f "$STAMP"
    .venv/bin/python -m pip install -q --no-input -r requirements.txt 2>&1 | pip_filter \
        || die "pip install -r requirements.txt failed"
    .venv/bin/python -m pip install -q --no-input --no-deps -e . 2>&1 | pip_filter \
        || die "pip install --no-deps -e . failed"
    printf '%s\n' "$want" > "$STAMP"
    say "Python packages installed"
fi

# ---------------------------------------------------------------- buf (npm)
# tools/package.json + package-lock.json pin @bufbuild/buf; they are copied into .tools/
# (git-ignored) and installed there with `npm ci`, giving .tools/node_modules/.bin/buf, and
# .tools/node_modules/@grpc/ for the Node.js vendor example (tests/e2e/test_vendor_example.py).
BUF=.tools/node_modules/.bin/buf
buf_want="$(node -e 'console.log(require(process.argv[1]).devDependencies["@bufbuild/buf"])' "$ROOT/tools/package.json")" \
    || die "cannot read tools/package.json"
buf_have="$("$BUF" --version 2>/dev/null || true)"
if [ "$buf_have" = "$buf_want" ] && cmp -s tools/package-lock.json .tools/package-lock.json \
    && [ -f .tools/node_modules/@grpc/grpc-js/package.json ] && [ -f .tools/node_modules/@grpc/proto-loader/package.json ] \
    && [ -f .tools/node_modules/axe-core/axe.min.js ]; then
    say "buf $buf_have present ($BUF)"
else
    say "installing buf $buf_want from npm into .tools/"
    mkdir -p .tools
    cp tools/package.json tools/package-lock.json .tools/
    (cd .tools && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || die "npm ci in .tools/ failed"
    buf_have="$("$BUF" --version 2>/dev/null || true)"
    [ "$buf_have" = "$buf_want" ] || die "buf check failed: '$BUF --version' gave '$buf_have', expected $buf_want"
    say "buf $buf_have installed ($BUF)"
fi

say "bootstrap done; next: scripts/infra.sh start"
