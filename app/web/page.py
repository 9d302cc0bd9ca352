"""The one HTML page, and the Content-Security-Policy that goes with it.

The page is static apart from nothing: its only inline content is the import map that
lets the app's modules say ``import … from "preact"``; the policy allows that one script
by its hash and nothing inline besides, and every other source is this server.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Final

STATIC_PREFIX: Final = "/web/static"
OPERATIONS_PREFIX: Final = "/web/operations"

_IMPORTS: Final = {
    "preact": f"{STATIC_PREFIX}/vendor/preact.module.js",
    "preact/hooks": f"{STATIC_PREFIX}/vendor/hooks.module.js",
    "htm": f"{STATIC_PREFIX}/vendor/htm.module.js",
}
IMPORT_MAP: Final = json.dumps({"imports": _IMPORTS}, separators=(",", ":"))
_IMPORT_MAP_HASH: Final = base64.b64encode(hashlib.sha256(IMPORT_MAP.encode()).digest()).decode()

# 'self' covers same-origin ws:/wss: in CSP Level 3 browsers, so the live updates need no
# wider connect-src. No 'unsafe-inline' anywhere: styles and scripts come from files.
POLICY: Final = (
    "default-src 'none'; "
    f"script-src 'self' 'sha256-{_IMPORT_MAP_HASH}'; "
    "style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)

HTML: Final = f"""\
<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="referrer" content="no-referrer">
    <title>Order Center</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="{STATIC_PREFIX}/app.css">
    <script type="importmap">{IMPORT_MAP}</script>
    <script src="{STATIC_PREFIX}/vendor/graphql-ws.min.js"></script>
    <script type="module" src="{STATIC_PREFIX}/app.js"></script>
  </head>
  <body>
    <div id="app"><p class="notice" role="status">Loading Order Center&hellip;</p></div>
    <noscript>Order Center needs JavaScript.</noscript>
  </body>
</html>
"""
