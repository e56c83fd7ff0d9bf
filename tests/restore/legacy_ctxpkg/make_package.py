"""Makes `before_ratio_flip.ctxpkg`: a package exported by the release whose
`compression_ratio` was original ÷ compressed (main at 0e47313), from a real agent trace.

Kept to show how the fixture was made; it was run once with that release's code, from the
repository root: `python tests/restore/legacy_ctxpkg/make_package.py`. Re-running it with newer
code would write the newer ratio, which is not what the read-back test needs.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from ctxstore.infrastructure.bootstrap import bootstrap  # noqa: E402
from ctxstore.infrastructure.importers import load_trace  # noqa: E402
from ctxstore.infrastructure.samples import TRACES  # noqa: E402
from ctxstore.infrastructure.settings import Settings  # noqa: E402


def main() -> None:
    settings = Settings(storage_backend="sqlite", storage_path=Path(tempfile.mkdtemp()),
                        checkpoint_interval_minutes=0)
    services = bootstrap(settings)
    agent = load_trace(TRACES / "swe-agent" / "networking_1.traj")[0]
    result = services.store.record(agent.envelopes)
    assert not result.rejected, result.rejected
    checkpoint = services.checkpoints.capture(agent.agent_id, label="before ratio flip")
    (HERE / "before_ratio_flip.ctxpkg").write_bytes(
        services.packages.export(checkpoint.package_id))
    (HERE / "before_ratio_flip.json").write_text(json.dumps(checkpoint.to_dict(), indent=1))
    services.close()


if __name__ == "__main__":
    main()
