"""`bin-bridge`: run the bot, the embedded homeserver, or the demo."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from bridge.settings import BridgeSettings, ConfigError, load_settings

DEFAULT_DEMO_DIR = Path("var/demo")


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="bin-bridge",
        description="BIN over Matrix: the anonymous relay bot for a Buurt Informatie Netwerk.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the bot against a homeserver (embedded or external)")
    run.add_argument("--config", type=Path, help="bot config file (TOML); or set BIN_BRIDGE_CONFIG")
    run.add_argument("--log-file", help="write the log here instead of stderr")

    hs = sub.add_parser("homeserver", help="run the embedded Synapse (SQLite, 127.0.0.1 only)")
    hs.add_argument("--data-dir", type=Path, required=True, help="where config and data live")
    hs.add_argument("--port", type=int, help="port on 127.0.0.1 (default: a free one)")

    admin = sub.add_parser("admin", help="operator view: wijken, join codes, figures")
    admin.add_argument("--config", type=Path, help="bot config file (TOML); or BIN_BRIDGE_CONFIG")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    admin_sub.add_parser("list", help="wijken with members, open reports and coordinators")
    rotate = admin_sub.add_parser("rotate-code", help="give a wijk a new join code")
    rotate.add_argument("wijk", help="the wijk's slug, e.g. oost")
    figures = admin_sub.add_parser("stats", help="figures without identities")
    figures.add_argument("wijk", nargs="?", help="one wijk's slug (default: all)")
    admin.epilog = (
        "Reload the running bot's configuration with: systemctl reload bin-bridge "
        "(or kill -HUP <pid>)"
    )

    doctor = sub.add_parser("doctor", help="the bot's health in plain words (safe while it runs)")
    doctor.add_argument("--config", type=Path, help="bot config file (TOML); or BIN_BRIDGE_CONFIG")

    backup = sub.add_parser("backup", help="an encrypted, consistent copy of the bot's state")
    backup.add_argument("--config", type=Path, help="bot config file (TOML); or BIN_BRIDGE_CONFIG")
    backup.add_argument("--out", type=Path, required=True, help="where to write the backup")
    backup.add_argument(
        "--passphrase-file",
        type=Path,
        help="first line is the passphrase (else the environment variable BIN_BACKUP_PASSPHRASE)",
    )
    restore = sub.add_parser("restore", help="bring a backup back (stop the bot first)")
    restore.add_argument("--config", type=Path, help="bot config file (TOML); or BIN_BRIDGE_CONFIG")
    restore.add_argument("--in", dest="source", type=Path, required=True, help="the backup file")
    restore.add_argument("--passphrase-file", type=Path, help="as for backup")
    restore.add_argument(
        "--force",
        action="store_true",
        help="replace a non-empty data dir (moved aside, not deleted)",
    )

    from bridge.deploy import add_init_arguments

    add_init_arguments(sub.add_parser("init", help="generate a production setup (see --help)"))
    setup = sub.add_parser("setup-bot", help="create the bot's account, lift its rate limits")
    setup.add_argument("--config", type=Path, help="bot config file (TOML); or BIN_BRIDGE_CONFIG")
    signup = sub.add_parser("signup-page", help="serve the anonymous sign-up page for residents")
    signup.add_argument("--config", type=Path, help="bot config file (TOML); or BIN_BRIDGE_CONFIG")

    demo = sub.add_parser("demo", help="homeserver + demo accounts + bot + coordinator client")
    demo.add_argument("--data-dir", type=Path, default=DEFAULT_DEMO_DIR)
    mode = demo.add_mutually_exclusive_group()
    mode.add_argument("--no-tui", action="store_true", help="run headless until Ctrl-C")
    mode.add_argument(
        "--scripted", action="store_true", help="play a scenario with real clients, then exit"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `bin-bridge` console script."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            return run_bot(args.config, args.log_file)
        if args.command == "homeserver":
            from bridge.homeserver import serve

            return serve(args.data_dir, args.port)
        if args.command == "admin":
            from bridge import admin

            settings = load_settings(args.config)
            if args.admin_command == "list":
                return admin.list_wijken(settings)
            if args.admin_command == "rotate-code":
                return admin.rotate_code(settings, args.wijk)
            return admin.stats(settings, args.wijk)
        if args.command == "doctor":
            from bridge import doctor_production  # noqa: F401 (registers its checks)
            from bridge.doctor import run_doctor

            return run_doctor(load_settings(args.config))
        if args.command in ("backup", "restore"):
            return backup_or_restore(args)
        if args.command == "init":
            from bridge.deploy import main_init

            return main_init(args)
        if args.command == "setup-bot":
            from bridge.deploy import main_setup_bot

            return main_setup_bot(load_settings(args.config))
        if args.command == "signup-page":
            from bridge.signup import serve_signup

            return serve_signup(load_settings(args.config))
        if args.command == "demo":
            from bridge.demo import run_demo

            tui = not (args.no_tui or args.scripted)
            return run_demo(args.data_dir, tui=tui, scripted=args.scripted)
    except ConfigError as exc:
        print(f"bin-bridge: configuration error: {exc}", file=sys.stderr)
        return 2
    return 1


def backup_or_restore(args: argparse.Namespace) -> int:
    """`bin-bridge backup` / `restore`; exit code 4 when it cannot be done."""
    from bridge.backup import BackupError, create_backup, read_passphrase, restore_backup

    settings = load_settings(args.config)
    try:
        passphrase = read_passphrase(args.passphrase_file)
        if args.command == "backup":
            made = create_backup(settings, args.out, passphrase)
            print(f"bin-bridge: backup of {made['files']} files written to {args.out}")
        else:
            done = restore_backup(settings, args.source, passphrase, force=args.force)
            print(f"bin-bridge: {done['files']} files restored into {settings.bot.data_dir}")
            if done["moved_aside"]:
                print(f"bin-bridge: the previous contents are in {done['moved_aside']}")
    except BackupError as exc:
        print(f"bin-bridge: {args.command} failed: {exc}", file=sys.stderr)
        return 4
    return 0


def tighten_data_dir(path: Path) -> bool:
    """Make the bot's data dir private (0700) if it is open to others; True if changed.

    `adduser --system --home` makes a home of mode 0755, and the bot keeps its keys, session
    and database there; the bot owns the directory, so it closes it rather than only warn.
    """
    log = logging.getLogger("bridge")
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return False  # the bot makes it itself, with mode 0700
    if not mode & 0o077:
        return False
    try:
        os.chmod(path, mode & 0o700)
    except OSError as exc:
        log.warning(
            "the data dir %s is open to others (mode %o) and cannot be made private (%s): "
            "chmod 700 it",
            path,
            mode,
            exc.strerror,
        )
        return False
    log.warning("the data dir %s was open to others (mode %o): made it private (700)", path, mode)
    return True


class Reloadable(Protocol):
    def request_reload(self, settings: BridgeSettings) -> None: ...


def reload_handler(bridge: Reloadable, config: Path | None) -> Callable[[], None]:
    """What SIGHUP does: read the config again and hand it to the bot (after its current
    sync, up to SYNC_TIMEOUT_MS); a broken edit is refused and the running config kept."""

    def reload() -> None:
        log = logging.getLogger("bridge")
        log.info("SIGHUP: reading the configuration again; it applies after the current sync")
        try:
            bridge.request_reload(load_settings(config))
        except ConfigError as exc:
            log.error("reload refused, the running configuration stays: %s", exc)

    return reload


def run_bot(config: Path | None, log_file: str | None = None) -> int:
    """Run the bot until SIGINT/SIGTERM."""
    from bridge.bot import Bridge
    from bridge.logs import setup_logging
    from bridge.matrix import IdentityError

    settings = load_settings(config)
    setup_logging(settings.log_level, log_file)
    tighten_data_dir(settings.bot.data_dir)

    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        bridge = Bridge(settings)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

        loop.add_signal_handler(signal.SIGHUP, reload_handler(bridge, config))
        await bridge.run(stop)

    try:
        asyncio.run(go())
    except IdentityError as exc:
        print(f"bin-bridge: refusing to start: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
