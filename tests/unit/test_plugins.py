"""Plugins come from entry points; anything else under the group name is refused."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from engine import plugins


class Recorder(plugins.Plugin):
    name = "recorder"

    def setup(self, app: Any) -> None:
        app.loaded.append(self.name)


def fake_entry_points(*targets: Any) -> Any:
    def entry_points(group: str) -> list[Any]:
        assert group == "gxpflow.plugins"
        return [SimpleNamespace(name=f"p{i}", load=lambda t=t: t) for i, t in enumerate(targets)]

    return entry_points


def test_discovered_plugins_are_set_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plugins, "entry_points", fake_entry_points(Recorder))
    app = SimpleNamespace(loaded=[])
    loaded = plugins.load_plugins(app)
    assert [p.name for p in loaded] == ["recorder"]
    assert app.loaded == ["recorder"]
    assert plugins.load_plugins(SimpleNamespace(loaded=[]), enabled=set()) == []


def test_an_entry_point_that_is_not_a_plugin_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plugins, "entry_points", fake_entry_points(object))
    with pytest.raises(TypeError, match="not a gxpflow Plugin subclass"):
        plugins.discover()
