"""Regenerate the committed connector files (dev only): ``python -m dev.connector [--check] [--host H]``.

With ``--entra-client-id`` and ``--entra-resource-uri`` (and ``--out``) it writes the files of an
Entra ID connection (``AUTH_MODE=entra``) instead of a function-key one.

The committed files in ``connector/`` carry a placeholder host; ``--host`` with ``--out`` writes
files for a real function app, e.g. ``--host myapp.azurewebsites.net --out build/connector``
before ``paconn create``. ``--check`` compares ``connector/`` with the code and exits 1 on drift.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ciconnector.connector import generate, metadata
from ciconnector.connector.security import EntraConnection

CONNECTOR_DIR = Path(__file__).resolve().parents[1] / "connector"
"""``connector/`` at the repository root."""


def drifted(folder: Path = CONNECTOR_DIR, host: str = metadata.DEFAULT_HOST) -> list[str]:
    """Generated files missing from ``folder`` or different from what the code generates."""
    return [name for name, text in generate(host).items()
            if not (folder / name).is_file() or (folder / name).read_text(encoding="utf-8") != text]


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) the generated files; exit status 1 on drift."""
    parser = argparse.ArgumentParser(prog="python -m dev.connector", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report files that differ from the code")
    parser.add_argument("--host", default=metadata.DEFAULT_HOST, help="function app host name (with --out)")
    parser.add_argument("--out", type=Path, default=CONNECTOR_DIR, help="folder to write into")
    parser.add_argument("--entra-client-id", help="Entra ID connections (AUTH_MODE=entra): the connector's "
                                                  "app registration (client) id (with --out)")
    parser.add_argument("--entra-resource-uri", help="the backend's application ID URI, e.g. api://<client id>")
    parser.add_argument("--entra-tenant", default="common", help="tenant makers sign in to (default common)")
    args = parser.parse_args(argv)
    if bool(args.entra_client_id) != bool(args.entra_resource_uri):
        parser.error("--entra-client-id and --entra-resource-uri go together")
    entra = EntraConnection(args.entra_client_id, args.entra_resource_uri, args.entra_tenant) \
        if args.entra_client_id else None
    if args.check:
        stale = drifted(args.out)
        print("connector files up to date" if not stale else f"out of date: {', '.join(stale)}"
              " (run python -m dev.connector)")
        return 1 if stale else 0
    if (args.host != metadata.DEFAULT_HOST or entra) and args.out.resolve() == CONNECTOR_DIR:
        parser.error("connector/ keeps the placeholder host and function keys; write other files elsewhere with --out")
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in generate(args.host, entra).items():
        (args.out / name).write_text(text, encoding="utf-8")
        print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
