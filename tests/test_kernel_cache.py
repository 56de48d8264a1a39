"""Cached compiled passes are dropped when any engine source changes (numba itself only
watches the file a pass is defined in)."""

from sim.kernel_cache import PACKAGES, cache_dirs_of, clear_stale_kernels


def _tree(tmp_path):
    for package in PACKAGES:
        (tmp_path / package / "__pycache__").mkdir(parents=True)
        (tmp_path / package / "mod.py").write_text(f"# {package}\n")
    return tmp_path


def _cache(root, package="agents"):
    cached = root / package / "__pycache__" / "mod._pass-10.py312.nbi"
    cached.write_bytes(b"index")
    return cached


def test_cached_passes_survive_while_sources_are_unchanged(tmp_path, monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    root = _tree(tmp_path)
    clear_stale_kernels(root)
    cached = _cache(root)
    assert clear_stale_kernels(root) is False
    assert cached.exists()


def test_a_changed_helper_in_another_file_clears_every_cached_pass(tmp_path, monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    root = _tree(tmp_path)
    clear_stale_kernels(root)
    in_agents, in_policies = _cache(root, "agents"), _cache(root, "policies")
    (root / "sim" / "mod.py").write_text("# sim, with a changed draw\n")
    assert clear_stale_kernels(root) is True
    assert not in_agents.exists() and not in_policies.exists()
    assert (root / "sim" / "mod.py").exists()  # sources are never touched
    assert clear_stale_kernels(root) is False  # the new fingerprint is kept


def test_a_user_cache_directory_is_cleared_too(tmp_path, monkeypatch):
    root = _tree(tmp_path / "src")
    user = tmp_path / "numba-cache"
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(user))
    mirrored = cache_dirs_of(root / "sim")[-1]  # numba's folder for that sim/ under NUMBA_CACHE_DIR
    assert mirrored.parent == user
    mirrored.mkdir(parents=True)
    clear_stale_kernels(root)
    cached = mirrored / "streams.u01-60.py312.nbc"
    cached.write_bytes(b"code")
    (root / "policies" / "mod.py").write_text("# policies, changed\n")
    assert clear_stale_kernels(root) is True
    assert not cached.exists()
