"""The demo CRM's accounts: made-up companies, deliberately dirty (state spellings, stray spaces,
e-mails in odd cases, duplicate entries of one company): work for the flows."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any, NamedTuple

from app.sandbox.contact_details import PHONE_FORMATS, PHONE_POOL, email_variant, random_street
from app.sandbox.demo_clock import BASE_S, DAY, Clock
from app.sandbox.demo_vocabulary import (
    CITIES,
    CORES,
    PREFIXES,
    ROLES,
    SPELLING_POOL,
    STATE_POOL,
    STATE_SPELLINGS,
    SUFFIXES,
    TRADES,
    US_STATES,
)

# What the related tables need of each account: (id, state code, created seconds, company name
# without padding, e-mail domain without ".com").
AccountInfo = tuple[int, str, int, str, str]

ACCOUNT_COLUMNS = (
    "id, name, email, phone, street, city, state, postcode, country, "
    "industry, credit_status, is_active, created_at, updated_at"
)


class _Original(NamedTuple):
    """An account with an e-mail, as a duplicate entered later copies it."""

    name: str
    stored_email: str
    clean_email: str
    camel_email: str
    area: str
    exchange: str
    number: str
    street: str
    city: str
    code: str
    postcode: str
    industry: str
    created: int


def account_rows(
    rng: random.Random, count: int, clock: Clock, info: list[AccountInfo] | None
) -> Iterator[tuple[Any, ...]]:
    """Yields account rows (ACCOUNT_COLUMNS) one by one (a list of 1M tuples would cost ~1 GB);
    appends each account's AccountInfo to `info` when given."""
    r = rng.random  # bound method: the loop below runs a million times
    combos = [(p, c, t) for p in PREFIXES for c in CORES for t in TRADES]
    rng.shuffle(combos)
    n_combos = len(combos)

    # Make sure every spelling of every state occurs at least once, on random accounts.
    forced: dict[int, tuple[str, int]] = {}
    pairs = [(code, kind) for code in US_STATES for kind in range(5)]
    if count >= 2 * len(pairs):
        forced = dict(zip(rng.sample(range(1, count + 1), len(pairs)), pairs))

    ring: list[_Original] = []  # recent accounts with an e-mail: the pool duplicates copy from
    ring_size = 1_000
    originals = 0
    statuses = ("approved",) * 12 + ("pending",) * 5 + ("rejected",) * 3
    n_pool = len(STATE_POOL)
    earliest = 30 * DAY  # accounts are created 30..1500 days before BASE_TIME
    spread = 1_470 * DAY

    for acc_id in range(1, count + 1):
        pair = forced.get(acc_id)
        if pair is None and ring and r() < 0.05:
            # A duplicate: same company entered again, e-mail differing only in case or spaces.
            copied = ring[int(r() * len(ring))]
            email: str | None = email_variant(copied.clean_email, copied.camel_email, int(r() * 5))
            if email == copied.stored_email:
                email += " "
            name = " " + copied.name + " " if r() < 0.3 else copied.name
            phone = PHONE_FORMATS[int(r() * 5)](copied.area, copied.exchange, copied.number)
            state = STATE_SPELLINGS[copied.code][SPELLING_POOL[int(r() * 20)]]
            created = min(copied.created + int(r() * 200 * DAY), BASE_S - 2 * DAY)
            updated = created + DAY + int(r() * (BASE_S - created - DAY))
            yield (
                acc_id,
                name,
                email,
                phone,
                copied.street,
                copied.city,
                state,
                copied.postcode,
                "US",
                copied.industry,
                statuses[int(r() * 20)],
                1,
                clock.ts(created),
                clock.ts(updated),
            )
            if info is not None:
                info.append((acc_id, copied.code, created, name.strip(), copied.clean_email.split("@")[1][:-4]))
            continue

        prefix, core, (trade, industry) = combos[originals % n_combos]
        repeat = originals // n_combos  # beyond ~31k accounts the name space repeats: number them
        originals += 1
        base_name = f"{prefix} {core} {trade}" + (f" {repeat + 1}" if repeat else "")
        suffix = SUFFIXES[int(r() * len(SUFFIXES))]
        clean_name = f"{base_name} {suffix}" if suffix else base_name
        x = r()
        if x < 0.04:
            name = " " + clean_name
        elif x < 0.07:
            name = clean_name + " "
        elif x < 0.10:
            name = "  " + clean_name + "  "
        else:
            name = clean_name

        role = ROLES[int(r() * len(ROLES))]
        domain = f"{prefix}{core}{trade}{repeat + 1 if repeat else ''}"
        clean_email = f"{role}@{domain.lower()}.com"
        camel_email = f"{role.capitalize()}@{domain}.com"
        x = r()
        if x < 0.08:
            email = None
        elif x < 0.095:
            email = ""
        elif x < 0.16:
            email = email_variant(clean_email, camel_email, int(r() * 2))
        elif x < 0.21:
            email = email_variant(clean_email, camel_email, 2 + int(r() * 3))
        else:
            email = clean_email

        if pair is None:
            code = STATE_POOL[int(r() * n_pool)]
            state = STATE_SPELLINGS[code][SPELLING_POOL[int(r() * 20)]]
        else:
            code = pair[0]
            state = STATE_SPELLINGS[code][pair[1]]
        cities = CITIES[code]
        city, area, zip3 = cities[int(r() * len(cities))]
        postcode = f"{zip3}{int(r() * 100):02d}"
        exchange = str(200 + int(r() * 800))
        number = f"{int(r() * 10_000):04d}"
        phone = PHONE_FORMATS[PHONE_POOL[int(r() * 10)]](area, exchange, number)
        street = random_street(r)

        created = BASE_S - earliest - int(r() * spread)
        updated = created + DAY + int(r() * (BASE_S - created - DAY))
        active = 0 if r() < 0.03 else 1
        yield (
            acc_id,
            name,
            email,
            phone,
            street,
            city,
            state,
            postcode,
            "US",
            industry,
            statuses[int(r() * 20)],
            active,
            clock.ts(created),
            clock.ts(updated),
        )

        if email:
            entry = _Original(
                clean_name,
                email,
                clean_email,
                camel_email,
                area,
                exchange,
                number,
                street,
                city,
                code,
                postcode,
                industry,
                created,
            )
            if len(ring) < ring_size:
                ring.append(entry)
            else:
                ring[originals % ring_size] = entry
        if info is not None:
            info.append((acc_id, code, created, clean_name, domain.lower()))
