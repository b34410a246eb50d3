"""The portal: tiaki in a browser for the people in the journey (provider staff
now; Agency staff, unit staff and service-user representatives next).

A process of its own (`python -m services.portal`), Starlette on uvicorn:
server-rendered HTML (Jinja2) that works without JavaScript, server-sent
events where it is on. Its own store holds staff accounts and sessions; it
reaches the other services only through their gRPC contracts, as the signed-in
person's organisation (that organisation's API token) with `tiaki-person` set.

- accounts.py: organisations' kinds, roles, passwords (argon2id), second
  factor (TOTP), lockout: the rules.
- storage.py: staff, sessions and sign-in failures in the portal's store.
- web.py: the route helper (`page`), templates, security headers, CSRF.
- auth.py: sign in, second factor, sign out; the staff admin API for `tiaki staff`.
- backends.py: gRPC stubs calling as the person's organisation.
- provider.py: provider staff's pages.
- app.py: the Starlette application; __main__.py: serve, demo people.
"""
