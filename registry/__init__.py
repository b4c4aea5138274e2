"""The model registry: ids, aliases, engines, languages, streaming mode and hardware needs.

Pure data. It imports no model library, so the API, the workers and the benchmarks can all
consult it cheaply. Extra entries (a fine-tuned model, a test model) are merged from the YAML
files named in ``BUDGIE_REGISTRY_FILES`` (``os.pathsep``-separated).
"""
from registry.catalog import ModelEntry, Registry, UnknownModelError, load_registry

__all__ = ["ModelEntry", "Registry", "UnknownModelError", "load_registry"]
