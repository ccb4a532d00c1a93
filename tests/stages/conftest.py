"""What the stage tests share: one thread for their tiny models."""

import pytest
import torch


@pytest.fixture
def one_thread(monkeypatch):
    """The stages ask for every core (stages._cli.use_all_cores); their tests keep one, as tests/conftest.py's
    one_thread does for the library's tests."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)
    yield
    monkeypatch.undo()
    torch.set_num_threads(before)
