"""Budgie's pipeline stages, engines and the streaming worker."""
