"""Development tools for the RevenueMonster package: a local simulator of its token and SMS
endpoints, for demos, tests and training. The web app never imports this package.

- ``simulator``: the WSGI app (tokens, signed SMS requests, the inbox and stats);
- ``protocol``: RevenueMonster's error envelope, body checks and signature ``debug`` object;
- ``magic``: the magic numbers that make it misbehave on purpose;
- ``clients``: the registered clients and the clients file;
- ``inbox``: the inbox page;
- ``serving``: serving it from a thread or in the foreground.
"""
