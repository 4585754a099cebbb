"""The console's static files (the page, its script and stylesheet), shipped in the package and
served as they are: no build step, no CDN, nothing fetched from elsewhere.

The page holds no data and no secret: it asks for the master key, keeps it in ``sessionStorage``
(gone when the tab closes) and sends it as ``x-functions-key`` on its own requests, so the key never
appears in a URL, the HTML, browser history or request logs. Every header below goes with every
console response; the Content-Security-Policy allows only this origin's script and stylesheet and
requests to this origin, so there is no inline script or style to inject into.
"""
from __future__ import annotations

from functools import cache
from importlib import resources

PAGE = "console.html"
ASSETS = {"console.js": "text/javascript", "console.css": "text/css"}

CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                           "img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@cache
def read(name: str) -> bytes:
    """A packaged file: :data:`PAGE` or one of :data:`ASSETS`; ``KeyError`` for anything else."""
    if name != PAGE and name not in ASSETS:
        raise KeyError(name)
    return resources.files(__package__).joinpath("static", name).read_bytes()
