"""Builds the sandbox's demo CRM and ERP as SQLite files, deterministic for a seed.
The CRM is deliberately dirty (state spellings, stray spaces, duplicates): work for the flows."""

from __future__ import annotations

import random
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

# ---------------------------------------------------------------------------------------------
# Schemas. Kept to types and constraints PostgreSQL also understands, except AUTOINCREMENT.
# No ';' inside comments so callers may split these strings on ';'.
# ---------------------------------------------------------------------------------------------

_CRM_TABLES = """
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    name TEXT,
    email TEXT NULL,
    phone TEXT,
    street TEXT,
    city TEXT,
    state TEXT,
    postcode TEXT,
    country TEXT,
    industry TEXT,
    credit_status TEXT NOT NULL CHECK (credit_status IN ('approved', 'pending', 'rejected')),
    is_active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    credit_limit DOUBLE PRECISION,
    payment_terms TEXT
);
CREATE TABLE contacts (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    first_name TEXT,
    last_name TEXT,
    email TEXT,
    phone TEXT,
    title TEXT,
    updated_at TEXT NOT NULL
);
CREATE TABLE products (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sku TEXT NOT NULL UNIQUE,
    name TEXT,
    list_price DOUBLE PRECISION,
    stock_on_hand INTEGER,
    is_active INTEGER NOT NULL DEFAULT 1,
    updated_at TEXT
);
CREATE TABLE opportunities (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    name TEXT,
    stage TEXT NOT NULL CHECK (stage IN ('open', 'won', 'lost')),
    amount DOUBLE PRECISION NOT NULL,
    currency TEXT NOT NULL DEFAULT 'USD',
    close_date TEXT,
    updated_at TEXT NOT NULL
);
CREATE TABLE opportunity_lines (
    id INTEGER PRIMARY KEY,
    opportunity_id INTEGER NOT NULL REFERENCES opportunities(id),
    line_no INTEGER NOT NULL,
    sku TEXT NOT NULL,
    description TEXT,
    quantity INTEGER NOT NULL,
    unit_price DOUBLE PRECISION NOT NULL,
    discount_pct DOUBLE PRECISION NOT NULL DEFAULT 0,
    tax_pct DOUBLE PRECISION NOT NULL DEFAULT 0
);
CREATE TABLE invoices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    invoice_number TEXT NOT NULL UNIQUE,
    account_id INTEGER REFERENCES accounts(id),
    issued_on TEXT,
    due_on TEXT,
    total DOUBLE PRECISION,
    amount_paid DOUBLE PRECISION,
    payment_status TEXT,
    updated_at TEXT
);
"""

# Like real systems, the demo's CRM and ERP stamp a row's updated_at whenever it changes (SQLite
# triggers; kept apart from the schemas because they hold semicolons).
_TOUCH = """
CREATE TRIGGER {table}_touch AFTER UPDATE ON {table} FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE {table} SET updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE {key} = NEW.{key};
END;
"""
CRM_TRIGGERS = _TOUCH.format(table="accounts", key="id")
ERP_TRIGGERS = _TOUCH.format(table="customers", key="customer_number")

# Indexes are separate so the generator can build them after the bulk insert (much faster).
_CRM_INDEXES = """
CREATE INDEX ix_accounts_updated_at ON accounts (updated_at);
"""

CRM_SCHEMA = _CRM_TABLES + _CRM_INDEXES

ERP_SCHEMA = """
CREATE TABLE customers (
    customer_number INTEGER PRIMARY KEY AUTOINCREMENT,
    crm_id INTEGER UNIQUE,
    name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    street TEXT,
    city TEXT,
    state TEXT,
    postcode TEXT,
    country TEXT,
    credit_limit DOUBLE PRECISION,
    payment_terms TEXT,
    is_active INTEGER NOT NULL DEFAULT 1,
    updated_at TEXT
);
CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    sku TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    unit_price DOUBLE PRECISION NOT NULL,
    is_active INTEGER NOT NULL DEFAULT 1,
    updated_at TEXT
);
CREATE TABLE stock_levels (
    id INTEGER PRIMARY KEY,
    product_id INTEGER NOT NULL REFERENCES products(id),
    warehouse TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    UNIQUE (product_id, warehouse)
);
CREATE TABLE sales_orders (
    order_number INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_number INTEGER NOT NULL REFERENCES customers(customer_number),
    crm_opportunity_id INTEGER UNIQUE,
    order_date TEXT,
    currency TEXT NOT NULL DEFAULT 'USD',
    status TEXT NOT NULL DEFAULT 'open',
    net_total DOUBLE PRECISION,
    tax_total DOUBLE PRECISION,
    gross_total DOUBLE PRECISION,
    updated_at TEXT
);
CREATE TABLE sales_order_lines (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_number INTEGER NOT NULL REFERENCES sales_orders(order_number),
    line_no INTEGER NOT NULL,
    crm_line_id INTEGER UNIQUE,
    sku TEXT NOT NULL,
    description TEXT,
    quantity INTEGER NOT NULL,
    unit_price DOUBLE PRECISION NOT NULL,
    discount_pct DOUBLE PRECISION NOT NULL DEFAULT 0,
    tax_pct DOUBLE PRECISION NOT NULL DEFAULT 0,
    line_total DOUBLE PRECISION NOT NULL
);
CREATE TABLE invoices (
    invoice_number TEXT PRIMARY KEY,
    customer_number INTEGER NOT NULL REFERENCES customers(customer_number),
    order_number INTEGER REFERENCES sales_orders(order_number),
    issued_on TEXT,
    due_on TEXT,
    total DOUBLE PRECISION NOT NULL,
    currency TEXT NOT NULL DEFAULT 'USD',
    updated_at TEXT
);
CREATE TABLE payments (
    id INTEGER PRIMARY KEY,
    invoice_number TEXT NOT NULL REFERENCES invoices(invoice_number),
    paid_on TEXT,
    amount DOUBLE PRECISION NOT NULL,
    method TEXT
);
"""

