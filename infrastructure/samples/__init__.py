"""Real agent traces shipped inside the package, so `ctxstore demo` and `ctxstore import` have
something to read on a plain `pip install` (a folder beside the package would not be in the wheel).
Their sources and licences are in ``traces/README.md``."""

from pathlib import Path

TRACES = Path(__file__).resolve().parent / "traces"
