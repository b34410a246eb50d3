# The embedded stores (nx-27017 has no authentication): each owner of data has a store
# process of its own, on its own loopback port with its own data directory
# var/store/<owner> (0700, files 0600), so no owner's store server holds another's
# databases. "tests" holds only the test suite's throwaway databases; "units" is the
# reference Agency units' own store (they are outside the system); "portal" the portal's
# (staff accounts and sessions, :27023). Sourced by
# scripts/infra.sh and scripts/services.sh; config/*.yaml's default URIs match.
# TIAKI_STORE_PORT (27017) is the first port; the owners follow in this order.
STORES="tests intake purpose_router requests insights units portal"
store_port() {  # owner -> its port
    local n=0 s
    for s in $STORES; do
        [ "$s" = "$1" ] && { echo $(( ${TIAKI_STORE_PORT:-27017} + n )); return 0; }
        n=$((n + 1))
    done
    echo "tiaki: no store for '$1'" >&2; return 1
}
