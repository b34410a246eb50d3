# compose's broker-users: writes each broker user's AMQP URI, with its password from
# deploy/compose/.env, into a private directory on this container's tmpfs, then runs
# tiaki.plumbing.broker_users, which keeps those passwords and gives each user tiaki's
# permissions (a unit reads only its own queue; a service reads no unit's queue),
# deletes guest and declares the units' queues. Passwords are hex (openssl rand -hex),
# so they need no quoting in a URI.
set -eu
umask 077
dir=/tmp/broker
mkdir -p "$dir"
uri() { printf 'pyamqp://%s:%s@rabbitmq:5672/\n' "$1" "$2" > "$dir/$1.uri"; }
uri tiaki-admin "$RABBITMQ_ADMIN_PASSWORD"
uri tiaki-svc-intake "$BROKER_INTAKE_PASSWORD"
uri tiaki-svc-purpose_router "$BROKER_PURPOSE_ROUTER_PASSWORD"
uri tiaki-svc-requests "$BROKER_REQUESTS_PASSWORD"
uri tiaki-svc-insights "$BROKER_INSIGHTS_PASSWORD"
uri tiaki-unit-evaluation "$BROKER_UNIT_EVALUATION_PASSWORD"
uri tiaki-unit-service-delivery "$BROKER_UNIT_SERVICE_DELIVERY_PASSWORD"
exec python -m tiaki.plumbing.broker_users --mgmt http://rabbitmq:15672 --amqp rabbitmq:5672 \
  --units evaluation,service-delivery --services intake,purpose_router,requests,insights \
  --dir "$dir"
