"""Per-agent automatic checkpoints (the seed's plan §6.1): each agent's own interval and
maximum, kept in the store across restarts, beside the default schedule; each due round is
claimed once however many runners share the store. Rounds are driven with times the test
chooses (`run_due(now)`), never by sleeping; the runner thread is waited on by state."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from restore_support import Kit, msg, new_agent

from ctxstore.application.auto_checkpoints import DueReport
from ctxstore.application.commands import (
    AutoCheckpointStatus,
    Caller,
    RecordEvents,
    StartAutoCheckpoints,
    StopAutoCheckpoints,
)
from ctxstore.application.errors import AgentNotFound, ScheduleNotFound
from ctxstore.application.schedule_port import DEFAULT_SCHEDULE
from ctxstore.infrastructure.bootstrap import bootstrap, build_store
from ctxstore.infrastructure.container import Services

T0 = datetime(2030, 1, 1, tzinfo=UTC)
LOCAL = Caller()


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def start(services: Services, agent: str, interval: float, maximum: int,
          caller: Caller = LOCAL) -> None:
    key = services.commands.policy.visible(caller, agent).agent_id
    services.commands.use_cases.auto.start(key, caller.tenant, interval_minutes=interval,
                                           max_checkpoints=maximum, now=T0)


def autos(kit: Kit, agent: str) -> list[str]:
    return [c.package_id for c in kit.checkpoints.list(agent) if c.label == "auto"]


def test_an_agents_own_schedule_captures_each_due_round_once_and_keeps_its_maximum(
        kit: Kit) -> None:
    auto = kit.services.commands.use_cases.auto
    mine, other = new_agent("mine"), new_agent("other")
    kit.store.record([msg(mine, "1"), msg(other, "1")])
    start(kit.services, mine, 10, 2)
    assert auto.run_due(minutes(9.9), default=False).agent_rounds == {}  # not due yet
    first = auto.run_due(minutes(10), default=False)
    assert list(first.agent_rounds) == [mine] and autos(kit, mine) == [first.agent_rounds[mine]]
    assert auto.run_due(minutes(10), default=False).agent_rounds == {}  # that round is taken
    assert autos(kit, other) == []  # only the scheduled agent
    # Unchanged: the round runs and takes nothing.
    assert auto.run_due(minutes(20), default=False).agent_rounds == {mine: ""}
    taken = []
    for n, at in enumerate((30, 40, 50), start=2):
        kit.store.record([msg(mine, str(n))])
        taken.append(auto.run_due(minutes(at), default=False).agent_rounds[mine])
    assert autos(kit, mine) == taken[-2:]  # at most 2 kept (the schedule's maximum)
    held = auto.get(mine)
    assert held is not None and held.last_package_id == taken[-1]
    assert held.next_due_us == int(minutes(60).timestamp() * 1_000_000)
    # Missed rounds are not caught up one by one: one round, then a whole interval on.
    kit.store.record([msg(mine, "late")])
    late = auto.run_due(minutes(95), default=False)
    assert late.agent_rounds[mine] and late.next_due_us == int(
        minutes(105).timestamp() * 1_000_000)


def test_the_default_schedule_leaves_scheduled_agents_to_their_own(
        make_kit: Callable[..., Kit]) -> None:
    kit = make_kit(checkpoint_interval_minutes=30, max_checkpoints_per_agent=1)
    auto = kit.services.commands.use_cases.auto
    mine, other = new_agent("mine"), new_agent("other")
    kit.store.record([msg(mine, "1"), msg(other, "1")])
    start(kit.services, mine, 60, 3)
    assert auto.run_due(T0).default_round is None  # the default's first round: 30 min on
    report = auto.run_due(minutes(30)).default_round
    assert report is not None and [c.agent_id for c in report.captured] == [other]
    assert autos(kit, mine) == []
    for n, at in enumerate((60, 120, 180)):  # its own maximum (3), not the default's (1)
        kit.store.record([msg(mine, f"more {n}")])
        auto.run_due(minutes(at), default=False)
    assert len(autos(kit, mine)) == 3
    kit.services.commands.stop_auto_checkpoints(LOCAL, StopAutoCheckpoints(agent_id=mine))
    kit.store.record([msg(mine, "back to the default")])
    report = auto.run_due(minutes(240)).default_round
    assert report is not None and [c.agent_id for c in report.captured] == [mine]
    assert len(autos(kit, mine)) == 1  # the default's maximum again


def test_two_runners_on_one_store_take_each_round_once(make_kit: Callable[..., Kit]) -> None:
    kit = make_kit(checkpoint_interval_minutes=5)
    # A second process's services: its own store object and connections on the same database.
    second = bootstrap(kit.settings, store=build_store(kit.settings))
    try:
        runners = [kit.services.commands.use_cases.auto, second.commands.use_cases.auto]
        agents = [new_agent(f"a{i}") for i in range(3)]
        kit.store.record([msg(a, "0") for a in agents])
        for agent in agents:
            start(kit.services, agent, 5, 50)
        runners[0].run_due(T0)  # a runner starts: the default's first round is 5 min on
        rounds = 4
        for r in range(1, rounds + 1):
            kit.store.record([msg(a, f"round {r}") for a in agents])
            now = minutes(5 * r)
            barrier = threading.Barrier(len(runners))
            reports: list[object] = [None] * len(runners)

            def run(i: int, now: datetime = now, barrier: threading.Barrier = barrier,
                    reports: list[object] = reports) -> None:
                barrier.wait(timeout=60)
                reports[i] = runners[i].run_due(now)

            threads = [threading.Thread(target=run, args=(i,)) for i in range(len(runners))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=120)
            done = [rep for rep in reports if isinstance(rep, DueReport)]
            assert len(done) == len(runners)
            claimed = [a for rep in done for a in rep.agent_rounds]
            assert sorted(claimed) == sorted(agents)  # each agent's round by one runner
            defaults = [rep for rep in done if rep.default_round is not None]
            assert len(defaults) == 1  # the default round too
        for agent in agents:
            assert len(autos(kit, agent)) == rounds  # one capture per due round
    finally:
        second.close()


def test_schedules_survive_a_restart(make_kit: Callable[..., Kit]) -> None:
    kit = make_kit()
    agent = new_agent()
    kit.store.record([msg(agent, "1")])
    start(kit.services, agent, 0.5, 4)
    kit.store.close()
    again = bootstrap(kit.settings, store=build_store(kit.settings))
    try:
        (view,) = again.commands.auto_checkpoint_status(LOCAL, AutoCheckpointStatus()).schedules
        assert (view.agent_id, view.interval_minutes, view.max_checkpoints) == (agent, 0.5, 4)
        report = again.commands.use_cases.auto.run_due(minutes(0.5), default=False)
        assert report.agent_rounds[agent]
        (view,) = again.commands.auto_checkpoint_status(
            LOCAL, AutoCheckpointStatus(agent_id=agent)).schedules
        assert view.last_package_id == report.agent_rounds[agent]
        assert view.last_capture_at == minutes(0.5) and view.next_due_at == minutes(1)
    finally:
        again.close()


def test_the_runner_thread_follows_a_schedule_started_while_it_runs(
        make_kit: Callable[..., Kit]) -> None:
    kit = make_kit(checkpoint_interval_minutes=0)  # no default rounds: only its own
    runner = kit.services.runner
    assert runner is not None and runner.interval_seconds is None
    agent = new_agent()
    kit.store.record([msg(agent, "1")])
    with runner:
        kit.services.commands.start_auto_checkpoints(
            LOCAL, StartAutoCheckpoints(agent_id=agent, interval_minutes=0.005,
                                        max_checkpoints=2))  # 0.3 s
        wait_for(lambda: len(autos(kit, agent)) == 1)
        kit.store.record([msg(agent, "2")])
        wait_for(lambda: len(autos(kit, agent)) == 2)
        kit.services.commands.stop_auto_checkpoints(LOCAL, StopAutoCheckpoints(agent_id=agent))
    assert not runner.running


def test_tenants_touch_only_their_own_agents_schedules(kit: Kit) -> None:
    commands = kit.services.commands
    alice, bob = Caller("alice", keyed=True), Caller("bob", keyed=True)
    commands.record(alice, RecordEvents.of_json("bot", msg("bot", "hi").model_dump(
        mode="json")))
    commands.start_auto_checkpoints(alice, StartAutoCheckpoints(agent_id="bot"))
    with pytest.raises(AgentNotFound):
        commands.start_auto_checkpoints(bob, StartAutoCheckpoints(agent_id="bot"))
    with pytest.raises(AgentNotFound):
        commands.stop_auto_checkpoints(bob, StopAutoCheckpoints(agent_id="bot"))
    assert commands.auto_checkpoint_status(bob, AutoCheckpointStatus()).schedules == []
    (view,) = commands.auto_checkpoint_status(alice, AutoCheckpointStatus()).schedules
    assert view.agent_id == "bot" and view.interval_minutes == 30
    assert all(s.agent_id != DEFAULT_SCHEDULE
               for s in kit.services.commands.use_cases.auto.status(""))
    commands.stop_auto_checkpoints(alice, StopAutoCheckpoints(agent_id="bot"))
    with pytest.raises(ScheduleNotFound):
        commands.stop_auto_checkpoints(alice, StopAutoCheckpoints(agent_id="bot"))


@pytest.mark.parametrize(("field", "value"), [("interval_minutes", 0),
                                              ("interval_minutes", -1),
                                              ("max_checkpoints", 0)])
def test_a_schedule_out_of_range_is_refused_naming_its_field(field: str, value: float) -> None:
    with pytest.raises(ValidationError) as e:
        StartAutoCheckpoints.model_validate({"agent_id": "bot", field: value})
    assert e.value.errors()[0]["loc"] == (field,)
