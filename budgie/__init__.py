"""Budgie's user side: the ``budgie`` command, a small client, and the local stack the demo runs."""
