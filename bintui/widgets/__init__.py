"""Reusable widgets of the client: thread view and connection indicator."""
