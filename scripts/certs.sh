#!/usr/bin/env bash
# A local certificate authority for gRPC mutual TLS (demo and tests; never for
# production keys). Usage: scripts/certs.sh DIR [KIND:ID ...]
#   DIR/ca.pem, DIR/ca.key             the CA (made once, kept on later runs)
#   DIR/server.pem, DIR/server.key     every service's server certificate:
#                                      SAN 127.0.0.1, localhost and the Kubernetes
#                                      Service names; also usable as a client
#                                      certificate by health checks (it names no
#                                      tiaki identity, so it can call nothing else)
#   DIR/<kind>-<id>.pem/.key           a client certificate naming one identity
#                                      as SAN URI tiaki:<kind>:<id>
# Existing certificates are kept, so running it again for one more identity
# changes nothing else. Keys are mode 600.
set -euo pipefail
dir=${1:?usage: scripts/certs.sh DIR [KIND:ID ...]}
shift
mkdir -p "$dir"
umask 077
days=825

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

if [ ! -f "$dir/ca.pem" ]; then
  key "$dir/ca.key"
  openssl req -x509 -new -key "$dir/ca.key" -sha256 -days "$days" -subj "/CN=tiaki local CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$dir/ca.pem"
fi

issue() {  # name, subject CN, extensions
  local name=$1 cn=$2 ext=$3
  [ -f "$dir/$name.pem" ] && return
  key "$dir/$name.key"
  openssl req -new -key "$dir/$name.key" -subj "/CN=$cn" -out "$dir/$name.csr"
  printf '%s\n' "$ext" >"$dir/$name.ext"
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
    -days "$days" -sha256 -extfile "$dir/$name.ext" -out "$dir/$name.pem" 2>/dev/null
  rm -f "$dir/$name.csr" "$dir/$name.ext"
}

names="DNS:localhost,IP:127.0.0.1"
for s in intake purpose-router requests insights; do
  names="$names,DNS:$s,DNS:$s.tiaki,DNS:$s.tiaki.svc,DNS:$s.tiaki.svc.cluster.local"
done
issue server "tiaki service" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$names"

for who in "$@"; do
  kind=${who%%:*}; id=${who#*:}
  case "$kind" in provider|unit|agency|representative) ;;
    *) echo "certs.sh: unknown kind $kind (provider, unit, agency, representative)" >&2; exit 2 ;;
  esac
  issue "$kind-$id" "$kind:$id" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
subjectAltName=URI:tiaki:$kind:$id"
done
chmod 644 "$dir"/*.pem
echo "$dir"