# ---------------------------------------------------------------------------------------------
# Reference data
# ---------------------------------------------------------------------------------------------

US_STATES: dict[str, str] = {
    "CA": "California",
    "NY": "New York",
    "TX": "Texas",
    "WA": "Washington",
    "IL": "Illinois",
    "FL": "Florida",
    "MA": "Massachusetts",
    "CO": "Colorado",
    "GA": "Georgia",
    "OR": "Oregon",
    "AZ": "Arizona",
    "NC": "North Carolina",
    "PA": "Pennsylvania",
    "MN": "Minnesota",
    "NJ": "New Jersey",
}

# Per state: (city, area code, first three ZIP digits) - keeps phone, city and postcode consistent.
_CITIES: dict[str, list[tuple[str, str, str]]] = {
    "CA": [
        ("Los Angeles", "213", "900"),
        ("San Diego", "619", "921"),
        ("San Jose", "408", "951"),
        ("Sacramento", "916", "958"),
        ("Oakland", "510", "946"),
    ],
    "NY": [
        ("New York", "212", "100"),
        ("Buffalo", "716", "142"),
        ("Rochester", "585", "146"),
        ("Albany", "518", "122"),
    ],
    "TX": [
        ("Houston", "713", "770"),
        ("Dallas", "214", "752"),
        ("Austin", "512", "787"),
        ("San Antonio", "210", "782"),
    ],
    "WA": [("Seattle", "206", "981"), ("Spokane", "509", "992"), ("Tacoma", "253", "984")],
    "IL": [("Chicago", "312", "606"), ("Springfield", "217", "627"), ("Naperville", "630", "605")],
    "FL": [("Miami", "305", "331"), ("Orlando", "407", "328"), ("Tampa", "813", "336"), ("Jacksonville", "904", "322")],
    "MA": [("Boston", "617", "021"), ("Worcester", "508", "016"), ("Cambridge", "617", "021")],
    "CO": [("Denver", "303", "802"), ("Boulder", "303", "803"), ("Colorado Springs", "719", "809")],
    "GA": [("Atlanta", "404", "303"), ("Savannah", "912", "314"), ("Augusta", "706", "309")],
    "OR": [("Portland", "503", "972"), ("Eugene", "541", "974"), ("Salem", "503", "973")],
    "AZ": [("Phoenix", "602", "850"), ("Tucson", "520", "857"), ("Mesa", "480", "852")],
    "NC": [("Charlotte", "704", "282"), ("Raleigh", "919", "276"), ("Durham", "919", "277")],
    "PA": [("Philadelphia", "215", "191"), ("Pittsburgh", "412", "152"), ("Allentown", "610", "181")],
    "MN": [("Minneapolis", "612", "554"), ("Saint Paul", "651", "551"), ("Rochester", "507", "559")],
    "NJ": [("Newark", "973", "071"), ("Jersey City", "201", "073"), ("Trenton", "609", "086")],
}

# State sales-tax rates (base rate, or a typical combined city rate) for taxable lines.
_TAX_RATES: dict[str, float] = {
    "CA": 7.25,
    "NY": 8.875,
    "TX": 6.25,
    "WA": 6.5,
    "IL": 6.25,
    "FL": 6.0,
    "MA": 6.25,
    "CO": 2.9,
    "GA": 4.0,
    "OR": 0.0,
    "AZ": 5.6,
    "NC": 4.75,
    "PA": 6.0,
    "MN": 6.875,
    "NJ": 6.625,
}

# Weighted pool: big states get more accounts, as in a real customer base.
_STATE_POOL: list[str] = (
    ["CA"] * 5
    + ["NY"] * 4
    + ["TX"] * 4
    + ["FL"] * 3
    + ["IL"] * 2
    + ["WA"] * 2
    + ["MA"] * 2
    + ["GA"] * 2
    + ["PA"] * 2
    + ["NC"] * 2
    + ["CO", "OR", "AZ", "MN", "NJ"]
)

# How the CRM writes a state: code, code lower, full name, full name padded, full name upper.
_STATE_SPELLINGS: dict[str, tuple[str, ...]] = {
    code: (code, code.lower(), full, f" {full} ", full.upper()) for code, full in US_STATES.items()
}
_SPELLING_POOL: list[int] = [0] * 7 + [1] * 2 + [2] * 7 + [3] * 2 + [4] * 2

# Any spelling above (trimmed, lower-cased) back to the code, for the ERP's clean copy.
_STATE_BY_TEXT: dict[str, str] = {}
for _code, _full in US_STATES.items():
    _STATE_BY_TEXT[_code.lower()] = _code
    _STATE_BY_TEXT[_full.lower()] = _code

