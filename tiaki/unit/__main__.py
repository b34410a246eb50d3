"""A reference Agency unit: consume the unit's queue and keep what arrives.

    python -m tiaki.unit --unit evaluation --store-uri mongodb://.../tiaki_unit_evaluation \
        --token-file var/tokens/unit-evaluation
"""

from __future__ import annotations

import argparse
import logging
import os

import yaml
from prometheus_client import start_http_server

from tiaki.connect import queues
from tiaki.connect.channel import ClientTls
from tiaki.unit.client import UnitClient, log
from tiaki.unit.review_server import serve


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tiaki.unit",
                                     description="A reference Agency unit: consume and store")
    parser.add_argument("--unit", required=True)
    parser.add_argument("--amqp-uri", default=os.environ.get("AMQP_URI"),
                        help="the unit's broker user, vhost included (or AMQP_URI: a password "
                             "on a command line is visible to every local user)")
    parser.add_argument("--store-uri", required=True)
    parser.add_argument("--router", default="127.0.0.1:50052")
    parser.add_argument("--requests", default="127.0.0.1:50053")
    parser.add_argument("--token-file", help="the unit's API token (not needed with --tls-*)")
    parser.add_argument("--tls-ca", default=os.environ.get("TIAKI_TLS_CA", ""),
                        help="mutual TLS: the CA of the servers' certificates (or TIAKI_TLS_CA)")
    parser.add_argument("--tls-cert", default=os.environ.get("TIAKI_TLS_CERT", ""),
                        help="mutual TLS: this unit's client certificate (or TIAKI_TLS_CERT)")
    parser.add_argument("--tls-key", default=os.environ.get("TIAKI_TLS_KEY", ""),
                        help="mutual TLS: its key (or TIAKI_TLS_KEY)")
    parser.add_argument("--metrics-port", type=int, default=0)
    parser.add_argument("--passive-queue", action="store_true",
                        help="do not declare the queue (a broker user that may only read it)")
    parser.add_argument("--metrics-addr", default="127.0.0.1",
                        help="address /metrics listens on (0.0.0.0 in a container)")
    parser.add_argument("--heads-file", default="",
                        help="where the last verified signed head of each provider's ledger is "
                             "remembered (default $TIAKI_STATE_DIR/unit-UNIT-ledger-heads.json)")
    parser.add_argument("--config", default="",
                        help="the reference units' config (config/units/reference.yaml): how this unit "
                             "answers (auto, or review by a person) and its review service")
    args = parser.parse_args(argv)
    if not args.amqp_uri:
        parser.error("give AMQP_URI (or --amqp-uri): the unit's own broker user")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s unit %(message)s")
    tls = ClientTls.from_env({"TIAKI_TLS_CA": args.tls_ca, "TIAKI_TLS_CERT": args.tls_cert,
                              "TIAKI_TLS_KEY": args.tls_key})
    if not args.token_file and tls is None:
        parser.error("give --token-file, or --tls-ca, --tls-cert and --tls-key")
    token = ""
    if args.token_file:
        with open(args.token_file, encoding="utf-8") as fh:
            token = fh.read().strip()
    if args.metrics_port:
        start_http_server(args.metrics_port, addr=args.metrics_addr)
    config = unit_config(args.config, args.unit)
    unit = UnitClient(args.unit, args.amqp_uri, args.store_uri, args.router, token,
                      requests_address=args.requests, declare_queue=not args.passive_queue,
                      tls=tls, heads_file=args.heads_file, answer=config.get("answer", "auto"))
    unit.answering_since()  # recorded as the unit starts
    server = None
    # The review service runs for a unit answering after review (it needs it), and for
    # any unit whose config names its staff client's token: the staff see how it answers.
    if unit.answer_mode == "review" or config.get("staff_token_file"):
        with open(config.get("staff_token_file", ""), encoding="utf-8") as fh:
            server = serve(unit, config.get("review_address", "127.0.0.1:50061"),
                           fh.read().strip())
    log.info("unit %s consuming %s, answering %s", args.unit,
             queues.unit_queue(args.unit).name, unit.answer_mode)
    try:
        unit.run()
    finally:
        if server is not None:
            server.stop(grace=5)


def unit_config(path: str, unit_id: str) -> dict:
    """This unit's section of the units' config ({} without one): answer,
    review_address, staff_token_file."""
    if not path:
        return {}
    with open(path, encoding="utf-8") as fh:
        config = yaml.safe_load(fh) or {}
    return dict(config.get(unit_id) or {})


if __name__ == "__main__":
    main()
