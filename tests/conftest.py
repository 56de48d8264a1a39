import sys
from pathlib import Path

# Let the tests run from a plain checkout, without `pip install -e .`.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def pytest_sessionstart(session):
    """On a cold cache (a fresh clone, or after the engine changed) compile the engine's
    passes on every core first, as `povsim run` does: the tests then load them instead of
    compiling them one by one on one core as they first call them."""
    from sim.precompile import ensure_compiled

    ensure_compiled(say=lambda line: print(f"\n{line}", file=sys.stderr, flush=True))
