"""The pull_delta timer also runs the WhatsApp webhooks' upkeep: a capture feed that fails must not stop it."""

from __future__ import annotations

import pytest

import function_app
from shared.pipeline.ports import FeedTransientError


class Recorder:
    def __init__(self):
        self.calls = []

    def pull(self):
        self.calls.append("pull")
        raise FeedTransientError("the capture feed is down")

    def whatsapp_upkeep(self):
        self.calls.append("whatsapp_upkeep")


def test_a_failing_pull_still_runs_the_webhooks_upkeep_and_the_run_still_fails(monkeypatch):
    recorder = Recorder()
    monkeypatch.setattr(function_app, "archiver", lambda: recorder)
    with pytest.raises(FeedTransientError):  # the host still sees the pull fail (retry, alert)
        function_app.pull_delta._function.get_user_function()(timer=None)
    assert recorder.calls == ["pull", "whatsapp_upkeep"]
