"""The demo's product catalogue, the same in the CRM and the ERP, and picking products for a deal."""

from __future__ import annotations

import random
from typing import TypedDict


class Product(TypedDict):
    sku: str
    name: str
    unit_price: float
    is_active: int
    taxable: bool


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


def product_catalogue(seed: int = CATALOGUE_SEED) -> list[Product]:
    """The ERP's 60 products (sku, name, unit_price, is_active, taxable); ~10 are inactive.

    Both generators call it with the default seed, so skus and prices always agree."""
    rng = random.Random(f"catalogue:{seed}")
    products: list[Product] = []
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


def pick_lines(rng: random.Random, target: float, n_lines: int, active: list[Product]) -> list[tuple[Product, int]]:
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
