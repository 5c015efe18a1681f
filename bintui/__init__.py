"""bintui: the BIN coordinator's terminal client (Textual)."""
