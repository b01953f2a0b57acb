"""What a patient's reply means: stop, confirm, call me back, or just words for staff.

Pure text rules in the four languages, without case or diacritics ("ĐỪNG NHẮN NỮA" is
"dung nhan nua"). A one-word confirmation must be the whole reply ("C", "Có", "Sí!",
"确认"); a stop or call-back request may sit inside a sentence ("please stop texting me").
Stopping wins over everything else: a message that says both is a stop. "CANCEL" stops
only as the whole reply (as carriers read it): "I need to cancel my appointment" is a
reply for staff.

The lists below may be written with or without diacritics: each entry is folded by the
same `normalize` as the replies, once, when the module loads.
"""

from __future__ import annotations

import re

from chairtime.core.text import fold
from chairtime.messaging.choices import InboundKind

# ASCII and Spanish punctuation, and the CJK full-width marks (U+3002, U+FF0C …).
_PUNCTUATION = re.compile(
    "[\\s.,!?¡¿;:'\"()\\[\\]\\-_~\u3002\uff0c\uff01\uff1f\u3001\uff1b\uff1a\u201c\u201d]+"
)

# Whole-message keywords (folded, punctuation removed).
_STOP_WORDS = (
    "stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "opt out", "revoke",
    "please stop",
    "huy dang ky", "tu choi", "ngung", "ngung lai", "dung lai",  # Vietnamese ("dung" alone is also "đúng", right)
    "td", "退订", "退訂", "取消订阅", "停止",  # Chinese ("回复TD退订")
    "baja", "alto", "parar", "cancelar suscripción",  # Spanish
)  # fmt: skip
# Phrases that mean "stop" anywhere in a longer text.
_STOP_PHRASES = (
    "please stop", "stop texting", "stop messaging", "stop sending", "dont text", "don t text", "do not text",
    "dont message", "do not message", "dont contact", "do not contact", "unsubscribe",
    "đừng nhắn", "đừng gửi", "không nhắn tin", "ngừng nhắn", "ngừng gửi", "không muốn nhận",
    "退订", "退訂", "不要再发", "别再发", "不要再給", "不要发短信", "取消订阅",
    "no me escriban", "no me escribas", "no me envíen", "no me envíes", "dejen de escribir",
    "dejen de enviar", "darme de baja", "dar de baja", "no quiero recibir",
)  # fmt: skip
_CONFIRM_WORDS = (
    "c", "y", "yes", "ok", "okay", "confirm", "confirmed", "yes please",
    "co", "vang", "da", "dong y", "xac nhan", "ok em", "co a",  # Vietnamese
    "确认", "確認", "是", "好", "好的", "可以",  # Chinese
    "si", "confirmo", "confirmado", "vale", "de acuerdo",  # Spanish
)  # fmt: skip
_CALLBACK_PHRASES = (
    "call me", "callback", "call back", "please call", "ring me", "give me a call",
    "goi lai", "goi cho toi", "goi cho em", "goi dien", "lien lac lai",
    "回电", "回電", "给我打电话", "打电话给我", "请致电",
    "llamame", "llamenme", "llamar", "me llamen", "me llamas", "devolver la llamada",
)  # fmt: skip


def normalize(text: str) -> str:
    """Folded (no case, no diacritics), punctuation as single spaces."""
    return " ".join(_PUNCTUATION.sub(" ", fold(text)).split())


STOP_WORDS = frozenset(normalize(word) for word in _STOP_WORDS)
STOP_PHRASES = tuple(normalize(phrase) for phrase in _STOP_PHRASES)
CONFIRM_WORDS = frozenset(normalize(word) for word in _CONFIRM_WORDS)
CALLBACK_PHRASES = tuple(normalize(phrase) for phrase in _CALLBACK_PHRASES)


def classify_reply(text: str, *, is_reply: bool) -> str:
    """The kind of an inbound message; `is_reply`: it answers a message of ours."""
    folded = normalize(text)
    squeezed = folded.replace(" ", "")
    if folded in STOP_WORDS or squeezed in STOP_WORDS or any(p in folded for p in STOP_PHRASES):
        return InboundKind.OPT_OUT
    if folded in CONFIRM_WORDS or squeezed in CONFIRM_WORDS:
        return InboundKind.CONFIRMATION
    if any(phrase in folded for phrase in CALLBACK_PHRASES):
        return InboundKind.CALLBACK_REQUEST
    return InboundKind.REPLY if is_reply else InboundKind.OTHER
