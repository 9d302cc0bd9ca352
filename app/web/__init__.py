"""The Order Center web app: a single page at ``/``, a client of the public API only.

``routes(settings)`` is all the ASGI app needs (app/main.py). The page's code is in
``static/`` (ES modules, no build step), the libraries it uses are vendored under
``static/vendor/`` with their licences, and the GraphQL documents it sends are the files
in ``examples/`` at the repository root, served as they are, so the app, the tests and
the benchmarks share one copy of each operation.
"""

from app.web.routes import routes

__all__ = ["routes"]
