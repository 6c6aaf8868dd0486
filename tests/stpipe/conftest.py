"""Fixtures of the framework tests: a minimal stand-in data model.

The framework only needs a model's ``meta`` tree, ``save(path)`` and
``copy()``; ``FakeModel`` provides exactly that (stored as JSON), so these
tests exercise the framework on its own.  ``test_models.py`` repeats the
key checks with real photoncal data models.
"""

from __future__ import annotations

import json
import os

import pytest


class Meta:
    """An attribute tree that creates missing nodes, like a schema tree."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        node = Meta()
        object.__setattr__(self, name, node)
        return node

    def to_dict(self):
        out = {}
        for key, value in vars(self).items():
            if isinstance(value, Meta):
                value = value.to_dict()
                if not value:
                    continue
            out[key] = value
        return out

    @classmethod
    def from_dict(cls, tree):
        node = cls()
        for key, value in tree.items():
            object.__setattr__(node, key, cls.from_dict(value) if isinstance(value, dict) else value)
        return node


class FakeModel:
    """A data model stand-in: ``meta``, a list ``data``, ``save`` and ``copy``."""

    def __init__(self, filename=None, data=None, **meta):
        self.meta = Meta.from_dict(meta)
        self.meta.filename = filename
        self.data = list(data or [0.0])
        self.saved_to = []

    def save(self, path):
        tmp = path + ".tmp"
        with open(tmp, "w") as handle:
            json.dump({"meta": self.meta.to_dict(), "data": self.data}, handle)
        os.replace(tmp, path)
        self.saved_to.append(path)
        return path

    def copy(self):
        return FakeModel.from_tree({"meta": self.meta.to_dict(), "data": self.data})

    @classmethod
    def from_tree(cls, tree):
        model = cls()
        model.meta = Meta.from_dict(tree["meta"])
        model.data = list(tree["data"])
        return model

    @classmethod
    def read(cls, path):
        with open(path) as handle:
            return cls.from_tree(json.load(handle))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.fixture
def fake_model():
    """The FakeModel class."""
    return FakeModel


@pytest.fixture
def fake_datamodels(monkeypatch):
    """Make ``photoncal.datamodels.open`` read FakeModel files (and pass
    models through), so steps' ``open_model`` works without real models."""
    import photoncal.datamodels as datamodels

    def fake_open(init, **kwargs):
        if isinstance(init, FakeModel):
            return init
        return FakeModel.read(os.fspath(init))

    monkeypatch.setattr(datamodels, "open", fake_open, raising=False)
    return FakeModel


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch, tmp_path_factory):
    """No user reference directory, CRDS or cache leaks into a test."""
    for name in ("PHOTONCAL_REFDIR", "CRDS_SERVER_URL", "CRDS_PATH", "CRDS_CONTEXT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PHOTONCAL_CACHE", str(tmp_path_factory.mktemp("cache")))
