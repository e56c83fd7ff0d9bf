"""`python -m ctxstore`: the same CLI as the `ctxstore` script (for workers a process spawns
with its own interpreter, where the script may not be on PATH)."""

from ctxstore.infrastructure.cli.main import app

if __name__ == "__main__":  # importing it (pkgutil.walk_packages, tests) runs nothing
    app()
