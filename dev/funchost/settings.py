"""App settings as Core Tools builds them, and ``%Setting%`` resolution.

Precedence, highest first: explicit overrides from the caller, real environment variables
(Core Tools skips a ``local.settings.json`` value that is already set in the environment), then
``Values`` of ``local.settings.json``, falling back to ``local.settings.sample.json``.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Callable, Mapping

from .errors import HostError

LOCAL_SETTINGS_FILES = ("local.settings.json", "local.settings.sample.json")
DEV_STORAGE = "usedevelopmentstorage=true"
DEV_STORAGE_CONNECTION_STRING = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
    "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
    "QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;"
    "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"
)
_SETTING_REF = re.compile(r"%([^%]+)%")


def read_local_settings(root: Path) -> tuple[Path | None, dict[str, Any]]:
    """The first existing local settings file in ``root`` and its parsed content."""
    for name in LOCAL_SETTINGS_FILES:
        path = root / name
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8-sig"))
            except (OSError, ValueError) as exc:
                raise HostError(f"cannot read {path}: {exc}") from exc
            if not isinstance(data, dict):
                raise HostError(f"{path} is not a JSON object")
            if data.get("IsEncrypted"):
                raise HostError(f"{path} is encrypted; decrypt it or use plain values")
            return path, data
    return None, {}


def expand_dev_storage(value: str) -> str:
    """``UseDevelopmentStorage=true`` as the explicit Azurite string on the default ports."""
    return DEV_STORAGE_CONNECTION_STRING if value.strip().rstrip(";").lower() == DEV_STORAGE else value


def build_settings(local_values: Mapping[str, Any], environ: Mapping[str, str],
                   overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """Merge the sources; only keys of local settings and overrides are returned."""
    merged: dict[str, str] = {}
    for key, value in local_values.items():
        if not key or value is None:
            continue
        merged[key] = environ[key] if key in environ else str(value)
    merged.update({key: str(value) for key, value in (overrides or {}).items()})
    return {key: expand_dev_storage(value) for key, value in merged.items()}


def apply_to_environ(settings: Mapping[str, str]) -> Callable[[], None]:
    """Put ``settings`` into ``os.environ``; returns a function that restores the old values."""
    previous = {key: os.environ.get(key) for key in settings}
    os.environ.update(settings)

    def restore() -> None:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return restore


def get_setting(name: str) -> str | None:
    """An app setting of the running host (an environment variable)."""
    value = os.environ.get(name)
    return expand_dev_storage(value) if value is not None else None


def resolve(text: str, what: str) -> str:
    """Replace every ``%Name%`` in ``text`` with the app setting ``Name``."""
    def lookup(match: re.Match[str]) -> str:
        value = get_setting(match.group(1))
        if value is None:
            raise HostError(f"{what}: '%{match.group(1)}%' does not resolve to a value")
        return value
    return _SETTING_REF.sub(lookup, text)
