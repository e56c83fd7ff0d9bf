"""What rotating the store key costs: the time of the rotation's transaction
(persistence.key_rotation.rotate: every data key unwrapped and wrapped again, the dictionaries
and parts encrypted again) for a store of M agents with a data key each and a checkpoint each,
on SQLite and PostgreSQL; the projections' rebuild, which `ctxstore rotate-key` runs after, is
`ctxstore project --rebuild`'s and is not in it.

    python bench/rotate_key.py                # 2,000 agents x 5 events
    python bench/rotate_key.py --agents 200

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from eventsourcing.cipher import AESCipher  # noqa: E402

from bench.common import on_both_backends  # noqa: E402
from ctxstore.domain.events import make_envelope  # noqa: E402
from ctxstore.infrastructure.bootstrap import bootstrap  # noqa: E402
from ctxstore.infrastructure.persistence.erasure import SQLErasure  # noqa: E402
from ctxstore.infrastructure.persistence.key_rotation import rotate  # noqa: E402
from ctxstore.infrastructure.settings import Settings  # noqa: E402


def run(settings: Settings, agents: int, events: int) -> dict[str, Any]:
    assert settings.encryption_key is not None
    services = bootstrap(settings)
    try:
        batch = []
        for a in range(agents):
            batch += [make_envelope(f"agent-{a}", "message",
                                    {"role": "user", "content": f"message {i} of agent {a}"},
                                    event_id=str(uuid.uuid4())) for i in range(events)]
            if len(batch) >= 1000 or a == agents - 1:
                services.store.record(batch)
                batch = []
        for a in range(0, agents, 10):  # some checkpoints: package rows under data keys
            services.checkpoints.capture(f"agent-{a}")
        recorder = services.store.recorder
        assert isinstance(recorder, SQLErasure)
        started = time.perf_counter()
        done = rotate(recorder, settings.encryption_key.get_secret_value(),
                      AESCipher.create_key(32))
        seconds = time.perf_counter() - started
    finally:
        services.close()
    return {"agents": agents, "events_per_agent": events, "rotate_ms": round(seconds * 1e3, 1),
            "data_keys": done.data_keys, "parts": done.parts,
            "data_keys_per_s": round(done.data_keys / seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", type=int, default=2000)
    parser.add_argument("--events", type=int, default=5)
    args = parser.parse_args()
    key = AESCipher.create_key(32)
    out = on_both_backends(lambda settings: run(settings, args.agents, args.events),
                           "bench_rotate", encryption_enabled=True, encryption_key=key)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
