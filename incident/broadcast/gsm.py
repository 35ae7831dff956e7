"""How an SMS body is encoded and how many parts it costs (3GPP TS 23.038, GSM 03.38).

Pure. A text made only of the GSM-7 basic set and its extension table goes as GSM-7:
160 septets in one message, 153 per part when it has to be split (the rest carries the
concatenation header), an extension character costing two septets that never straddle two
parts. Anything else (an emoji, "È", a curly quote) turns the whole message into UCS-2:
70 UTF-16 code units in one message, 67 per part, a surrogate pair never split.
"""
from __future__ import annotations

# The basic character set, in table order (0x00–0x7F). 0x1B is the escape to the extension
# table, so it is not a character of its own. Note what is absent: "È", "À", "Ì", "Ò", "Ù",
# "ç" (only "Ç" is in the table), curly quotes, the en and em dash, "…".
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each costs the escape septet plus its own.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


def is_gsm7(text: str) -> bool:
    """True when every character is in the GSM-7 basic set or its extension table."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _parts(sizes: list[int], single: int, part: int) -> int:
    """Messages needed for these indivisible units (septets or UTF-16 code units)."""
    total = sum(sizes)
    if total == 0:
        return 0
    if total <= single:
        return 1
    count, used = 1, 0
    for size in sizes:
        if used + size > part:
            count, used = count + 1, 0
        used += size
    return count


def sms_info(text: str) -> dict:
    """{"characters", "encoding", "units", "segments"} for an SMS body.

    `characters` is what a person counts (code points); `units` is what the network counts
    (septets for GSM-7, UTF-16 code units for UCS-2); `segments` is the number of messages.
    """
    if is_gsm7(text):
        sizes = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        encoding, single, part = "GSM-7", GSM7_SINGLE, GSM7_PART
    else:
        sizes = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
        encoding, single, part = "UCS-2", UCS2_SINGLE, UCS2_PART
    return {"characters": len(text), "encoding": encoding, "units": sum(sizes),
            "segments": _parts(sizes, single, part)}


def non_gsm7(text: str) -> list[str]:
    """The characters (once each, in order) that force a text into UCS-2."""
    return list(dict.fromkeys(ch for ch in text if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION))
