"""``budgie`` command groups, one module each (registered in budgie.cli)."""
