"""Emails: what they say (messages, templates) and sending them once (send)."""
