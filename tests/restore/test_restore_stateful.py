"""Stateful property: whatever mix of writes, forks, rewinds, merges, checkpoints, forgets and
process restarts an agent's history goes through, every agent reads back, at every version, the
content a plain fold of its history gives (read, restored or compared by a diff); its tail
window is the window of that content; and tenants share nothing (twins in two tenants, with
the same ids and content, are forgotten and restored apart; a restore across tenants is
refused and changes nothing).

Why a state machine: the single-restore property (test_restore_property) builds one short
history. The machinery that makes forks cost what changed (contents kept as shared parts,
forks by reference to their source's parts, snapshots read in part, pages hashed from the
bytes they grew from, caches of decoded parts and folded agents) matters where histories are
long (lists past the size a restore reads in part), where forks of forks grow on their own,
where sources are forgotten under their forks, and where a new process reads what an earlier
one wrote. Hypothesis composes those here, and shrinks a failure to the few steps that cause it.

The model is independent of the store: each agent is a list of steps (a wire event, a copy of
another agent's content at a version or a merge of it, or a step that changes nothing),
folded from the empty content with the domain's own `apply_event` (the rule of DESIGN §2)
and `merge_content`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)
from restore_support import Kit
from support import make_settings

from ctxstore.application import restore as restore_module
from ctxstore.application import store_reads
from ctxstore.application.commands import Caller, Diff, Forget
from ctxstore.application.errors import AgentNotFound, ContextStoreError
from ctxstore.domain.agent_id import LOCAL_TENANT
from ctxstore.domain.events import make_envelope
from ctxstore.domain.merge import merge_content
from ctxstore.domain.pages import GROUP_NODES, PAGE, forget_recent
from ctxstore.domain.points import Point
from ctxstore.domain.state import Content, apply_event, content_hash, copy_content, empty_content
from ctxstore.domain.window import tail_window
from ctxstore.infrastructure.bootstrap import bootstrap, build_store
from ctxstore.infrastructure.settings import Settings

WORDS = ["alpha", "beta", "gamma", "délta", "épsilon", "zeta 🙂", "η", "theta"]
MEMORY_IDS = [f"m{i}" for i in range(12)]
KINDS = ["short_term", "long_term", "episodic", "semantic"]
# Restores and windows read a content in part from a few pages of a list on here (64 pages
# by default: restore.IN_PART, store_reads.WINDOW_IN_PART_FROM, lowered by the test), so a
# bulk write takes an agent past that at once.
IN_PART_FROM = 3 * PAGE
TENANTS = (LOCAL_TENANT, "t1", "t2")
STRATEGIES = ("replace", "merge")
BULK = 4 * PAGE + 5
# Snapshots every few events, at versions that do not depend on the events' sizes (which vary
# with their times and ids: a replay must take the same paths); caches small enough that
# reads go to the parts and snapshots.
SMALL_CACHES: dict[str, Any] = {"snapshot_interval": 9, "snapshot_growth": 0,
                                "aggregate_cache_size": 2, "part_cache_bytes": 256 * 1024}
# Examples per backend, each up to 30 steps on a store of its own (a second or two each);
# `hybrid` differs from `postgres` in checkpoint bodies alone.
EXAMPLES = {"postgres": 16, "sqlite": 12, "hybrid": 6}

# ("event", (type, data)) | ("copy" or "merge", (agent, version)) | ("same", None)
Step = tuple[str, Any]


@dataclass
class Model:
    """Each agent's steps, version by version (step k makes version k + 1)."""

    steps: dict[str, list[Step]] = field(default_factory=dict)
    forgotten: set[str] = field(default_factory=set)
    _folded: dict[tuple[str, int], Content] = field(default_factory=dict)

    def version(self, agent: str) -> int:
        return len(self.steps[agent])

    def content(self, agent: str, version: int) -> Content:
        """The content a fold of the agent's steps gives at `version` (shared: copy it before
        changing it)."""
        known = self._folded.get((agent, version))
        if known is not None:
            return known
        start = max((v for (a, v) in self._folded if a == agent and v <= version), default=0)
        content = copy_content(self._folded[(agent, start)]) if start else empty_content()
        for kind, value in self.steps[agent][start:version]:
            if kind == "event":
                apply_event(content, *value)
            elif kind == "copy":
                content = copy_content(self.content(*value))
            elif kind == "merge":
                content = merge_content(content, copy_content(self.content(*value)))
        self._folded[(agent, version)] = content
        return content

    def live(self) -> list[str]:
        return sorted(a for a in self.steps if a not in self.forgotten)


