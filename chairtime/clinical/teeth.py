"""Teeth in FDI (ISO 3950) notation and tooth surfaces: the checks every plan item and
performed procedure goes through.

A tooth is two digits: the quadrant, then the tooth counted from the midline. Permanent
teeth are quadrants 1-4 with teeth 1-8 (11-18, 21-28, 31-38, 41-48); primary teeth are
quadrants 5-8 with teeth 1-5 (51-55, 61-65, 71-75, 81-85).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.utils.translation import gettext as _

from chairtime.core.errors import InvalidInput

PERMANENT_TEETH = frozenset(q * 10 + t for q in (1, 2, 3, 4) for t in range(1, 9))
PRIMARY_TEETH = frozenset(q * 10 + t for q in (5, 6, 7, 8) for t in range(1, 6))
FDI_TEETH = PERMANENT_TEETH | PRIMARY_TEETH
# Mesial, occlusal, distal, buccal, lingual, incisal, facial.
SURFACES = "MODBLIF"
MAX_SURFACES = 5  # a tooth shows at most five surfaces (and the column holds five)
_SEPARATORS = re.compile(r"[\s,;]+")


def validate_teeth(values: Iterable[int | str], field: str = "teeth") -> tuple[int, ...]:
    """The teeth as FDI numbers, in ascending order without repeats; anything that is not a
    tooth is refused, naming the value ("19 is not a tooth in FDI notation.")."""
    teeth: set[int] = set()
    errors: list[str] = []
    for value in values:
        tooth = _as_number(value)
        if tooth is None:
            errors.append(_("“%(value)s” is not a tooth number.") % {"value": value})
        elif tooth not in FDI_TEETH:
            errors.append(_("%(value)s is not a tooth in FDI notation.") % {"value": tooth})
        else:
            teeth.add(tooth)
    if errors:
        raise InvalidInput({field: errors})
    return tuple(sorted(teeth))


def _as_number(value: int | str) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if text.isascii() and text.isdigit() else None


def parse_teeth(text: str, field: str = "teeth") -> tuple[int, ...]:
    """Teeth typed as text, separated by commas, semicolons or spaces: "11, 12 21"."""
    return validate_teeth([part for part in _SEPARATORS.split(text.strip()) if part], field)


def validate_surfaces(value: str, field: str = "surfaces") -> str:
    """Surfaces as capital letters from M O D B L I F, each at most once ("mod" → "MOD")."""
    surfaces = "".join(value.split()).upper()
    unknown = sorted({letter for letter in surfaces if letter not in SURFACES})
    if unknown:
        raise InvalidInput.on(
            field,
            _("%(letters)s is not a tooth surface; use the letters %(surfaces)s.")
            % {"letters": ", ".join(unknown), "surfaces": " ".join(SURFACES)},
        )
    repeated = sorted({letter for letter in surfaces if surfaces.count(letter) > 1})
    if repeated:
        raise InvalidInput.on(
            field,
            _("Give each surface once (%(letters)s is repeated).")
            % {"letters": ", ".join(repeated)},
        )
    if len(surfaces) > MAX_SURFACES:
        raise InvalidInput.on(field, _("A tooth has at most five surfaces."))
    return surfaces
