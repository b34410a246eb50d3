#!/usr/bin/env bash
# Printed at the end of `make run`: what is running and what to try.
cd "$(dirname "$0")/.."
[ -f var/example-2026Q3.csv ] || .venv/bin/python -m tiaki.cli.synthetic 600 var/example-2026Q3.csv \
  programmes/best-foot-forward.yaml >/dev/null  # names and birth dates only if the plan asks
cat <<MSG

tiaki is running:
  portal          http://127.0.0.1:8080  (people: sign in below)  metrics http://127.0.0.1:9105/metrics
  intake          gRPC 127.0.0.1:50051   metrics http://127.0.0.1:9101/metrics
  purpose_router  gRPC 127.0.0.1:50052   metrics http://127.0.0.1:9102/metrics
  requests        gRPC 127.0.0.1:50053   metrics http://127.0.0.1:9103/metrics
  insights        gRPC 127.0.0.1:50054   metrics http://127.0.0.1:9104/metrics
  Agency units    evaluation (unit-level records), service-delivery (aggregates only)
                  evaluation's review service 127.0.0.1:50061 (its staff: var/tokens/unit-staff-evaluation)
  RabbitMQ        amqp://127.0.0.1:5672, management http://127.0.0.1:15672
                  (tiaki-admin; password in var/broker/tiaki-admin.uri; guest is deleted)
  Prometheus      http://127.0.0.1:9090 (user:password in var/prometheus-auth/credentials)
  stores          one per owner, mongodb://127.0.0.1:27018 (intake) to :27022 (the units'),
                  data in var/store/<owner> (scripts/stores.sh; :27017 holds the tests' databases)
The example programme "Best foot forward" is loaded. Logs are in var/log/.

Try it, as the provider City Centre Social Services (CCSS):
  export PATH=\$PWD/.venv/bin:\$PATH TIAKI_TOKEN_FILE=var/tokens/provider-ccss
  tiaki plan show best-foot-forward             # what is collected, for which purpose, for whom
  tiaki submit var/example-2026Q3.csv --programme best-foot-forward --period 2026Q3
  tiaki flows --verify                          # where it went, who acknowledged it; check the chain
  tiaki requests open --programme best-foot-forward --client CCSS-0000042 \
      --requester "the client" --authorisation "signed form"   # what does the Agency hold?
  # the evaluation unit answers after a person's review (config/units/reference.yaml); as its staff:
  TIAKI_TOKEN_FILE=var/tokens/unit-staff-evaluation tiaki unit review list
  TIAKI_TOKEN_FILE=var/tokens/unit-staff-evaluation tiaki --person ana.silva unit review approve \
      REQUEST_ID --withhold '1:goals_met:s53(b)'   # optional: tiaki unit review grounds
  tiaki requests answer REQUEST_ID -o answer.html                # the family's answer
  tiaki outcomes watch                          # what the Agency's use of your data informed
  tiaki outcomes report --from 2026-01-01 --to 2026-12-31 -o board.html   # for your Board
  tiaki measures list --programme best-foot-forward   # co-defined evaluation measures

Sign in to the portal, http://127.0.0.1:8080, as one demo person per role (staff id,
password; the TOTP secret goes in an authenticator app, or print the current code with
  .venv/bin/python -c "import pyotp; print(pyotp.TOTP('SECRET').now())"):
$(sed 's/^/  /' var/portal/demo-people 2>/dev/null)
Manage accounts with tiaki staff add|list|disable (on this machine; --email for notifications,
which the local mail server 127.0.0.1:8025 keeps in the maildir var/mail).

make stop stops everything (data stays in var/); make test runs the suite.
MSG
if [ "${TIAKI_TLS_ON:-}" = 1 ]; then cat <<MSG
gRPC is mutual TLS (make run TLS=1): call with a certificate from var/tls, which names you:
  export TIAKI_TLS_CA=var/tls/ca.pem TIAKI_TLS_CERT=var/tls/provider-ccss.pem TIAKI_TLS_KEY=var/tls/provider-ccss.key
MSG
fi