def events_of(rng: random.Random, content: Content, count: int, messages_only: bool
              ) -> list[tuple[str, dict[str, Any]]]:
    """`count` valid wire events for an agent whose content is `content` (folded into it as
    they are made, so each is valid after the ones before it): mostly messages, with tool calls
    and results (some for calls long past, which change old pages), memories (stored, updated,
    forgotten, linked), MCP state, reasoning, and messages that replace an earlier one by id."""
    out: list[tuple[str, dict[str, Any]]] = []
    for _ in range(count):
        word = " ".join(rng.choices(WORDS, k=rng.randint(1, 6)))
        kind = "message" if messages_only else rng.choices(
            ["message", "tool_call", "tool_result", "memory_stored", "memory_updated",
             "memory_forgotten", "memory_linked", "mcp_state", "reasoning"],
            [10, 3, 3, 2, 1, 1, 1, 1, 1])[0]
        memories = sorted(content["memories"])
        calls = content["tool_calls"]
        data: dict[str, Any]
        if kind in ("memory_updated", "memory_forgotten") and not memories:
            kind = "memory_stored"
        if kind == "message":
            data = {"role": rng.choice(["user", "assistant"]), "content": word}
            if rng.random() < 0.1:
                data["message_id"] = f"x{rng.randrange(40)}"
        elif kind == "tool_call":
            data = {"call_id": f"c{len(calls)}-{rng.randrange(10**6)}", "tool": "search",
                    "arguments": {"q": word}}
        elif kind == "tool_result":
            # The latest calls mostly, an old one at times (a page long written changes).
            call = (calls[rng.randrange(len(calls))] if calls and rng.random() < 0.3
                    else calls[-1] if calls else None)
            data = {"call_id": call["call_id"] if call else "orphan",
                    "output": {"hits": [word]}, "is_error": rng.random() < 0.2}
        elif kind == "memory_stored":
            data = {"memory_id": rng.choice(MEMORY_IDS), "kind": rng.choice(KINDS),
                    "content": word, "importance": rng.choice([0.1, 0.5, 1.0])}
        elif kind == "memory_updated":
            data = {"memory_id": rng.choice(memories), "content": word}
        elif kind == "memory_forgotten":
            data = {"memory_id": rng.choice(memories), "reason": word}
        elif kind == "memory_linked":
            data = {"source_id": rng.choice(MEMORY_IDS), "target_id": rng.choice(MEMORY_IDS),
                    "relation": rng.choice(["about", "after"])}
        elif kind == "mcp_state":
            data = {"server": rng.choice(["fs", "git", "web"]), "state": {"status": word}}
        else:
            data = {"thread_id": rng.choice(["t1", "t2"]), "content": word,
                    "step": rng.randrange(4)}
        apply_event(content, kind, data)
        out.append((kind, data))
    return out


