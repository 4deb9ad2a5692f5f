"""Phone numbers, street addresses and e-mail spellings as a CRM's users type them."""

from __future__ import annotations

from collections.abc import Callable

from app.sandbox.demo_vocabulary import STREET_TYPES, STREETS

# A bound Random.random: the generators call it millions of times.
UnitRandom = Callable[[], float]

# (area code, exchange, number) in the ways people write a US phone number.
PHONE_FORMATS: list[Callable[[str, str, str], str]] = [
    lambda a, e, n: f"({a}) {e}-{n}",
    lambda a, e, n: f"{a}-{e}-{n}",
    lambda a, e, n: f"{a}.{e}.{n}",
    lambda a, e, n: f"+1 {a} {e} {n}",
    lambda a, e, n: f"{a}{e}{n}",
]
PHONE_POOL = [0] * 4 + [1] * 3 + [2] + [3] + [4]


def random_phone(r: UnitRandom, area: str) -> str:
    exchange = 200 + int(r() * 800)
    number = int(r() * 10_000)
    return PHONE_FORMATS[PHONE_POOL[int(r() * 10)]](area, str(exchange), f"{number:04d}")


def random_street(r: UnitRandom) -> str:
    address = f"{1 + int(r() * 9_899)} {STREETS[int(r() * len(STREETS))]} {STREET_TYPES[int(r() * len(STREET_TYPES))]}"
    if r() < 0.15:
        address += f", Suite {100 + int(r() * 8) * 100}"
    return address


def email_variant(clean: str, camel: str, kind: int) -> str:
    """A dirty spelling of an e-mail: upper-cased, camel-cased domain, or padded with spaces."""
    if kind == 0:
        return clean.upper()
    if kind == 1:
        return camel
    if kind == 2:
        return " " + clean
    if kind == 3:
        return clean + "  "
    return " " + camel + " "
