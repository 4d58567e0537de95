"""OpenID Connect: mfa-flow as an OpenID Provider (authorization code flow with PKCE, PAR,
discovery, ID tokens). Pure protocol rules, no I/O: what a request must be, what an answer
holds. The service that stores and answers is ``app/oidc.py``; the HTTP handlers are
``http/oidc.py`` and ``http/oidc_clients.py``.

Why not authlib's server side: its ``AuthorizationServer`` and grant classes are built around
synchronous hooks (``query_client``, ``save_authorization_code``, ``authenticate_user``)
and a framework's request object, which cannot await this service's asyncpg transactions
nor run a flow between the request and the code. The protocol rules that remain are small,
and written against the RFCs here; authlib's client drives them in the tests, and joserfc
(already the service's JOSE library) signs and verifies every JWT.
"""
