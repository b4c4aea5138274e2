"""The registry as this deployment configures it (built-in models plus ``BUDGIE_REGISTRY_FILES``)."""

from __future__ import annotations

from core.settings import get_settings
from registry import Registry, load_registry


def registry() -> Registry:
    """The configured model registry (cached by the registry package)."""
    return load_registry(get_settings().registry_files)
