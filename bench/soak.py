"""Soak: the SIGKILL fault injection of the test suite, larger and longer (not run in CI).

    .venv/bin/python -m bench.soak --members 20 --messages 2000 --kills 60 --seed 7

Starts its own embedded Synapse in a temporary directory, runs the bot as a real process,
kills it with SIGKILL at seeded random moments while members send, and prints what the desk
and the members saw. Exit code 0 when every message reached the desk exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bridge.homeserver import Account, EmbeddedHomeserver, register_user
from tests.integration.faults import FaultPlan, run_fault_injection


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.soak", description=__doc__)
    parser.add_argument("--members", type=int, default=20)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=60)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    plan = FaultPlan(members=args.members, messages=args.messages, kills=args.kills, seed=args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="bin-soak-"))
    print(
        f"soak: seed {plan.seed}, {plan.members} members, {plan.messages} messages, "
        f"{plan.kills} kills; working in {tmp}",
        flush=True,
    )
    with EmbeddedHomeserver(tmp / "synapse", fast_test_mode=True) as server:

        def register(prefix: str = "user", **kw: Any) -> Account:
            localpart = f"{prefix.lower()}-{uuid.uuid4().hex[:12]}"
            return register_user(server.url, server.registration_shared_secret, localpart, **kw)

        outcome = asyncio.run(run_fault_injection(server.url, register, tmp / "run", plan))
    print("soak:", outcome.summary())
    per_member = plan.messages // plan.members
    expected = {str(i): per_member for i in range(plan.members)}
    good = (
        not outcome.missing
        and not outcome.duplicated
        and not outcome.unexpected
        and dict(outcome.confirmations) == expected
    )
    if outcome.missing:
        print(f"soak: MISSING {len(outcome.missing)}: {outcome.missing[:10]}")
    if outcome.duplicated:
        print(f"soak: DUPLICATED {len(outcome.duplicated)}: {list(outcome.duplicated)[:10]}")
    if dict(outcome.confirmations) != expected:
        print(f"soak: confirmations per member {dict(outcome.confirmations)}")
    for line in outcome.diagnosis:
        print("soak: room", line)
    print("soak:", "PASS" if good else "FAIL")
    if not args.keep:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