class StoreHistories(RuleBasedStateMachine):
    """One store (one process's) on the test's backend; `restart` opens another on the same
    database, as a new process would. Agents are the local tenant's or one of two tenants',
    and twins (the same agent id and events in both tenants: the same content, so the same
    part addresses) show that tenants share nothing: what one forgets, the other keeps, and
    an agent of one tenant is never the source or target of another's restore or diff."""

    new_settings: Callable[[], Settings]  # set by the test: a new store's
    agents = Bundle("agents")

    def __init__(self) -> None:
        super().__init__()
        # Each example starts as a new process would: what an earlier one left in the
        # process's caches of part bytes would make a replay of it (shrinking) take
        # other paths.
        new_process()
        self.kit = open_kit(self.new_settings())
        self.model = Model()
        self.numbers = iter(range(10**6))
        self.owner: dict[str, tuple[str, str]] = {}  # model name -> (tenant, agent id)

    def teardown(self) -> None:
        self.kit.services.close()  # the views' connections too, which a forget opens

    def _agent_name(self, prefix: str, tenant: str = LOCAL_TENANT) -> str:
        return self._named(tenant, f"{prefix}{next(self.numbers)}")

    def _named(self, tenant: str, agent_id: str) -> str:
        """The model's name of a tenant's agent (its id, with the tenant unless local)."""
        name = agent_id if tenant == LOCAL_TENANT else f"{agent_id}@{tenant}"
        self.owner[name] = (tenant, agent_id)
        return name

    def key(self, name: str) -> str:
        """The store's key of a model agent (its tenant's namespace)."""
        return self.kit.store.key_for(*self.owner[name])

    def tenant(self, name: str) -> str:
        return self.owner[name][0]

    def live(self, *names: str) -> bool:
        return all(n in self.model.steps and n not in self.model.forgotten for n in names)

    def _record(self, agent: str, seed: int, count: int, messages_only: bool,
                batch: int) -> None:
        rng = random.Random(seed)
        known = agent in self.model.steps
        content = (copy_content(self.model.content(agent, self.model.version(agent)))
                   if known else empty_content())
        events = events_of(rng, content, count, messages_only)
        # Event ids of the example's own making, as everything else it draws: a replay of
        # it (shrinking) then writes the very same rows.
        tenant, agent_id = self.owner[agent]
        first = self.model.version(agent) if known else 0
        envelopes = [make_envelope(agent_id, kind, data, event_id=f"{agent_id}-{first + n}")
                     for n, (kind, data) in enumerate(events)]
        for at in range(0, len(envelopes), batch):
            result = self.kit.store.record(envelopes[at:at + batch], tenant=tenant)
            assert not result.rejected, result.rejected[:3]
        self.model.steps.setdefault(agent, []).extend(("event", e) for e in events)

    # Writing ---------------------------------------------------------------------------------
    @initialize(target=agents, seed=st.integers(0, 2**32), count=st.integers(1, 120))
    def first_agent(self, seed: int, count: int) -> str:
        agent = self._agent_name("a")
        self._record(agent, seed, count, False, 50)
        return agent

    @rule(target=agents, seed=st.integers(0, 2**32), count=st.integers(1, 120),
          tenant=st.sampled_from(TENANTS))
    def new_agent(self, seed: int, count: int, tenant: str) -> str:
        agent = self._agent_name("a", tenant)
        self._record(agent, seed, count, False, 50)
        return agent

    @rule(target=agents, seed=st.integers(0, 2**32), count=st.integers(1, 120))
    def twins(self, seed: int, count: int) -> MultipleResults[str]:
        """The same agent id and the same events in two tenants."""
        first = self._agent_name("w", TENANTS[1])
        second = self._named(TENANTS[2], self.owner[first][1])
        for agent in (first, second):
            self._record(agent, seed, count, False, 50)
        return multiple(first, second)

    @rule(agent=agents, seed=st.integers(0, 2**32), count=st.integers(1, 150),
          batch=st.sampled_from([1, 7, 64, 500]))
    def write(self, agent: str, seed: int, count: int, batch: int) -> None:
        if self.live(agent):
            self._record(agent, seed, count, False, batch)

    @rule(agent=agents, seed=st.integers(0, 2**32))
    def write_in_bulk(self, agent: str, seed: int) -> None:
        """Messages by the hundred (the list past the size a restore reads in part)."""
        if self.live(agent):
            self._record(agent, seed, BULK, True, 100)

    # Restoring -------------------------------------------------------------------------------
    def _point(self, agent: str, data: st.DataObject) -> int:
        latest = self.model.version(agent)
        # Near the end mostly (a fresh snapshot's tail), anywhere at times.
        return data.draw(st.one_of(st.integers(max(latest - 70, 0), latest),
                                   st.integers(0, latest)), label="version")

    def _refused(self, source: str, into: str, attempt: Callable[[], Any]) -> bool:
        """True (after checking it is refused and changes nothing) when the two agents are
        of different tenants: `attempt` then asks for the source as the target's tenant."""
        if self.tenant(source) == self.tenant(into):
            return False
        before = self.kit.version(self.key(into))
        with pytest.raises(ContextStoreError):
            attempt()
        assert self.kit.version(self.key(into)) == before
        return True

    @rule(target=agents, source=agents, data=st.data())
    def fork(self, source: str, data: st.DataObject) -> str:
        tenant = self.tenant(source)
        target = self._agent_name("f", tenant)
        if not self.live(source):
            return target  # never written: later rules skip it
        version = self._point(source, data)
        result = self.kit.restore.restore(self.key(source), Point.of_version(version),
                                          self.key(target), tenant=tenant)
        assert result.content_hash == content_hash(self.model.content(source, version))
        self.model.steps[target] = [("copy", (source, version))]
        return target

    @rule(source=agents, into=agents, data=st.data(), strategy=st.sampled_from(STRATEGIES))
    def restore_into(self, source: str, into: str, data: st.DataObject, strategy: str) -> None:
        """Into an agent that exists (itself: a rewind), replacing its content or merged into
        it (domain.merge)."""
        if not self.live(source, into):
            return
        version = self._point(source, data)

        def restore() -> Any:
            return self.kit.restore.restore(self.key(source), Point.of_version(version),
                                            self.key(into), tenant=self.tenant(into),
                                            merge_strategy=strategy)

        if self._refused(source, into, restore):
            return
        result = restore()
        if strategy == "replace":
            assert result.content_hash == content_hash(self.model.content(source, version))
        self.model.steps[into].append(
            ("copy" if strategy == "replace" else "merge", (source, version)))

    @rule(target=agents, agent=agents)
    def checkpoint_then_restore(self, agent: str) -> str:
        """A checkpoint of the agent, restored into a new agent of its tenant."""
        tenant = self.tenant(agent)
        target = self._agent_name("c", tenant)
        if not self.live(agent):
            return target
        checkpoint = self.kit.checkpoints.capture(self.key(agent), label="stateful")
        version = checkpoint.version
        self.model.steps[agent].append(("same", None))  # the checkpoint's own event
        self.kit.restore.restore(None, Point.of_checkpoint(checkpoint.package_id),
                                 self.key(target), tenant=tenant)
        self.model.steps[target] = [("copy", (agent, version))]
        return target

    @precondition(lambda self: len(self.model.live()) > 1)
    @rule(agent=consumes(agents))
    def forget(self, agent: str) -> None:
        """Its forks, what they were forked from it, and its twin must not notice."""
        if not self.live(agent):
            return
        tenant, agent_id = self.owner[agent]
        self.kit.services.commands.forget(Caller(tenant), Forget(agent_id=agent_id,
                                                                 by="stateful"))
        self.model.forgotten.add(agent)

    @rule()
    def restart(self) -> None:
        """Another process on the same database: nothing held in memory."""
        self.kit.services.close()
        new_process()
        self.kit = open_kit(self.kit.settings)

    # Reading ---------------------------------------------------------------------------------
    @rule(agent=agents, data=st.data())
    def read_at_a_version(self, agent: str, data: st.DataObject) -> None:
        if not self.live(agent):
            return
        version = data.draw(st.integers(1, self.model.version(agent)), label="read version")
        got = self.kit.store.context(self.key(agent), version=version)
        assert got["content_hash"] == content_hash(self.model.content(agent, version)), \
            (agent, version)

    @rule(agent=agents, tail=st.sampled_from([1, 3, 50, PAGE + 1]))
    def read_the_tail(self, agent: str, tail: int) -> None:
        if not self.live(agent):
            return
        key = self.key(agent)
        window = self.kit.store.context(key, tail=tail)
        whole = self.kit.store.context(key, version=self.model.version(agent))
        assert whole["content_hash"] == content_hash(
            self.model.content(agent, self.model.version(agent)))
        assert window == tail_window(whole, tail)

    @rule(agent=agents, other=agents, data=st.data())
    def diff(self, agent: str, other: str, data: st.DataObject) -> None:
        """Two points compared (of one agent, or of two) through the command every door runs,
        for the first agent's tenant: each agent named by its id, which names the caller's
        own agent of that id (another tenant's agent is not found; a twin's id names the
        caller's twin)."""
        if not self.live(agent):
            return
        tenant = self.tenant(agent)
        other_id = self.owner[other][1]
        mine = [n for n, (t, i) in self.owner.items() if t == tenant and i == other_id]
        seen = mine[0] if mine and self.live(mine[0]) else None
        before = self._point(agent, data)
        after = self._point(seen, data) if seen is not None else 1
        command = Diff(agent_id=self.owner[agent][1], other_agent_id=other_id,
                       **{"from": str(before)}, to=str(after))
        if seen is None:
            with pytest.raises(AgentNotFound):
                self.kit.services.commands.diff(Caller(tenant), command)
            return
        got = self.kit.services.commands.diff(Caller(tenant), command)
        expected = (content_hash(self.model.content(agent, before)),
                    content_hash(self.model.content(seen, after)))
        assert (got.base.content_hash, got.other.content_hash) == expected
        assert got.identical == (expected[0] == expected[1])

    @invariant()
    def latest_versions_are_the_models(self) -> None:
        for agent in self.model.live():
            assert self.kit.version(self.key(agent)) == self.model.version(agent), agent


