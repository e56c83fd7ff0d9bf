"""DESIGN §1's dependency rule, checked: import-linter's contracts in pyproject.toml.

Dependencies point inward only (infrastructure > projections > application > domain), the
domain imports no other layer, nothing installed imports the development launcher, and no
adapter imports the composition root (ctxstore/infrastructure/bootstrap.py), so no cycle runs
through it. The second test plants a wrong arrow in a copy of the packages and checks the same
command refuses it, naming the import: the check can fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("ctxstore", "devtools")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` over the packages under `root`, with the contracts of pyproject.toml."""
    command = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(root)}  # these packages, not the installed ones
    return subprocess.run([str(command), "--no-cache", "--config", str(root / "pyproject.toml")],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_the_layers_hold() -> None:
    proc = lint_imports(REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 kept, 0 broken" in proc.stdout


def test_a_wrong_arrow_is_refused(tmp_path: Path) -> None:
    for name in PACKAGES:
        shutil.copytree(REPO / name, tmp_path / name,
                        ignore=shutil.ignore_patterns("__pycache__", "static", "samples"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    assert lint_imports(tmp_path).returncode == 0  # the copy holds, as the repository does

    # the domain reaching for an adapter, an application module for the launcher, and a
    # door for the composition root
    package = tmp_path / "ctxstore"
    bounds = package / "domain" / "bounds.py"
    bounds.write_text(bounds.read_text() + "\nimport ctxstore.infrastructure.settings  # noqa\n")
    store = package / "application" / "store.py"
    store.write_text(store.read_text() + "\nimport devtools.services  # noqa\n")
    app = package / "infrastructure" / "http" / "app.py"
    app.write_text(app.read_text() + "\nimport ctxstore.infrastructure.bootstrap  # noqa\n")
    proc = lint_imports(tmp_path)
    assert proc.returncode != 0
    assert "0 kept, 4 broken" in proc.stdout, proc.stdout
    assert "ctxstore.domain.bounds -> ctxstore.infrastructure.settings" in proc.stdout
    assert "ctxstore.application.store -> devtools.services" in proc.stdout
    assert "ctxstore.infrastructure.http.app -> ctxstore.infrastructure.bootstrap" in proc.stdout


def test_the_cards_folders_hold_the_code_and_install_as_ctxstore() -> None:
    """DESIGN §1's top-level folders are where the code is; ctxstore/ links to them, so the
    repository imports what the wheel installs (tests/cli/test_plain_install.py builds it)."""
    for layer in ("domain", "application", "projections", "infrastructure"):
        folder = REPO / layer
        assert folder.is_dir() and not folder.is_symlink(), layer
        assert (folder / "__init__.py").is_file(), layer
        assert (REPO / "ctxstore" / layer).resolve() == folder.resolve(), layer