_PREFIXES = [
    "Summit",
    "Harbor",
    "Pioneer",
    "Evergreen",
    "Granite",
    "Cedar",
    "Atlas",
    "Beacon",
    "Northstar",
    "Redwood",
    "Silverline",
    "Ironwood",
    "Keystone",
    "Lakeside",
    "Meridian",
    "Oakmont",
    "Pinnacle",
    "Riverbend",
    "Sterling",
    "Tidewater",
    "Westbrook",
    "Bluewater",
    "Copperfield",
    "Driftwood",
    "Eastgate",
    "Foxhill",
    "Goldcrest",
    "Highland",
    "Juniper",
    "Kingsley",
    "Lighthouse",
    "Maple",
    "Northgate",
    "Orchard",
    "Prairie",
    "Quarry",
    "Ridgeline",
    "Sagebrush",
    "Timberline",
    "Willow",
]
_CORES = [
    "Valley",
    "Peak",
    "Bay",
    "Creek",
    "Point",
    "Bridge",
    "Field",
    "Grove",
    "Hill",
    "Park",
    "Rock",
    "Springs",
    "Stone",
    "Vista",
    "Crossing",
    "Mills",
    "Shore",
    "Brook",
    "Falls",
    "Haven",
    "Heights",
    "Landing",
    "Meadow",
    "Pines",
    "Port",
    "Terrace",
    "Trail",
    "Woods",
    "Canyon",
    "Harvest",
]
# (trade word in the company name, industry it implies)
_TRADES = [
    ("Logistics", "Transportation"),
    ("Freight", "Transportation"),
    ("Foods", "Food & Beverage"),
    ("Brewing", "Food & Beverage"),
    ("Software", "Technology"),
    ("Systems", "Technology"),
    ("Analytics", "Technology"),
    ("Manufacturing", "Manufacturing"),
    ("Fabrication", "Manufacturing"),
    ("Tooling", "Manufacturing"),
    ("Construction", "Construction"),
    ("Builders", "Construction"),
    ("Medical", "Healthcare"),
    ("Health", "Healthcare"),
    ("Dental", "Healthcare"),
    ("Energy", "Energy"),
    ("Solar", "Energy"),
    ("Retail", "Retail"),
    ("Outfitters", "Retail"),
    ("Supply", "Wholesale"),
    ("Distributors", "Wholesale"),
    ("Consulting", "Professional Services"),
    ("Partners", "Professional Services"),
    ("Labs", "Biotech"),
    ("Farms", "Agriculture"),
    ("Hospitality", "Hospitality"),
]
_SUFFIXES = ["Inc", "Inc.", "LLC", "LLC", "Co", "Corp", "Ltd", "Group", "", "", ""]
_ROLES = ["info", "sales", "billing", "accounts", "office", "hello", "orders", "contact", "ap", "purchasing"]
_STREETS = [
    "Main",
    "Oak",
    "Pine",
    "Maple",
    "Cedar",
    "Elm",
    "Washington",
    "Lake",
    "Hill",
    "Park",
    "Market",
    "Mission",
    "Industrial",
    "Commerce",
    "Harbor",
    "Ridge",
    "Sunset",
    "Lincoln",
    "Jefferson",
    "Madison",
    "Franklin",
    "Highland",
    "River",
    "Airport",
]
_STREET_TYPES = ["St", "Street", "Ave", "Avenue", "Rd", "Blvd", "Dr", "Way", "Pkwy"]
_FIRST_NAMES = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Carlos",
    "Karen",
    "Daniel",
    "Lisa",
    "Matthew",
    "Nancy",
    "Anthony",
    "Priya",
    "Wei",
    "Sofia",
    "Andre",
    "Fatima",
    "Kenji",
    "Olivia",
    "Diego",
    "Hannah",
]
_LAST_NAMES = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Nguyen",
    "Patel",
    "Kim",
    "Chen",
    "Walker",
    "Young",
    "Allen",
    "Wright",
    "Scott",
    "Hoffman",
    "Okafor",
    "Schmidt",
]
_TITLES = [
    "Purchasing Manager",
    "Operations Director",
    "CFO",
    "Office Manager",
    "Buyer",
    "Warehouse Supervisor",
    "Accounts Payable",
    "VP Operations",
    "Owner",
    "Controller",
]
_DEAL_KINDS = [
    "Annual renewal",
    "Expansion",
    "New equipment",
    "Pilot",
    "Replacement order",
    "Warehouse refit",
    "Q1 restock",
    "Q3 restock",
    "Safety upgrade",
    "New site",
]
_WAREHOUSES = ["EAST", "WEST", "CENTRAL"]
_TERMS_DAYS = {"NET30": 30, "NET45": 45, "NET60": 60, "PREPAID": 0}

# Fixed catalogue: (family, variants, price range, taxable). 60 products in all.
_FAMILIES: list[tuple[str, list[str], tuple[int, int], bool]] = [
    ("Pallet Rack", ["Standard", "Heavy Duty", "Wide Span"], (180, 900), True),
    ("Barcode Scanner", ["Handheld", "Wireless", "Rugged"], (120, 650), True),
    ("Label Printer", ["Desktop", "Industrial"], (250, 1800), True),
    ("Thermal Labels", ["4x6 Roll", "2x1 Roll", "Case of 12"], (15, 120), True),
    ("Shipping Boxes", ["Small, bundle of 25", "Medium, bundle of 25", "Large, bundle of 25"], (20, 90), True),
    ("Stretch Wrap", ["18in Roll", "Machine Roll"], (25, 140), True),
    ("Hand Truck", ["Convertible", "Heavy Duty"], (90, 420), True),
    ("Pallet Jack", ["Manual", "Electric"], (350, 2500), True),
    ("Safety Gloves", ["Nitrile, box of 100", "Cut-Resistant, dozen"], (12, 75), True),
    ("Hard Hat", ["Type I", "Type II"], (18, 60), True),
    ("Work Bench", ["Steel 6ft", "Maple Top 8ft"], (300, 1400), True),
    ("Storage Bin", ["Stackable", "Heavy Duty"], (8, 45), True),
    ("Shelving Unit", ["Wire 5-Tier", "Boltless 4-Tier"], (110, 480), True),
    ("LED High Bay Light", ["150W", "240W"], (95, 320), True),
    ("Floor Marking Tape", ["Yellow", "Red/White"], (22, 70), True),
    ("Dock Leveler", ["Mechanical"], (1800, 2500), True),
    ("Conveyor Section", ["Gravity 10ft", "Powered 10ft"], (600, 2400), True),
    ("Forklift Battery", ["24V", "48V"], (1200, 2500), True),
    ("Inventory Software License", ["Annual", "Multi-Site Annual"], (400, 2400), False),
    ("Support Plan", ["Standard 12 months", "Premium 12 months"], (250, 1500), False),
    ("On-Site Installation", ["Half Day", "Full Day"], (450, 1600), False),
    ("Training Session", ["Remote", "On-Site"], (200, 1200), False),
    ("Calibration Service", ["Per Device"], (60, 180), False),
    ("Anti-Fatigue Mat", ["3x5", "3x10"], (45, 220), True),
    ("Packing Table", ["Standard", "With Scale"], (380, 1300), True),
    ("Digital Scale", ["Bench 150lb", "Floor 1000lb"], (140, 950), True),
    ("Strapping Kit", ["Poly", "Steel"], (85, 390), True),
    ("Wire Partition Panel", ["5ft", "8ft"], (70, 260), True),
    ("Ladder", ["Rolling 6-Step", "Step 4ft"], (110, 780), True),
]
# The catalogue does not depend on the data seed, so any CRM file and any ERP file agree on it.
CATALOGUE_SEED = 1001

