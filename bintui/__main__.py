"""Command line entry point: `bintui [--config FILE]` opens the coordinator's client."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from textual.logging import TextualHandler

from bridge.settings import ConfigError

from .app import run_app
from .settings import CONFIG_ENV, load_client_settings

__all__ = ["main", "run_app"]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments, load the settings and run the client; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="bintui", description="BIN coordinator client (terminal)."
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help=f"TOML settings file (default: ${CONFIG_ENV}, else defaults and a login screen)",
    )
    args = parser.parse_args(argv)
    try:
        settings = load_client_settings(args.config)
    except ConfigError as exc:
        print(f"bintui: {exc}", file=sys.stderr)
        return 2
    # Log records go to Textual's devtools console, never over the screen.
    logging.basicConfig(level=logging.WARNING, handlers=[TextualHandler()], force=True)
    run_app(settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
