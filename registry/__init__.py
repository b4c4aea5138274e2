"""The model registry: ids, aliases, engines, languages, streaming mode and hardware needs.

Pure data. It imports no model library, so the API, the workers and the benchmarks can all
consult it cheaply. Extra entries (a fine-tuned model, a test model) are merged from the YAML
files passed to :func:`load_registry` (the services pass ``BUDGIE_REGISTRY_FILES``; see core.catalog).
"""

from registry.catalog import ModelEntry, Registry, UnknownModelError, load_registry

__all__ = ["ModelEntry", "Registry", "UnknownModelError", "load_registry"]
