"""BIN over Matrix: the relay bot, its product rules, and the embedded homeserver."""
