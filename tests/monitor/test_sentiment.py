"""VADER sentiment: imports cleanly under ``filterwarnings = error``, scores user messages."""

from __future__ import annotations

import importlib

from callhook.monitor import MonitorConfig, MonitorCore, SentimentScorer

from .calls import T0_MS, bot, conv, user


def test_vader_imports_without_warnings() -> None:
    module = importlib.import_module("vaderSentiment.vaderSentiment")
    assert module.SentimentIntensityAnalyzer().polarity_scores("good")["compound"] > 0


def test_scores_are_compound_in_minus_one_to_one() -> None:
    scorer = SentimentScorer()
    assert scorer.score("I love this, it is wonderful!") > 0.5
    assert scorer.score("This is awful and I am angry.") < -0.5
    assert scorer.score("The appointment is on Tuesday.") == 0.0
    assert scorer.score("   ") == 0.0


def test_only_new_user_messages_are_scored_once_each() -> None:
    core = MonitorCore(MonitorConfig())
    u1, u2 = user(1, "Great, thanks!", T0_MS + 10), user(2, "No, that is wrong.", T0_MS + 20)
    core.process(conv("c", [u1]), 1.0)
    core.process(conv("c", [u1, bot(1, "Happy to help", T0_MS + 15), u2]), 2.0)
    core.process(conv("c", [u1]), 3.0)  # an old event arriving late changes nothing
    points = core.calls["c"].sentiment
    assert [p.message_id for p in points] == ["user-1", "user-2"]
    assert points[0].compound > 0 > points[1].compound
    assert points[0].timestamp_ms == T0_MS + 10


def test_sentiment_can_be_turned_off() -> None:
    core = MonitorCore(MonitorConfig(sentiment=False))
    core.process(conv("c", [user(1, "Great!", T0_MS)]), 1.0)
    assert core.calls["c"].sentiment == []
