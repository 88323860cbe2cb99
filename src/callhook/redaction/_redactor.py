"""``Redactor``: an event's body in, the same body with personal data removed out.

The caller's number (``call.userNumber``, ``call.customer.number``, ``customer.number``) is
replaced by a keyed hash or a mask (``NumberMode``). Free text (each message's ``text``, the
text of skipped assistant messages, the ``analysis`` objects, the call's dynamic variables
and metadata) is scrubbed of payment card numbers (Luhn-checked), US social security numbers,
e-mail addresses and phone numbers, by presidio's pattern recognizers (no language model:
they run with ``nlp_artifacts=None``) and ``phonenumbers``; each finding becomes
``<ENTITY_TYPE>``. Everything else in the body is kept as it was.

The result is deterministic, so a re-delivered event is still recognised as one. A body that
is not a JSON object is returned unchanged: the ingest's validation rejects it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import OrderedDict
from typing import Any

import msgspec

from callhook.redaction._config import ENTITIES, NumberMode, RedactionConfig

__all__ = ["Redactor"]

_DECODE = msgspec.json.Decoder()
_ENCODE = msgspec.json.Encoder()
_HASHED = re.compile(r"hmac:[0-9a-f]{24}")
_LETTER_OR_DIGIT = re.compile(r"[^\W_]")
#: Text without a digit or an ``@`` holds none of the entities: skipped without analysis.
_MAY_HOLD = re.compile(r"[0-9@]")
_CACHE = 20_000
#: Keys of the call object whose values are free text, scrubbed throughout.
_CALL_TEXT = ("analysis", "assistantOverrides", "metadata")


def _missing_extra() -> ImportError:
    return ImportError(
        "Redaction of transcript text needs presidio and phonenumbers: "
        "pip install 'callhook[redaction]'"
    )


class Redactor:
    """Redacts event bodies as ``config`` says; build one and reuse it (it caches results).

    Raises ``ImportError`` naming the extra to install when presidio is missing.
    """

    def __init__(self, config: RedactionConfig) -> None:
        config.check()
        try:
            import phonenumbers
            from presidio_analyzer.predefined_recognizers import (
                CreditCardRecognizer,
                EmailRecognizer,
                PhoneRecognizer,
                UsSsnRecognizer,
            )
            from presidio_anonymizer import AnonymizerEngine
            from presidio_anonymizer.entities import OperatorConfig
        except ImportError:
            raise _missing_extra() from None
        self.config = config
        self._key = config.key.encode()
        self._phonenumbers = phonenumbers
        self._recognizers = [
            CreditCardRecognizer(),
            UsSsnRecognizer(),
            _offline_email_recognizer(EmailRecognizer),
            PhoneRecognizer(supported_regions=config.regions),
        ]
        self._anonymizer = AnonymizerEngine()  # type: ignore[no-untyped-call]  # untyped __init__
        self._operators = {"DEFAULT": OperatorConfig("replace")}
        self._texts: OrderedDict[str, str] = OrderedDict()

    # -- one value ---------------------------------------------------------------------------

    def number(self, value: str) -> str:
        """The stored form of a caller's number."""
        if self.config.numbers is NumberMode.MASK:
            return _mask(value)
        if _HASHED.fullmatch(value):
            return value
        digest = hmac.new(self._key, self.normalize(value).encode(), hashlib.sha256)
        return "hmac:" + digest.hexdigest()[:24]

    def stored_forms(self, value: str) -> list[str]:
        """Every form in which a caller's number ``value`` may be stored: as given, in E.164,
        and (when numbers are hashed) hashed. A masked number cannot be told from others."""
        forms = [value, self.normalize(value)]
        if self.config.numbers is NumberMode.HASH:
            forms.append(self.number(value))
        return sorted(set(forms))

    def normalize(self, value: str) -> str:
        """A phone number in E.164 (``+14155550172``) when it parses as one, else as given."""
        pn = self._phonenumbers
        for region in (None, *self.config.regions):
            try:
                parsed = pn.parse(value, region)
            except pn.NumberParseException:
                continue
            if pn.is_possible_number(parsed):
                return str(pn.format_number(parsed, pn.PhoneNumberFormat.E164))
        return value.strip()

    def text(self, value: str) -> str:
        """``value`` with every entity found replaced by ``<ENTITY_TYPE>``."""
        if not self.config.text or not _MAY_HOLD.search(value):
            return value
        cached = self._texts.get(value)
        if cached is not None:
            self._texts.move_to_end(value)
            return cached
        found = [
            result
            for recognizer in self._recognizers
            for result in recognizer.analyze(value, list(ENTITIES), None)
        ]
        scrubbed = (
            self._anonymizer.anonymize(value, found, self._operators).text if found else value
        )
        self._texts[value] = scrubbed
        if len(self._texts) > _CACHE:
            self._texts.popitem(last=False)
        return scrubbed

    # -- an event ----------------------------------------------------------------------------

    def body(self, data: bytes) -> bytes:
        """The event ``data`` (request body bytes) with its personal data redacted."""
        try:
            tree = _DECODE.decode(data)
        except (msgspec.DecodeError, RecursionError):
            return data
        message = tree.get("message") if isinstance(tree, dict) else None
        if not isinstance(message, dict):
            return data
        self.message(message)
        return _ENCODE.encode(tree)

    def message(self, message: dict[str, Any]) -> None:  # Any: a decoded JSON object
        """Redact, in place, the decoded ``message`` object of an event."""
        call = message.get("call")
        if isinstance(call, dict):
            self._numbers(call, "userNumber")
            customer = call.get("customer")
            if isinstance(customer, dict):
                self._numbers(customer, "number")
            for key in _CALL_TEXT:
                if key in call:
                    call[key] = self._deep(call[key])
        customer = message.get("customer")
        if isinstance(customer, dict):
            self._numbers(customer, "number")
        for item in _dicts(message.get("messages")):
            self._texts_of(item, "text")
            for skipped in _dicts(item.get("skippedAssistantMessages")):
                self._texts_of(skipped, "text", "playedText")
        if "analysis" in message:
            message["analysis"] = self._deep(message["analysis"])

    def _numbers(self, holder: dict[str, Any], key: str) -> None:  # Any: JSON values
        value = holder.get(key)
        if isinstance(value, str) and value:
            holder[key] = self.number(value)

    def _texts_of(self, holder: dict[str, Any], *keys: str) -> None:  # Any: JSON values
        for key in keys:
            value = holder.get(key)
            if isinstance(value, str):
                holder[key] = self.text(value)

    def _deep(self, value: Any) -> Any:  # Any: any JSON value
        """Every string inside ``value`` scrubbed (keys kept), without recursion."""
        if isinstance(value, str):
            return self.text(value)
        stack = [value]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                keys: Any = list(node)
            elif isinstance(node, list):
                keys = range(len(node))
            else:
                continue
            for key in keys:
                child = node[key]
                if isinstance(child, str):
                    node[key] = self.text(child)
                elif isinstance(child, dict | list):
                    stack.append(child)
        return value


def _dicts(value: object) -> list[dict[str, Any]]:  # Any: JSON values
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _mask(value: str) -> str:
    digits = sum(c.isdigit() for c in value)
    keep = 4 if digits > 4 else 0
    out = []
    seen = 0
    for char in value:
        if char.isdigit():
            seen += 1
            out.append(char if seen > digits - keep else "*")
        elif _LETTER_OR_DIGIT.match(char):
            out.append("*")
        else:
            out.append(char)
    return "".join(out)


def _offline_email_recognizer(base: type[Any]) -> Any:  # Any: presidio's untyped classes
    """presidio's e-mail recognizer, validating domains against tldextract's bundled public
    suffix list instead of fetching the current one over the network on first use."""
    import tldextract

    extract = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=())

    class OfflineEmailRecognizer(base):  # type: ignore[misc]
        def validate_result(self, pattern_text: str) -> bool:
            return bool(extract(pattern_text).fqdn)

    return OfflineEmailRecognizer()