# ---------------------------------------------------------------------------------------------
# Time: everything is relative to a fixed "now" so the files are reproducible.
# ---------------------------------------------------------------------------------------------

BASE_TIME = datetime(2026, 11, 1, 9, 0, 0)
_DAY = 86_400
_DAYS_BACK = 3_000  # how far into the past any timestamp may go
_DAYS_AHEAD = 400  # open opportunities close in the future
_EPOCH = datetime(BASE_TIME.year, BASE_TIME.month, BASE_TIME.day) - timedelta(days=_DAYS_BACK)
# BASE_TIME as seconds since _EPOCH: generators work in integer seconds and format at the end.
_BASE_S = _DAYS_BACK * _DAY + BASE_TIME.hour * 3600 + BASE_TIME.minute * 60 + BASE_TIME.second


class _Clock:
    """Formats seconds-since-epoch via lookup tables: strftime per row is too slow for 1M rows."""

    def __init__(self) -> None:
        self.days = [(_EPOCH + timedelta(days=i)).strftime("%Y-%m-%d") for i in range(_DAYS_BACK + _DAYS_AHEAD)]
        self.times = [f" {h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]

    def ts(self, s: int) -> str:
        return self.days[s // _DAY] + self.times[s % _DAY]

    def day(self, s: int) -> str:
        return self.days[s // _DAY]

    def seconds(self, text: str) -> int:
        return int((datetime.strptime(text, "%Y-%m-%d %H:%M:%S") - _EPOCH).total_seconds())


_clock_cache: list[_Clock] = []


def _clock() -> _Clock:
    if not _clock_cache:
        _clock_cache.append(_Clock())
    return _clock_cache[0]


# ---------------------------------------------------------------------------------------------
# Catalogue
# ---------------------------------------------------------------------------------------------


def product_catalogue(seed: int = CATALOGUE_SEED) -> list[dict]:
    """The ERP's 60 products (sku, name, unit_price, is_active, taxable); ~10 are inactive.

    Both generators call it with the default seed, so skus and prices always agree."""
    rng = random.Random(f"catalogue:{seed}")
    products: list[dict] = []
    for family, variants, (low, high), taxable in _FAMILIES:
        for variant in variants:
            # Prices end in .99 or .00 like a real price list.
            whole = rng.randint(low, high)
            price = float(whole) if rng.random() < 0.3 else whole - 0.01
            products.append(
                {
                    "sku": f"SKU-{1001 + len(products)}",
                    "name": f"{family}, {variant}",
                    "unit_price": round(price, 2),
                    "is_active": 1,
                    "taxable": taxable,
                }
            )
    for index in rng.sample(range(len(products)), 10):
        products[index]["is_active"] = 0
    return products


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

_PHONE_FORMATS = [
    lambda a, e, n: f"({a}) {e}-{n}",
    lambda a, e, n: f"{a}-{e}-{n}",
    lambda a, e, n: f"{a}.{e}.{n}",
    lambda a, e, n: f"+1 {a} {e} {n}",
    lambda a, e, n: f"{a}{e}{n}",
]
_PHONE_POOL = [0] * 4 + [1] * 3 + [2] + [3] + [4]


def _phone(r, area: str) -> str:
    exchange = 200 + int(r() * 800)
    number = int(r() * 10_000)
    return _PHONE_FORMATS[_PHONE_POOL[int(r() * 10)]](area, str(exchange), f"{number:04d}")


def _street(r) -> str:
    street = (
        f"{1 + int(r() * 9_899)} {_STREETS[int(r() * len(_STREETS))]} {_STREET_TYPES[int(r() * len(_STREET_TYPES))]}"
    )
    if r() < 0.15:
        street += f", Suite {100 + int(r() * 8) * 100}"
    return street


def _email_variant(clean: str, camel: str, kind: int) -> str:
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


def _open_for_writing(path: Path) -> tuple[sqlite3.Connection, Path]:
    """A fresh database next to `path`; it replaces `path` only once it is complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".building")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp)
    # Generation is throw-away work: no journal and no fsync until the file is complete.
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-65536")
    return conn, tmp


def _finish(conn: sqlite3.Connection, tmp: Path, path: Path) -> None:
    conn.commit()
    # Leave an ordinary rollback-journal database behind (journal_mode OFF is per connection).
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    # A stale WAL or journal of an older file would be applied to the new one: remove them.
    for extra in ("-wal", "-shm", "-journal"):
        path.with_name(path.name + extra).unlink(missing_ok=True)
    tmp.replace(path)


# ---------------------------------------------------------------------------------------------
# CRM
# ---------------------------------------------------------------------------------------------


def create_crm_database(path: Path, *, seed: int = 7, accounts: int = 600, with_related: bool = True) -> None:
    """Write the demo CRM to `path` (replacing it): accounts, and unless `with_related` is False
    also contacts and opportunities with lines. Products are always seeded, invoices left empty."""
    path = Path(path)
    clock = _clock()
    conn, tmp = _open_for_writing(path)
    try:
        conn.executescript(_CRM_TABLES)
        # One Random per table, so accounts come out the same with or without related rows.
        info: list[tuple] | None = [] if with_related else None
        conn.executemany(
            "INSERT INTO accounts (id, name, email, phone, street, city, state, postcode, country, "
            "industry, credit_status, is_active, created_at, updated_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            _account_rows(random.Random(f"{seed}:accounts"), accounts, clock, info),
        )
        conn.executescript(_CRM_INDEXES)
        conn.executescript(CRM_TRIGGERS)
        _insert_crm_products(conn, random.Random(f"{seed}:products"), clock)
        if info is not None:
            conn.executemany(
                "INSERT INTO contacts VALUES (?,?,?,?,?,?,?,?)",
                _contact_rows(random.Random(f"{seed}:contacts"), info, clock),
            )
            _insert_opportunities(conn, random.Random(f"{seed}:opportunities"), info, clock)
        _finish(conn, tmp, path)
    except BaseException:
        conn.close()
        tmp.unlink(missing_ok=True)
        raise


def _account_rows(rng: random.Random, count: int, clock: _Clock, info: list | None):
    """Yields account rows one by one (a list of 1M tuples would cost ~1 GB)."""
    r = rng.random  # bound method: the loop below runs a million times
    combos = [(p, c, t) for p in _PREFIXES for c in _CORES for t in _TRADES]
    rng.shuffle(combos)
    n_combos = len(combos)

    # Make sure every spelling of every state occurs at least once, on random accounts.
    forced: dict[int, tuple[str, int]] = {}
    pairs = [(code, kind) for code in US_STATES for kind in range(5)]
    if count >= 2 * len(pairs):
        forced = dict(zip(rng.sample(range(1, count + 1), len(pairs)), pairs))

    ring: list[tuple] = []  # recent accounts with an e-mail: the pool duplicates copy from
    ring_size = 1_000
    originals = 0
    statuses = ("approved",) * 12 + ("pending",) * 5 + ("rejected",) * 3
    n_pool = len(_STATE_POOL)
    earliest = 30 * _DAY  # accounts are created 30..1500 days before BASE_TIME
    spread = 1_470 * _DAY

    for acc_id in range(1, count + 1):
        pair = forced.get(acc_id)
        if pair is None and ring and r() < 0.05:
            # A duplicate: same company entered again, e-mail differing only in case or spaces.
            (
                name,
                stored_email,
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
                orig_created,
            ) = ring[int(r() * len(ring))]
            email = _email_variant(clean_email, camel_email, int(r() * 5))
            if email == stored_email:
                email += " "
            if r() < 0.3:
                name = " " + name + " "
            fmt = _PHONE_FORMATS[int(r() * 5)]
            phone = fmt(area, exchange, number)
            state = _STATE_SPELLINGS[code][_SPELLING_POOL[int(r() * 20)]]
            created = min(orig_created + int(r() * 200 * _DAY), _BASE_S - 2 * _DAY)
            updated = created + _DAY + int(r() * (_BASE_S - created - _DAY))
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
                1,
                clock.ts(created),
                clock.ts(updated),
            )
            if info is not None:
                info.append((acc_id, code, created, name.strip(), clean_email.split("@")[1][:-4]))
            continue

        prefix, core, (trade, industry) = combos[originals % n_combos]
        repeat = originals // n_combos  # beyond ~31k accounts the name space repeats: number them
        originals += 1
        base_name = f"{prefix} {core} {trade}" + (f" {repeat + 1}" if repeat else "")
        suffix = _SUFFIXES[int(r() * len(_SUFFIXES))]
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

        role = _ROLES[int(r() * len(_ROLES))]
        domain = f"{prefix}{core}{trade}{repeat + 1 if repeat else ''}"
        clean_email = f"{role}@{domain.lower()}.com"
        camel_email = f"{role.capitalize()}@{domain}.com"
        x = r()
        if x < 0.08:
            email = None
        elif x < 0.095:
            email = ""
        elif x < 0.16:
            email = _email_variant(clean_email, camel_email, int(r() * 2))
        elif x < 0.21:
            email = _email_variant(clean_email, camel_email, 2 + int(r() * 3))
        else:
            email = clean_email

        if pair is None:
            code = _STATE_POOL[int(r() * n_pool)]
            state = _STATE_SPELLINGS[code][_SPELLING_POOL[int(r() * 20)]]
        else:
            code = pair[0]
            state = _STATE_SPELLINGS[code][pair[1]]
        cities = _CITIES[code]
        city, area, zip3 = cities[int(r() * len(cities))]
        postcode = f"{zip3}{int(r() * 100):02d}"
        exchange = str(200 + int(r() * 800))
        number = f"{int(r() * 10_000):04d}"
        phone = _PHONE_FORMATS[_PHONE_POOL[int(r() * 10)]](area, exchange, number)
        street = _street(r)

        created = _BASE_S - earliest - int(r() * spread)
        updated = created + _DAY + int(r() * (_BASE_S - created - _DAY))
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
            entry = (
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


def _contact_rows(rng: random.Random, info: list[tuple], clock: _Clock):
    r = rng.random
    contact_id = 0
    for acc_id, code, created, _short, domain in info:
        x = r()
        n = 1 if x < 0.4 else 2 if x < 0.8 else 3
        for _ in range(n):
            contact_id += 1
            first = _FIRST_NAMES[int(r() * len(_FIRST_NAMES))]
            last = _LAST_NAMES[int(r() * len(_LAST_NAMES))]
            email = f"{first}.{last}@{domain}.com".lower() if r() < 0.9 else None
            cities = _CITIES[code]
            phone = _phone(r, cities[int(r() * len(cities))][1])
            title = _TITLES[int(r() * len(_TITLES))]
            updated = created + int(r() * (_BASE_S - created))
            yield (contact_id, acc_id, first, last, email, phone, title, clock.ts(updated))


def _insert_crm_products(conn: sqlite3.Connection, rng: random.Random, clock: _Clock) -> None:
    """About a third of the active catalogue, with stock figures last refreshed months ago."""
    active = [p for p in product_catalogue() if p["is_active"]]
    chosen = sorted(rng.sample(active, round(len(active) / 3)), key=lambda p: p["sku"])
    rows = []
    for product in chosen:
        updated = _BASE_S - (90 + rng.randint(0, 300)) * _DAY - rng.randint(0, _DAY - 1)
        rows.append((product["sku"], product["name"], product["unit_price"], rng.randint(0, 350), 1, clock.ts(updated)))
    conn.executemany(
        "INSERT INTO products (sku, name, list_price, stock_on_hand, is_active, updated_at) VALUES (?,?,?,?,?,?)", rows
    )


def _pick_lines(rng: random.Random, target: float, n_lines: int, active: list[dict]) -> list:
    """Products and quantities whose total lands near `target` (active sorted by price)."""
    r = rng.random
    weights = [0.3 + r() for _ in range(n_lines)]
    total_w = sum(weights)
    used: set[str] = set()
    picks = []
    for w in weights:
        share = target * w / total_w
        # Products that need between 1 and ~100 units to reach the share.
        fitting = [p for p in active if share / 100 <= p["unit_price"] <= share] or active[:3]
        product = fitting[int(r() * len(fitting))]
        for _ in range(3):  # prefer distinct skus on one deal
            if product["sku"] not in used:
                break
            product = fitting[int(r() * len(fitting))]
        used.add(product["sku"])
        picks.append((product, max(1, round(share / product["unit_price"]))))
    return picks


def _insert_opportunities(conn: sqlite3.Connection, rng: random.Random, info: list[tuple], clock: _Clock) -> None:
    r = rng.random
    active = sorted((p for p in product_catalogue() if p["is_active"]), key=lambda p: p["unit_price"])
    discounts = [0.0] * 11 + [5.0] * 4 + [10.0] * 3 + [12.5] * 2
    opps: list[tuple] = []
    lines: list[tuple] = []
    line_id = 0
    for acc_id, code, created, short, _domain in info:
        x = r()
        n_opps = 0 if x < 0.3 else 1 if x < 0.72 else 2 if x < 0.92 else 3
        for _ in range(n_opps):
            opp_id = len(opps) + 1
            x = r()
            stage = "won" if x < 0.35 else "lost" if x < 0.60 else "open"
            if stage == "open":
                close = _BASE_S + (5 + int(r() * 175)) * _DAY
                updated = max(created, _BASE_S - int(r() * 90 * _DAY))
            else:
                # Closed in the past, but not before the account existed.
                close = max(_BASE_S - (1 + int(r() * 400)) * _DAY, created + 7 * _DAY)
                close = min(close, _BASE_S - _DAY)
                updated = min(close + int(r() * 3 * _DAY), _BASE_S)
            # Log-uniform target between 200 and 50,000 so small and large deals both occur.
            target = 200 * 250 ** r()
            x = r()
            n_lines = 1 if x < 0.25 else 2 if x < 0.5 else 3 if x < 0.72 else 4 if x < 0.88 else 5
            amount = 0.0
            tax_rate = _TAX_RATES[code]
            for line_no, (product, qty) in enumerate(_pick_lines(rng, target, n_lines, active), 1):
                line_id += 1
                discount = discounts[int(r() * 20)]
                # Services are not taxed, and ~10% of customers are tax-exempt resellers.
                tax = tax_rate if product["taxable"] and r() >= 0.1 else 0.0
                price = product["unit_price"]
                amount += qty * price * (1 - discount / 100)
                lines.append((line_id, opp_id, line_no, product["sku"], product["name"], qty, price, discount, tax))
            kind = _DEAL_KINDS[int(r() * len(_DEAL_KINDS))]
            opps.append(
                (
                    opp_id,
                    acc_id,
                    f"{short} - {kind}",
                    stage,
                    round(amount, 2),
                    "USD",
                    clock.day(close),
                    clock.ts(updated),
                )
            )
    conn.executemany("INSERT INTO opportunities VALUES (?,?,?,?,?,?,?,?)", opps)
    conn.executemany("INSERT INTO opportunity_lines VALUES (?,?,?,?,?,?,?,?,?)", lines)


# ---------------------------------------------------------------------------------------------
# ERP
# ---------------------------------------------------------------------------------------------


def create_erp_database(path: Path, *, crm_path: Path, seed: int = 7) -> None:
    """Write the demo ERP to `path` (replacing it). Reads the CRM at `crm_path` so that ~25% of
    its credit-approved accounts already exist as customers, as a previous sync left them."""
    path = Path(path)
    clock = _clock()
    crm = sqlite3.connect(Path(crm_path).resolve().as_uri() + "?mode=ro", uri=True)
    try:
        approved = crm.execute(
            "SELECT id, name, email, phone, street, city, state, postcode, country, is_active, "
            "created_at, updated_at FROM accounts WHERE credit_status = 'approved' ORDER BY id"
        ).fetchall()
        crm_stock = dict(crm.execute("SELECT sku, stock_on_hand FROM products"))
    finally:
        crm.close()

    conn, tmp = _open_for_writing(path)
    try:
        conn.executescript(ERP_SCHEMA)
        catalogue = product_catalogue()
        _insert_erp_products(conn, random.Random(f"{seed}:erp-products"), catalogue, crm_stock, clock)
        customers = _insert_customers(conn, random.Random(f"{seed}:erp-customers"), approved, clock)
        orders = _insert_orders(conn, random.Random(f"{seed}:erp-orders"), customers, catalogue, clock)
        _insert_invoices(conn, random.Random(f"{seed}:erp-invoices"), customers, orders, clock)
        conn.executescript(ERP_TRIGGERS)
        _finish(conn, tmp, path)
    except BaseException:
        conn.close()
        tmp.unlink(missing_ok=True)
        raise


def _insert_erp_products(
    conn: sqlite3.Connection, rng: random.Random, catalogue: list[dict], crm_stock: dict[str, int], clock: _Clock
) -> None:
    products = []
    stock = []
    for product_id, product in enumerate(catalogue, 1):
        updated = _BASE_S - rng.randint(1, 500) * _DAY - rng.randint(0, _DAY - 1)
        products.append(
            (
                product_id,
                product["sku"],
                product["name"],
                product["unit_price"],
                product["is_active"],
                clock.ts(updated),
            )
        )
        levels = []
        for warehouse in sorted(rng.sample(_WAREHOUSES, rng.randint(1, 3)), key=_WAREHOUSES.index):
            # Inactive products are run down to zero; some active ones are out of stock too.
            empty = rng.random() < (0.8 if not product["is_active"] else 0.15)
            levels.append([product_id, warehouse, 0 if empty else rng.randint(1, 400)])
        # The CRM's copy must be stale: never equal to the ERP's real total.
        if sum(q for _, _, q in levels) == crm_stock.get(product["sku"], -1):
            levels[0][2] += 7
        stock.extend(levels)
    conn.executemany("INSERT INTO products VALUES (?,?,?,?,?,?)", products)
    conn.executemany("INSERT INTO stock_levels (product_id, warehouse, quantity) VALUES (?,?,?)", stock)


def _insert_customers(conn: sqlite3.Connection, rng: random.Random, approved: list[tuple], clock: _Clock) -> list[dict]:
    """~25% of approved CRM accounts as a previous sync left them, plus ~40 ERP-only customers."""
    r = rng.random
    terms = ["NET30"] * 5 + ["NET45"] * 2 + ["NET60"] * 2 + ["PREPAID"]
    limits = [5_000.0, 10_000.0, 15_000.0, 25_000.0, 50_000.0, 100_000.0]
    synced = [row for row in approved if r() < 0.25]
    # A few synced customers still carry the address from before the CRM was last edited.
    outdated = set(rng.sample(range(len(synced)), max(min(2, len(synced)), len(synced) // 16)))
    customers: list[dict] = []
    for index, (
        crm_id,
        name,
        email,
        phone,
        street,
        city,
        state,
        postcode,
        country,
        active,
        created_at,
        updated_at,
    ) in enumerate(synced):
        code = _STATE_BY_TEXT[state.strip().lower()]
        email = (email or "").strip().lower() or None
        updated = updated_at
        if index in outdated:
            street = _street(r)
            postcode = postcode[:3] + f"{int(r() * 100):02d}"
            created_s, updated_s = clock.seconds(created_at), clock.seconds(updated_at)
            updated = clock.ts(created_s + int(r() * (updated_s - created_s)))
        customers.append(
            {
                "crm_id": crm_id,
                "name": name.strip(),
                "email": email,
                "phone": phone,
                "street": street,
                "city": city,
                "state": US_STATES[code],
                "postcode": postcode,
                "country": country,
                "credit_limit": limits[int(r() * len(limits))],
                "payment_terms": terms[int(r() * len(terms))],
                "is_active": active,
                "updated_at": updated,
                "code": code,
            }
        )
    surnames = rng.sample(_LAST_NAMES, 30) + rng.sample(_PREFIXES, 10)
    kinds = ["Hardware", "Supply Co", "Industrial", "& Sons", "Equipment", "Wholesale", "Trading Co", "Mechanical"]
    for index, surname in enumerate(surnames):
        code = _STATE_POOL[int(r() * len(_STATE_POOL))]
        city, area, zip3 = _CITIES[code][int(r() * len(_CITIES[code]))]
        kind = kinds[int(r() * len(kinds))]
        slug = "".join(ch for ch in f"{surname}{kind}".lower() if ch.isalnum())
        customers.append(
            {
                "crm_id": None,
                "name": f"{surname} {kind}",
                "email": f"ap@{slug}.com" if r() < 0.85 else None,
                "phone": _phone(r, area),
                "street": _street(r),
                "city": city,
                "state": US_STATES[code],
                "postcode": f"{zip3}{int(r() * 100):02d}",
                "country": "US",
                "credit_limit": limits[int(r() * len(limits))],
                "payment_terms": terms[int(r() * len(terms))],
                "is_active": 0 if index % 17 == 16 else 1,
                "updated_at": clock.ts(_BASE_S - int(r() * 700 * _DAY)),
                "code": code,
            }
        )
    # Customer numbers were handed out over time, not in CRM order.
    rng.shuffle(customers)
    for number, customer in enumerate(customers, 10_001):
        customer["customer_number"] = number
    columns = [
        "customer_number",
        "crm_id",
        "name",
        "email",
        "phone",
        "street",
        "city",
        "state",
        "postcode",
        "country",
        "credit_limit",
        "payment_terms",
        "is_active",
        "updated_at",
    ]
    conn.executemany(
        f"INSERT INTO customers ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [tuple(c[k] for k in columns) for c in customers],
    )
    return customers


def _insert_orders(
    conn: sqlite3.Connection, rng: random.Random, customers: list[dict], catalogue: list[dict], clock: _Clock
) -> list[dict]:
    """~30 orders for ERP-only customers (entered in the ERP directly, so no CRM opportunity)."""
    r = rng.random
    erp_only = [c for c in customers if c["crm_id"] is None and c["is_active"]]
    active = sorted((p for p in catalogue if p["is_active"]), key=lambda p: p["unit_price"])
    statuses = ["open"] * 3 + ["shipped"] * 2 + ["invoiced"] * 5
    drafts = []
    for _ in range(30):
        customer = erp_only[int(r() * len(erp_only))]
        order_s = _BASE_S - (1 + int(r() * 200)) * _DAY - int(r() * 8 * 3600)
        drafts.append((order_s, customer))
    drafts.sort(key=lambda d: (d[0], d[1]["customer_number"]))  # numbers follow order dates
    orders: list[dict] = []
    order_rows, line_rows = [], []
    for order_number, (order_s, customer) in enumerate(drafts, 500_001):
        net = tax_total = 0.0
        target = 300 * 100 ** r()  # log-uniform, 300 to 30,000
        picks = _pick_lines(rng, target, rng.randint(1, 4), active)
        for line_no, (product, qty) in enumerate(picks, 1):
            discount = [0.0, 0.0, 0.0, 5.0, 10.0][int(r() * 5)]
            tax = _TAX_RATES[customer["code"]] if product["taxable"] else 0.0
            line_total = round(qty * product["unit_price"] * (1 - discount / 100), 2)
            net += line_total
            tax_total += line_total * tax / 100
            line_rows.append(
                (
                    order_number,
                    line_no,
                    None,
                    product["sku"],
                    product["name"],
                    qty,
                    product["unit_price"],
                    discount,
                    tax,
                    line_total,
                )
            )
        net, tax_total = round(net, 2), round(tax_total, 2)
        status = statuses[int(r() * len(statuses))]
        gross = round(net + tax_total, 2)
        updated = min(order_s + int(r() * 10 * _DAY), _BASE_S)
        order_rows.append(
            (
                order_number,
                customer["customer_number"],
                None,
                clock.day(order_s),
                "USD",
                status,
                net,
                tax_total,
                gross,
                clock.ts(updated),
            )
        )
        orders.append(
            {"order_number": order_number, "customer": customer, "status": status, "order_s": order_s, "gross": gross}
        )
    conn.executemany("INSERT INTO sales_orders VALUES (?,?,?,?,?,?,?,?,?,?)", order_rows)
    conn.executemany(
        "INSERT INTO sales_order_lines (order_number, line_no, crm_line_id, sku, "
        "description, quantity, unit_price, discount_pct, tax_pct, line_total) "
        "VALUES (?,?,?,?,?,?,?,?,?,?)",
        line_rows,
    )
    return orders


def _insert_invoices(
    conn: sqlite3.Connection, rng: random.Random, customers: list[dict], orders: list[dict], clock: _Clock
) -> None:
    """~200 invoices, mostly for CRM-linked customers; each paid, partly paid or unpaid."""
    r = rng.random
    linked = [c for c in customers if c["crm_id"] is not None]
    erp_only = [c for c in customers if c["crm_id"] is None]
    # Issued during 2026 (the numbering year), up to the day before BASE_TIME.
    year_start = _BASE_S - (BASE_TIME - datetime(BASE_TIME.year, 1, 1)).days * _DAY
    drafts = []  # (issued seconds, customer, order number or None, total)
    for order in orders:
        if order["status"] == "invoiced":
            issued = min(order["order_s"] + int(r() * 5 * _DAY), _BASE_S - _DAY)
            drafts.append((issued, order["customer"], order["order_number"], order["gross"]))
    while len(drafts) < 30:
        drafts.append((None, erp_only[int(r() * len(erp_only))], None, None))
    while len(drafts) < 200:
        drafts.append((None, (linked or erp_only)[int(r() * len(linked or erp_only))], None, None))
    invoices = []
    for issued, customer, order_number, total in drafts:
        if issued is None:
            issued = year_start + int(r() * (_BASE_S - _DAY - year_start))
            total = round(150 * 250 ** r(), 2)
        invoices.append((issued, customer, order_number, total))
    invoices.sort(key=lambda inv: (inv[0], inv[1]["customer_number"]))

    methods = ["ACH", "ACH", "WIRE", "CHECK", "CARD"]
    invoice_rows, payment_rows = [], []
    for index, (issued, customer, order_number, total) in enumerate(invoices, 1):
        number = f"INV-{BASE_TIME.year}-{index:05d}"
        due = issued + _TERMS_DAYS[customer["payment_terms"]] * _DAY
        x = r()
        if x < 0.5:  # paid in full, in one or two instalments that sum exactly to the total
            first = round(total * (0.3 + 0.4 * r()), 2) if r() < 0.3 else total
            amounts = [first] if first == total else [first, round(total - first, 2)]
        elif x < 0.7:  # partly paid
            amounts = [round(total * (0.2 + 0.6 * r()), 2)]
        else:  # unpaid: overdue when its due date has passed BASE_TIME
            amounts = []
        paid_s = issued
        for amount in amounts:
            paid_s = min(paid_s + int(r() * (_TERMS_DAYS[customer["payment_terms"]] + 20) * _DAY), _BASE_S)
            payment_rows.append((number, clock.day(paid_s), amount, methods[int(r() * len(methods))]))
        invoice_rows.append(
            (
                number,
                customer["customer_number"],
                order_number,
                clock.day(issued),
                clock.day(due),
                total,
                "USD",
                clock.ts(paid_s),
            )
        )
    conn.executemany("INSERT INTO invoices VALUES (?,?,?,?,?,?,?,?)", invoice_rows)
    conn.executemany("INSERT INTO payments (invoice_number, paid_on, amount, method) VALUES (?,?,?,?)", payment_rows)


# ---------------------------------------------------------------------------------------------


def create_demo_databases(crm_path: Path, erp_path: Path, *, seed: int = 7, accounts: int = 600) -> None:
    """Write both demo databases; the ERP is derived from the CRM just written."""
    create_crm_database(crm_path, seed=seed, accounts=accounts)
    create_erp_database(erp_path, crm_path=crm_path, seed=seed)
