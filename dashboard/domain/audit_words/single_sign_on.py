"""The sentences of single sign-on's events (issue 19)."""
