"""Large models keep freed memory for reuse; small ones leave the allocator alone."""

import sys

import pytest

from sim import memory


def test_small_models_leave_the_allocator_alone(monkeypatch):
    monkeypatch.setattr(memory, "_applied", False)
    assert memory.keep_freed_memory(memory.LARGE_ROWS - 1) is False
    assert memory._applied is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_large_models_keep_freed_memory_once(monkeypatch):
    monkeypatch.setattr(memory, "_applied", False)
    assert memory.keep_freed_memory(memory.LARGE_ROWS) is True
    assert memory.keep_freed_memory(10) is True  # per process: stays in force
