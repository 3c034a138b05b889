"""The sentences of passkeys' events (issue 19)."""
