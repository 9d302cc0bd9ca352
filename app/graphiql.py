"""GraphiQL, served entirely by this server: no CDN, works offline.

Strawberry's built-in GraphiQL page loads React and GraphiQL from a public CDN, so it
renders blank on a machine without internet access (CI, air-gapped demos, a laptop on a
train). We therefore vendor the production builds of GraphiQL 3.8.3 and React 18.3.1 in
``app/static/graphiql/`` (versions and MIT licenses in ``LICENSES.txt`` there) and serve
them ourselves under :data:`STATIC_URL_PREFIX`.

Wiring, for the Starlette app::

    Mount(STATIC_URL_PREFIX, app=static_app())
    # and on GET /graphql (browser): HTMLResponse(graphiql_html("/graphql"))

The page talks to ``endpoint`` with HTTP POST for queries and mutations, and over a
``graphql-transport-ws`` WebSocket at the same path (``ws://`` or ``wss://`` following
the page's scheme) for subscriptions. Headers typed in GraphiQL's Headers tab, such as
``{"Authorization": "Bearer ..."}``, go with every POST and, for subscriptions, as the
``connection_init`` payload. They persist in the browser's localStorage.
"""

from __future__ import annotations

import json
from pathlib import Path
from string import Template
from typing import Final

from starlette.staticfiles import StaticFiles

GRAPHIQL_STATIC_DIR: Final[Path] = Path(__file__).resolve().parent / "static" / "graphiql"
STATIC_URL_PREFIX: Final = "/graphiql/static"

PAGE_TITLE: Final = "Order Center \u2014 GraphiQL"

# Load order matters: GraphiQL's UMD bundle expects the globals React and ReactDOM.
STYLESHEETS: Final[tuple[str, ...]] = ("graphiql.min.css",)
SCRIPTS: Final[tuple[str, ...]] = (
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphiql.min.js",
)

DEFAULT_QUERY: Final = """\
# Order Center API. Most fields need
# a signed-in viewer: in the Headers
# tab below, put
#   {"Authorization": "Bearer <token from make run>"}
# then press Run (Ctrl-Enter).

query MyRecentOrders {
  viewer {
    handle
    displayName
    orders(first: 5) {
      edges {
        node {
          number
          status
          total {
            amount
            currencyCode
          }
        }
      }
    }
  }
}
"""

_PAGE: Final = Template("""\
<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="referrer" content="no-referrer">
    <title>$title</title>
$stylesheets
    <style>
      html, body { height: 100%; margin: 0; }
      #graphiql { height: 100vh; }
    </style>
  </head>
  <body>
    <div id="graphiql">Loading GraphiQL&hellip;</div>
    <noscript>GraphiQL needs JavaScript.</noscript>
$scripts
    <script>
      (function () {
        "use strict";
        var endpoint = $endpoint_json;
        var httpUrl = new URL(endpoint, window.location.href);
        var wsUrl = new URL(httpUrl.href);
        wsUrl.protocol = httpUrl.protocol === "https:" ? "wss:" : "ws:";

        // Subscriptions use the bundled graphql-ws client; the Headers tab is sent as
        // the connection_init payload.
        var fetcher = GraphiQL.createFetcher({
          url: httpUrl.href,
          subscriptionUrl: wsUrl.href
        });

        // Open the docs on a first visit; afterwards GraphiQL remembers the user's choice.
        var visiblePlugin;
        try {
          if (window.localStorage.getItem("graphiql:visiblePlugin") === null) {
            visiblePlugin = "Documentation Explorer";
          }
        } catch (e) {
          visiblePlugin = undefined;
        }

        var root = ReactDOM.createRoot(document.getElementById("graphiql"));
        root.render(
          React.createElement(GraphiQL, {
            fetcher: fetcher,
            defaultQuery: $default_query_json,
            isHeadersEditorEnabled: true,
            shouldPersistHeaders: true,
            defaultEditorToolsVisibility: "headers",
            visiblePlugin: visiblePlugin
          })
        );
      })();
    </script>
  </body>
</html>
""")


def _script_json(value: str) -> str:
    """JSON-encode ``value`` so it is safe to embed inside an inline ``<script>``."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def asset_url(name: str) -> str:
    """The URL path, relative to the server root, at which a vendored asset is served."""
    return f"{STATIC_URL_PREFIX}/{name}"


def graphiql_html(endpoint: str = "/graphql") -> str:
    """A complete GraphiQL page for ``endpoint`` that loads only assets this server serves."""
    stylesheets = "\n".join(
        f'    <link rel="stylesheet" href="{asset_url(name)}">' for name in STYLESHEETS
    )
    scripts = "\n".join(f'    <script src="{asset_url(name)}"></script>' for name in SCRIPTS)
    return _PAGE.substitute(
        title=PAGE_TITLE,
        stylesheets=stylesheets,
        scripts=scripts,
        endpoint_json=_script_json(endpoint),
        default_query_json=_script_json(DEFAULT_QUERY),
    )


def static_app() -> StaticFiles:
    """An ASGI app serving the vendored assets; mount it at :data:`STATIC_URL_PREFIX`."""
    return StaticFiles(directory=GRAPHIQL_STATIC_DIR)