def new_process() -> None:
    """Nothing held of any part in this process (a new process holds nothing)."""
    forget_recent()
    GROUP_NODES.clear()


def open_kit(settings_: Settings) -> Kit:
    store = build_store(settings_)
    return Kit(settings_, store, bootstrap(settings_, store=store))


# A passing run takes seconds; a failing one is shrunk, which Hypothesis bounds at five
# minutes of its own: past the suite's 300 s per test, the timeout would cut the shrink short
# and hide the steps that fail behind an "inconsistent data generation" error.
@pytest.mark.timeout(900)
@pytest.mark.parametrize("backend", ["postgres", "sqlite", "hybrid"])
def test_histories_read_back_as_their_fold(backend: str, tmp_path: Path,
                                           request: pytest.FixtureRequest,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Each example gets a store of its own (a schema or a file). `hybrid` keeps checkpoint
    bodies as files beside PostgreSQL."""
    monkeypatch.setattr(restore_module, "IN_PART",
                        replace(restore_module.IN_PART, from_items=IN_PART_FROM))
    monkeypatch.setattr(store_reads, "WINDOW_IN_PART_FROM", IN_PART_FROM)
    dsn = request.getfixturevalue("postgres_dsn") if backend != "sqlite" else None
    made = iter(range(10**6))

    def new_settings() -> Settings:
        return make_settings(backend, tmp_path / f"s{next(made)}", dsn, **SMALL_CACHES)

    machine = type("Histories", (StoreHistories,),
                   {"new_settings": staticmethod(new_settings)})
    run_state_machine_as_test(machine, settings=settings(
        max_examples=EXAMPLES[backend], stateful_step_count=30, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]))
