"""The admin console: a read model of the stores (:mod:`.overview`) shown as JSON and as server-rendered
HTML (:mod:`.render`), the actions it adds (:mod:`.commands`) and its static page (:mod:`.assets`)."""
from .assets import ASSETS, PAGE, SECURITY_HEADERS, read
from .commands import ConsoleCommands
from .overview import ConnectorLink, ConsoleReader, Overview
from .render import as_view, render

__all__ = ["ASSETS", "PAGE", "SECURITY_HEADERS", "ConnectorLink", "ConsoleCommands", "ConsoleReader", "Overview",
           "as_view", "read", "render"]
