"""The dashboard's rules that need neither a request nor a transaction: verification codes,
cursors, phone numbers, email addresses, free text, message text and segments, passwords,
statuses, capabilities and the words for outcomes. Everything here is pure and is tested
without an app."""
