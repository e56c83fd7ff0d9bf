"""`python -m ctxstore`: the same CLI as the `ctxstore` script (for workers a process spawns
with its own interpreter, where the script may not be on PATH)."""

from ctxstore.infrastructure.cli.main import app

if __name__ == "__main__":  # importing the package's modules (pkgutil.walk_packages) runs nothing
    app()
