"""Compressed JSON columns: ``messages.body`` and ``arrivals.body``.

A stored value is one codec byte and the payload: ``0x00`` plain JSON, ``0x01`` zlib with the
preset dictionary below. The dictionary holds the keys every message and call object of the
wire format repeats (SPEC §3), so a ~600-byte message shrinks to about a third. It must never
change: a different dictionary needs a new codec byte.
"""

from __future__ import annotations

import zlib

__all__ = ["pack", "unpack"]

_PLAIN = b"\x00"
_ZLIB_V1 = b"\x01"
_LEVEL = 6
_DICTIONARY_V1 = (
    b'{"type":"status-update","call":{"id":"","teamId":"","assistantId":"","callType":"web",'
    b'"direction":"inbound","startAt":"","endAt":"","userNumber":"","assistantNumber":"",'
    b'"status":"","phoneCallStatus":"in-progress","phoneCallStatusReason":"Call is in progress",'
    b'"callEndTriggerBy":"","assistantCallDuration":0,"analysis":{"summary":"",'
    b'"successEvaluation":""},"recording":{"s3Bucket":"","path":""},"assistantOverrides":'
    b'{"dynamicVariables":{},"variablesValidations":{}},"metadata":{}},"phone":{"provider":'
    b'{"name":""}},"customer":{"number":""},"hang":{"pendingMessageId":"","waitedMs":0,'
    b'"thresholdMs":5000,"stage":"llm"},"error":{"type":"llm_error","code":"","message":"",'
    b'"provider":"","retryable":false,"details":{}}}'
    b'{"messageId":"user-1","role":"user","text":"","timestamp":1772702480000,"metrics":'
    b'{"timeline":{"totalElapsedTimeMs":0,"offsetFromPreviousTurnMs":0},"audio":'
    b'{"totalAudioReceivedMs":0,"audioDelayPerTurnMs":0,"delayedPacketsPerTurnCount":0,'
    b'"delayedPacketsCumulativeCount":0,"lostPacketsCumulativeCount":0,'
    b'"audioDelayCumulativeMs":0},"stt":{"timestampMs":0,"startOffsetMs":0,"endOffsetMs":0,'
    b'"durationMs":0,"vadMs":0,"relativeLatencyMs":0,"confidence":0.9},"interactlyEOU":'
    b'{"turnDetectionTimeMs":0,"queueLatencyMs":0}},"skippedAssistantMessages":[]}'
    b'{"messageId":"user-1-","role":"assistant","text":"","timestamp":1772702480000,"metrics":'
    b'{"timeline":{"totalElapsedTimeMs":0},"llm":{"timestampMs":0,"responseLatencyMs":0,'
    b'"queueLatencyMs":0},"tts":{"audioDurationMs":0,"generationTimeMs":0,"queueLatencyMs":0,'
    b'"isCachePlaying":false},"interactlyPlayer":{"waitTimeMs":0},"hang":{"waitedMs":0}}}'
)


def pack(data: bytes) -> bytes:
    """Compress ``data`` (JSON) for storage; short values are kept plain."""
    if len(data) < 64:
        return _PLAIN + data
    compressor = zlib.compressobj(_LEVEL, zdict=_DICTIONARY_V1)
    packed = compressor.compress(data) + compressor.flush()
    return _ZLIB_V1 + packed if len(packed) < len(data) else _PLAIN + data


def unpack(blob: bytes | memoryview) -> bytes:
    """The JSON bytes of a value written by ``pack``."""
    data = bytes(blob)
    codec, payload = data[:1], data[1:]
    if codec == _ZLIB_V1:
        decompressor = zlib.decompressobj(zdict=_DICTIONARY_V1)
        return decompressor.decompress(payload) + decompressor.flush()
    if codec == _PLAIN:
        return payload
    raise ValueError(f"unknown stored codec {codec!r}")
