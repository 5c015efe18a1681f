"""Exactly once under SIGKILL: the bot process is killed at seeded random moments mid-stream."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bridge.homeserver import EmbeddedHomeserver
from tests.conftest import MakeAccount
from tests.integration.faults import FaultPlan, run_fault_injection

pytestmark = pytest.mark.integration

# The CI size; bench/soak.py runs the same with more members, messages and kills.
PLAN = FaultPlan(
    members=int(os.environ.get("BIN_FAULT_MEMBERS", "5")),
    messages=int(os.environ.get("BIN_FAULT_MESSAGES", "500")),
    kills=int(os.environ.get("BIN_FAULT_KILLS", "20")),
    seed=int(os.environ.get("BIN_FAULT_SEED", "20260601")),
)


@pytest.mark.timeout(600)
async def test_every_message_reaches_the_desk_exactly_once_while_the_bot_is_sigkilled(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    outcome = await run_fault_injection(homeserver.url, make_account, tmp_path, PLAN)
    print(outcome.summary())
    print("missing:", outcome.missing)
    print("\n".join(outcome.diagnosis))

    assert outcome.kills == PLAN.kills
    assert len(outcome.sent) == PLAN.messages
    assert outcome.missing == []
    assert outcome.duplicated == {}
    assert outcome.unexpected == []
    assert sum(outcome.desk.values()) == PLAN.messages
    per_member = PLAN.messages // PLAN.members
    assert dict(outcome.confirmations) == {str(i): per_member for i in range(PLAN.members)}
