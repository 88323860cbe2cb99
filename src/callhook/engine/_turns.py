"""The user's side of a call: the welcome, finalised user turns, barge-in, end-call phrases."""

from __future__ import annotations

import re
from typing import Any

from callhook._exceptions import EngineError
from callhook.engine._config import EndTrigger
from callhook.engine._core import played_text
from callhook.engine._ledger import BotTurnRecord
from callhook.engine._lifecycle import Lifecycle
from callhook.engine._messages import AudioHealth, merge, user_turn
from callhook.events import (
    AudioMetrics,
    EouMetrics,
    LlmMetrics,
    SkippedMessage,
    SttMetrics,
    TtsMetrics,
    user_message_id,
    welcome_message_id,
)

__all__ = ["Turns"]

_NOT_WORD = re.compile(r"[^\w\s']+")


def _words(text: str) -> str:
    return " ".join(_NOT_WORD.sub(" ", text.lower()).split())


class Turns(Lifecycle):
    """The session layer of what the user says and hears."""

    def welcome_played(
        self,
        *,
        tts: TtsMetrics | None = None,
        played_ms: float | None = None,
        player_wait_ms: float = 0,
    ) -> str:
        """The welcome message started playing; returns its messageId (``welcome-1``).

        ``played_ms`` is how long it played (default: ``tts.audioDurationMs``).
        """
        self._require_live()
        if self._welcomed:
            raise EngineError("the welcome message was already played", call_id=self.call_id)
        if not self.speaks_first and self._users == 0:
            raise EngineError(
                "this assistant waits for the user (welcomeMessageMode "
                f"{self.assistant.welcome_message_mode!r}); no welcome before the first user turn",
                call_id=self.call_id,
            )
        self._welcomed = True
        now = self._scheduler.now_ms()
        tts = merge(tts or TtsMetrics(), queue_latency_ms=0, generation_time_ms=0)
        tts = merge(tts, audio_duration_ms=round(played_ms or 0), is_cache_playing=False)
        audio_ms = float(tts.audio_duration_ms or 0)
        message_id = welcome_message_id(1)
        self._append_assistant_message(
            message_id,
            self.welcome_message,
            now,
            tts,
            LlmMetrics(),
            player_wait_ms,
            hang_waited=None,
        )
        start = self._elapsed(now)
        end = start + (played_ms if played_ms is not None else audio_ms)
        self.ledger.bot_turns.append(BotTurnRecord(start, end, audio_ms, message_id))
        self._tts_record(tts, self.welcome_message)
        return message_id

    def user_turn_finalised(
        self,
        text: str,
        *,
        stt: SttMetrics | None = None,
        audio: AudioMetrics | None = None,
        eou: EouMetrics | None = None,
        speech_started_at: float | None = None,
        speech_ended_at: float | None = None,
        eou_probability: float | None = None,
    ) -> str:
        """Speech-to-text finalised a user message; returns its messageId (``user-<n>``).

        Times are epoch ms. The hang timer for this turn starts now. With barge-in disabled,
        a turn spoken over an unfinished response waits until that response has finished.
        """
        self._require_live()
        self._users += 1
        message_id = user_message_id(self._users)
        kwargs: dict[str, Any] = {  # Any: the keyword arguments above
            "text": text,
            "stt": stt,
            "audio": audio,
            "eou": eou,
            "speech_started_at": speech_started_at,
            "speech_ended_at": speech_ended_at,
            "eou_probability": eou_probability,
        }
        if self._response is not None and not self.barge_in_enabled:
            self._deferred.append((message_id, kwargs))
            return message_id
        self._accept_user_turn(message_id, **kwargs)
        return message_id

    def _accept_user_turn(self, message_id: str, **kwargs: Any) -> None:  # Any: see above
        now = self._scheduler.now_ms()
        if self._response is not None:  # spoken over a response: an implicit barge-in
            self._barge_in(now)
        start = self._answered_at if self._answered_at is not None else self._created_at
        chunks = self.ledger.delayed_chunks
        fresh = chunks[self._chunks_seen :]
        self._chunks_seen = len(chunks)
        health = AudioHealth(
            delayed_in_turn=len(fresh),
            delayed_total=len(chunks),
            delay_in_turn_ms=sum(latency for _, latency in fresh),
            delay_total_ms=sum(latency for _, latency in chunks),
            lost_total=self.ledger.dropped_chunks,
        )
        message, record = user_turn(
            message_id,
            now=now,
            call_start=start,
            previous=self._history.last_timestamp,
            health=health,
            skipped=self._skipped,
            **kwargs,
        )
        self._skipped = []
        self._history.append(message)
        self.ledger.user_turns.append(record)
        self._emit_conversation(now)
        self._start_hang(message_id, now)
        if self._matches_end_phrase(kwargs["text"]):
            self._ending = True
            if not self.end_call_message:
                self.ended(EndTrigger.BOT)

    def _matches_end_phrase(self, text: str) -> bool:
        phrases = self.assistant.end_call_phrases
        if not isinstance(phrases, list) or not phrases:
            return False
        said = f" {_words(text)} "
        return any(f" {_words(p)} " in said for p in phrases if _words(p))

    # -- barge-in ----------------------------------------------------------------------------

    def user_barged_in(self, *, heard_text: str | None = None) -> bool:
        """The user started speaking over a response that is pending or playing.

        With barge-in enabled the response stops: it becomes a skipped message on the next
        user message. ``heard_text`` is what the user heard when the platform knows it (the
        text its audio output released before the interruption); by default it is the share
        of the text the played audio covers, cut at a word. Returns False (nothing happens)
        when barge-in is disabled or no response is in flight.
        """
        self._require_live()
        if self._response is None or not self.barge_in_enabled:
            return False
        self._barge_in(self._scheduler.now_ms(), heard_text)
        return True

    def _barge_in(self, now: float, heard_text: str | None = None) -> None:
        response = self._response
        assert response is not None
        self._response = None
        # The hang timer keeps running (SPEC §2: only a response starting to play cancels it);
        # a response cut off before it played leaves the user turn to be answered again.
        if response.audio_at is None and self._pending is not None:
            self._pending.responding = False
        self.ledger.barge_ins += 1
        played_ms = 0.0
        if response.audio_at is None:
            self.ledger.skipped_responses += 1
        else:
            played_ms = now - response.audio_at
            self.ledger.barge_in_after_ms.append(played_ms)
            self.ledger.bot_turns.append(
                BotTurnRecord(
                    self._elapsed(response.audio_at),
                    self._elapsed(now),
                    response.audio_ms,
                    response.user_message_id,
                    interrupted=True,
                    stop_reason="barge-in",
                )
            )
        self._skipped.append(
            SkippedMessage(
                message_id=response.message_id,
                text=response.text,
                timestamp=round(response.audio_at or response.started_at),
                played_text=heard_text
                if heard_text is not None
                else played_text(response.text, played_ms, response.audio_ms),
                played_ms=round(played_ms),
            )
        )

    def _release_deferred(self) -> None:
        """Accept the user turns that waited for a response to finish (barge-in disabled)."""
        deferred, self._deferred = self._deferred, []
        for message_id, kwargs in deferred:
            self._accept_user_turn(message_id, **kwargs)
