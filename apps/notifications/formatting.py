"""How money and times read in an email.

Events carry money as integer minor units plus an ISO 4217 code, and times as aware
datetimes. Buyers read "€42.50" and "Saturday 14 June 2025 at 19:30 UTC".
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

# Only unambiguous symbols: "$" alone would not say which dollar, so CAD or AUD read "CAD 42.50".
_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "INR": "₹", "KRW": "₩"}

# ISO 4217 minor units where they are not 2.
_EXPONENTS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip


def format_money(amount_minor: int, currency: str) -> str:
    """``4250, "EUR"`` -> ``"€42.50"``; ``4250, "CHF"`` -> ``"CHF 42.50"``; ``1200, "JPY"`` -> ``"¥1,200"``."""
    exponent = _EXPONENTS.get(currency, 2)
    number = f"{Decimal(amount_minor).scaleb(-exponent):,.{exponent}f}"
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{number}" if symbol else f"{currency} {number}"


def format_event_time(moment: datetime | str) -> str:
    """An aware datetime (or its ISO text) as ``"Saturday 14 June 2025 at 19:30 UTC"``.

    Emails state UTC explicitly: the recipient's time zone is unknown here, and a time
    without a zone is worse than one the reader has to convert.
    """
    value = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    utc = value.astimezone(UTC)
    return f"{utc:%A} {utc.day} {utc:%B %Y} at {utc:%H:%M} UTC"
