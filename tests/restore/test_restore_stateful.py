"""Stateful property: whatever mix of writes, forks, rewinds, merges, checkpoints, forgets and
process restarts an agent's history goes through, every agent reads back, at every version, the
content a plain fold of its history gives (read, restored or compared by a diff); and its tail
window is the window of that content.

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
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from restore_support import Kit
from support import make_settings

from ctxstore.application import restore as restore_module
from ctxstore.application import store_reads
from ctxstore.application.commands import LOCAL, Forget
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
BULK = 4 * PAGE + 5
# Snapshots every few events, at versions that do not depend on the events' sizes (which vary
# with their times and ids: a replay must take the same paths); caches small enough that
# reads go to the parts and snapshots.
SMALL_CACHES: dict[str, Any] = {"snapshot_interval": 9, "snapshot_growth": 0,
                                "aggregate_cache_size": 2, "part_cache_bytes": 256 * 1024}
# Examples per backend, each up to 30 steps on a store of its own (a second or two each);
# `hybrid` differs from `postgres` in checkpoint bodies alone.
EXAMPLES = {"postgres": 20, "sqlite": 20, "hybrid": 8}

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
    database, as a new process would."""

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

    def teardown(self) -> None:
        self.kit.services.close()  # the views' connections too, which a forget opens

    def _agent_name(self, prefix: str) -> str:
        return f"{prefix}{next(self.numbers)}"

    def _record(self, agent: str, seed: int, count: int, messages_only: bool,
                batch: int) -> None:
        rng = random.Random(seed)
        known = agent in self.model.steps
        content = (copy_content(self.model.content(agent, self.model.version(agent)))
                   if known else empty_content())
        events = events_of(rng, content, count, messages_only)
        # Event ids of the example's own making, as everything else it draws: a replay of
        # it (shrinking) then writes the very same rows.
        first = self.model.version(agent) if known else 0
        envelopes = [make_envelope(agent, kind, data, event_id=f"{agent}-{first + n}")
                     for n, (kind, data) in enumerate(events)]
        for at in range(0, len(envelopes), batch):
            result = self.kit.store.record(envelopes[at:at + batch])
            assert not result.rejected, result.rejected[:3]
        self.model.steps.setdefault(agent, []).extend(("event", e) for e in events)

    # Writing ---------------------------------------------------------------------------------
    @initialize(target=agents, seed=st.integers(0, 2**32), count=st.integers(1, 120))
    def first_agent(self, seed: int, count: int) -> str:
        agent = self._agent_name("a")
        self._record(agent, seed, count, False, 50)
        return agent

    @rule(target=agents, seed=st.integers(0, 2**32), count=st.integers(1, 120))
    def new_agent(self, seed: int, count: int) -> str:
        agent = self._agent_name("a")
        self._record(agent, seed, count, False, 50)
        return agent

    @rule(agent=agents, seed=st.integers(0, 2**32), count=st.integers(1, 150),
          batch=st.sampled_from([1, 7, 64, 500]))
    def write(self, agent: str, seed: int, count: int, batch: int) -> None:
        if agent in self.model.forgotten:
            return
        self._record(agent, seed, count, False, batch)

    @rule(agent=agents, seed=st.integers(0, 2**32))
    def write_in_bulk(self, agent: str, seed: int) -> None:
        """Messages by the hundred (the list past the size a restore reads in part)."""
        if agent in self.model.forgotten:
            return
        self._record(agent, seed, BULK, True, 100)

    # Restoring -------------------------------------------------------------------------------
    def _point(self, agent: str, data: st.DataObject) -> int:
        latest = self.model.version(agent)
        # Near the end mostly (a fresh snapshot's tail), anywhere at times.
        return data.draw(st.one_of(st.integers(max(latest - 70, 0), latest),
                                   st.integers(0, latest)), label="version")

    @rule(target=agents, source=agents, data=st.data())
    def fork(self, source: str, data: st.DataObject) -> str:
        target = self._agent_name("f")
        if source in self.model.forgotten:
            return target  # never written: later rules skip it
        version = self._point(source, data)
        result = self.kit.restore.restore(source, Point.of_version(version), target)
        assert result.content_hash == content_hash(self.model.content(source, version))
        self.model.steps[target] = [("copy", (source, version))]
        return target

    @rule(source=agents, into=agents, data=st.data())
    def restore_into(self, source: str, into: str, data: st.DataObject) -> None:
        """Into an agent that exists (itself: a rewind)."""
        if {source, into} & self.model.forgotten or into not in self.model.steps \
                or source not in self.model.steps:
            return
        version = self._point(source, data)
        result = self.kit.restore.restore(source, Point.of_version(version), into)
        assert result.content_hash == content_hash(self.model.content(source, version))
        self.model.steps[into].append(("copy", (source, version)))

    @rule(source=agents, into=agents, data=st.data())
    def merge_into(self, source: str, into: str, data: st.DataObject) -> None:
        """The source's content at a version merged into an agent's (domain.merge)."""
        if {source, into} & self.model.forgotten or into not in self.model.steps \
                or source not in self.model.steps:
            return
        version = self._point(source, data)
        self.kit.restore.restore(source, Point.of_version(version), into,
                                 merge_strategy="merge")
        self.model.steps[into].append(("merge", (source, version)))

    @rule(target=agents, agent=agents)
    def checkpoint_then_restore(self, agent: str) -> str:
        """A checkpoint of the agent, restored into a new agent."""
        target = self._agent_name("c")
        if agent in self.model.forgotten or agent not in self.model.steps:
            return target
        checkpoint = self.kit.checkpoints.capture(agent, label="stateful")
        version = checkpoint.version
        self.model.steps[agent].append(("same", None))  # the checkpoint's own event
        self.kit.restore.restore(None, Point.of_checkpoint(checkpoint.package_id), target)
        self.model.steps[target] = [("copy", (agent, version))]
        return target

    @precondition(lambda self: len(self.model.live()) > 1)
    @rule(agent=consumes(agents))
    def forget(self, agent: str) -> None:
        """Its forks, and what they were forked from it, must not notice."""
        if agent in self.model.forgotten or agent not in self.model.steps:
            return
        self.kit.services.commands.forget(LOCAL, Forget(agent_id=agent, by="stateful"))
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
        if agent in self.model.forgotten or agent not in self.model.steps:
            return
        version = data.draw(st.integers(1, self.model.version(agent)), label="read version")
        got = self.kit.store.context(agent, version=version)
        assert got["content_hash"] == content_hash(self.model.content(agent, version)), \
            (agent, version)

    @rule(agent=agents, tail=st.sampled_from([1, 3, 50, PAGE + 1]))
    def read_the_tail(self, agent: str, tail: int) -> None:
        if agent in self.model.forgotten or agent not in self.model.steps:
            return
        window = self.kit.store.context(agent, tail=tail)
        whole = self.kit.store.context(agent, version=self.model.version(agent))
        assert whole["content_hash"] == content_hash(
            self.model.content(agent, self.model.version(agent)))
        assert window == tail_window(whole, tail)

    @rule(agent=agents, other=agents, data=st.data())
    def diff(self, agent: str, other: str, data: st.DataObject) -> None:
        """Two points compared (of one agent, or of two) read the contents of those points."""
        if {agent, other} & self.model.forgotten or not {agent, other} <= set(self.model.steps):
            return
        before, after = self._point(agent, data), self._point(other, data)
        got = self.kit.services.diff.diff(agent, Point.of_version(before),
                                          Point.of_version(after), other_agent_id=other)
        expected = (content_hash(self.model.content(agent, before)),
                    content_hash(self.model.content(other, after)))
        assert (got.base.content_hash, got.other.content_hash) == expected
        assert got.identical == (expected[0] == expected[1])

    @invariant()
    def latest_versions_are_the_models(self) -> None:
        for agent in self.model.live():
            assert self.kit.version(agent) == self.model.version(agent), agent


def new_process() -> None:
    """Nothing held of any part in this process (a new process holds nothing)."""
    forget_recent()
    GROUP_NODES.clear()


def open_kit(settings_: Settings) -> Kit:
    store = build_store(settings_)
    return Kit(settings_, store, bootstrap(settings_, store=store))


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
