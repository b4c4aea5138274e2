"""What the views call: one function per use case, no HTTP in here."""
