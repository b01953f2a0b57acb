"""Text folding for search: case, accents and Vietnamese diacritics ignored.

"Nguyễn Thị Ánh" and "nguyen thi anh" fold to the same key; Chinese characters are kept
as they are, so "王小明" still finds itself. Đ/đ is not a composed letter in Unicode
(it has no decomposition), so it is mapped by hand.
"""

from __future__ import annotations

import re
import unicodedata

_SPECIAL = str.maketrans({"đ": "d", "Đ": "d", "ø": "o", "Ø": "o", "ß": "ss", "ł": "l", "Ł": "l"})
_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Lower-case, strip combining marks, collapse white space."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_SPECIAL))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", stripped.casefold()).strip()


def digits(text: str) -> str:
    """Only the digits of a string (for phone-number search)."""
    return "".join(ch for ch in text if ch.isdigit())
