"""tiaki, in layers that import one way (import-linter holds it in `make lint`):

- tiaki.core: the rules, pure (no I/O, nothing of ours imported)
- tiaki.<area>.v1: the published contract, generated from protos/
- tiaki.connect: gRPC channels and broker queues, for services and clients alike
- tiaki.plumbing: what the services stand on (store, identity, broker, TLS, metrics)
- services.*: each service, importing none of the others
- tiaki.cli, tiaki.unit: the command line and the Agency units' SDK (no service code)
"""
