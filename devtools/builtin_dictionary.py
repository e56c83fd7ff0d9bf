"""Make the store's built-in zstd dictionary from synthetic rows: no user's data is in it.

A stored event is a few hundred bytes of JSON. Compressed alone, each frame pays for building
its own entropy tables and has no history to match against: zstd spent 4.3 µs an event on the
real traces' events, and kept 0.48 of their bytes (0.72 below 1 kB). A dictionary gives every
frame tables and the store's own vocabulary (the keys and layout of its events, snapshot rows
and part pages) from the start. One trained on users' events would also hold fragments of
their contents, which no forget reaches, so this one is trained only on rows made up here:
the store's layouts, with texts, ids and numbers drawn from a fixed list of common words and
a seeded generator. Its bytes are committed (infrastructure/persistence/builtin.zdict) and
never change: every frame written with it names it, and must stay readable.

    python -m devtools.builtin_dictionary            # writes the committed file again
    python -m devtools.builtin_dictionary --check    # the committed file is this script's

Training is deterministic here (fixed parameters, one thread), so `--check` can say whether
the committed bytes are what this script makes with the installed zstandard.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zstandard

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ctxstore.infrastructure.persistence.builtin_dictionary import (  # noqa: E402
    BUILTIN_DICTIONARY_ID,
    BUILTIN_DICTIONARY_PATH,
)

SIZE = 16 * 1024
SAMPLES = 20_000
SEED = 20261206
# Common English words and programming tokens: what texts, tool arguments and outputs are
# mostly made of, without anybody's text.
_WORD_TEXT = (
    "the of and to in is you that it he was for on are as with his they at be this have from "
    "or one had by word but not what all were we when your can said there use an each which "
    "she do how their if will up other about out many then them these so some her would make "
    "like him into time has look two more write go see number no way could people my than "
    "first water been call who oil its now find long down day did get come made may part "
    "please thanks help need want check order flight booking user account file line error "
    "test value result return function class import def self none true false data list item "
    "name type id status request response message tool call query search update create delete "
    "get set add remove path config server client agent memory context state version task"
)
WORDS = _WORD_TEXT.split()
CODE = ("def ", "return ", "import ", "class ", "if ", "else:", "for ", " in ", "self.",
        "None", "True", "False", "()", "[]", "{}", " = ", " == ", "\n    ", "\n", "# ", "    ")
ROLES = ("user", "assistant", "system", "tool")
KINDS = ("short_term", "long_term", "episodic", "semantic")


class Rows:
    """Synthetic rows in the store's layouts (seeded: the same every run)."""

    def __init__(self, seed: int = SEED):
        self.rnd = random.Random(seed)

    def words(self, n: int) -> str:
        return " ".join(self.rnd.choice(WORDS) for _ in range(n))

    def text(self) -> str:
        r = self.rnd
        if r.random() < 0.2:
            return "".join(r.choice(CODE) + r.choice(WORDS) for _ in range(r.randint(5, 60)))
        sentences = (self.words(r.randint(3, 16)).capitalize() + r.choice(".?!:")
                     for _ in range(r.randint(1, 8)))
        return (r.choice((" ", "\n", "\n\n"))).join(sentences)

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rnd.getrandbits(128)))

    def name(self) -> str:
        return f"{self.rnd.choice(WORDS)}-{self.rnd.randint(0, 999)}"

    def time(self) -> dict[str, str]:
        r = self.rnd
        return {"_type_": "datetime_iso",
                "_data_": f"20{r.randint(24, 29)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}T"
                          f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}."
                          f"{r.randint(0, 999_999):06d}+00:00"}

    def arguments(self) -> dict[str, Any]:
        r = self.rnd
        return {self.rnd.choice(WORDS): r.choice((self.words(r.randint(1, 6)), r.randint(0, 9999),
                                                  r.random() < 0.5, self.uid()))
                for _ in range(r.randint(0, 4))}

    def data(self, kind: str) -> dict[str, Any]:
        r = self.rnd
        makers: dict[str, Callable[[], dict[str, Any]]] = {
            "message": lambda: {"role": r.choice(ROLES), "content": self.text(),
                                **({"message_id": f"message-{r.randint(0, 999)}"}
                                   if r.random() < 0.5 else {}),
                                **({"tokens": r.randint(1, 4000)} if r.random() < 0.3 else {})},
            "reasoning": lambda: {"thread_id": self.name(), "content": self.text(),
                                  "step": r.randint(0, 60)},
            "tool_call": lambda: {"call_id": r.choice((f"call_{self.uid()[:24]}", self.name())),
                                  "tool": r.choice(WORDS) + "_" + r.choice(WORDS),
                                  "arguments": self.arguments()},
            "tool_result": lambda: {"call_id": r.choice((f"call_{self.uid()[:24]}", self.name())),
                                    "output": r.choice((self.text(), self.arguments())),
                                    "is_error": r.random() < 0.1,
                                    **({"duration_ms": round(r.random() * 900, 3)}
                                       if r.random() < 0.3 else {})},
            "memory_stored": lambda: {"memory_id": self.name(), "kind": r.choice(KINDS),
                                      "content": self.text(),
                                      "metadata": {"label": r.choice(WORDS),
                                                   "limit": r.randint(100, 9999)}},
            "memory_updated": lambda: {"memory_id": self.name(), "content": self.text()},
            "memory_linked": lambda: {"source_id": self.name(), "target_id": self.name(),
                                      "relation": r.choice(WORDS)},
            "mcp_state": lambda: {"server": self.name(),
                                  "state": {"id": self.name(), "server_type": "streamable_http",
                                            "server_name": self.name(),
                                            "server_url": f"https://{r.choice(WORDS)}.example/mcp",
                                            "stdio_config": None, "metadata_": {}}},
        }
        return makers[kind]()

    def event(self) -> bytes:
        """A Recorded event's stored JSON (infrastructure.persistence.fast_encode's layout)."""
        r = self.rnd
        kind = r.choices(("message", "tool_call", "tool_result", "reasoning", "memory_stored",
                          "memory_updated", "memory_linked", "mcp_state"),
                         weights=(60, 15, 15, 5, 3, 1, 1, 0.5))[0]
        return json.dumps({"timestamp": self.time(), "agent_id": self.name(),
                           "event_id": self.uid(), "type": kind, "data": self.data(kind),
                           "session_id": r.choice((None, self.name()))},
                          separators=(",", ":"), ensure_ascii=False).encode()

    def snapshot(self) -> bytes:
        """An agent snapshot row whose content is kept as parts (a root's address)."""
        root = uuid.UUID(int=self.rnd.getrandbits(128)).hex * 2
        return json.dumps({
            "timestamp": self.time(), "topic": "ctxstore.domain.aggregate:AgentContext",
            "state": {"_created_on": self.time(), "_modified_on": self.time(),
                      "agent_id": self.name(), "sessions": [],
                      "content_ref": {"tenant": "local", "root": root},
                      "_open_calls": {"root": root, "open": [0, []]}},
            "chain_head": uuid.UUID(int=self.rnd.getrandbits(128)).hex * 2,
        }, separators=(",", ":")).encode()

    def page(self) -> bytes:
        """A part: a page of items as canonical JSON (keys sorted)."""
        kind = self.rnd.choice(("message", "tool_call", "reasoning"))
        items = [self.data(kind) for _ in range(self.rnd.randint(1, 8))]
        return json.dumps(items, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode()

    def sample(self) -> bytes:
        pick = self.rnd.random()
        return self.event() if pick < 0.85 else self.snapshot() if pick < 0.93 else self.page()


def make() -> bytes:
    rows = Rows()
    samples = [rows.sample() for _ in range(SAMPLES)]
    return zstandard.train_dictionary(SIZE, samples, k=1024, d=8, dict_id=BUILTIN_DICTIONARY_ID,
                                      level=3, threads=1).as_bytes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="only say whether the committed file is what this script makes")
    args = parser.parse_args()
    made = make()
    if args.check:
        same = BUILTIN_DICTIONARY_PATH.read_bytes() == made
        print("the committed dictionary is this script's" if same else
              "the committed dictionary differs from what this script makes now")
        raise SystemExit(0 if same else 1)
    BUILTIN_DICTIONARY_PATH.write_bytes(made)
    print(f"wrote {BUILTIN_DICTIONARY_PATH.relative_to(REPO)}: {len(made)} bytes, "
          f"dictionary id {BUILTIN_DICTIONARY_ID}")


if __name__ == "__main__":
    main()
