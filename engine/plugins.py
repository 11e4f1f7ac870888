"""Plugins: discovered through the `gxpflow.plugins` entry-point group, never by folder globbing.

A plugin subclasses `Plugin`, declares its name and connects to `engine.signals` or registers
connectors in `setup` (`register_connector`). It receives the Flask app so it can add a
blueprint of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "gxpflow.plugins"


class Plugin:
    """Base class of GxPFlow plugins."""

    name: str = ""
    description: str = ""

    def setup(self, app: Any) -> None:
        """Connect signals, register connectors or blueprints. Called once per app."""


def register_connector(app: Any, name: str, connector: Callable[..., Any]) -> None:
    """Make `connector` callable from BPMN service tasks as `name` (their
    spiffworkflow:serviceTaskOperator id). It is called with `idempotency_key` and the task's
    parameters as keyword arguments (a parameter it does not accept fails the call at run time),
    returns a JSON-able dict and raises to fail; see engine.processes.connectors. A name
    already taken (by the engine or another plugin) is refused."""
    connectors = app.extensions["gxpflow.runtime"].connectors
    if name in connectors:
        raise ValueError(f"a connector named {name!r} is registered already")
    connectors[name] = connector


def discover() -> list[type[Plugin]]:
    """The plugin classes installed in this environment, in entry-point name order."""
    found: list[type[Plugin]] = []
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        cls = entry.load()
        if not (isinstance(cls, type) and issubclass(cls, Plugin)):
            raise TypeError(f"entry point {entry.name!r} is not a gxpflow Plugin subclass")
        found.append(cls)
    return found


def load_plugins(app: Any, enabled: set[str] | None = None) -> list[Plugin]:
    """Instantiate and set up the discovered plugins (all, or only those named in `enabled`)."""
    plugins: list[Plugin] = []
    for cls in discover():
        if enabled is not None and cls.name not in enabled:
            continue
        plugin = cls()
        plugin.setup(app)
        log.info("plugin %s loaded", cls.name)
        plugins.append(plugin)
    return plugins
