from pathlib import Path

from photoncal import config


def test_cache_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("PHOTONCAL_CACHE", str(tmp_path / "c"))
    assert config.cache_dir() == tmp_path / "c"
    assert config.default_reference_dir() == tmp_path / "c" / "references"


def test_cache_dir_default(monkeypatch):
    monkeypatch.delenv("PHOTONCAL_CACHE", raising=False)
    assert config.cache_dir() == Path.home() / ".cache" / "photoncal"
