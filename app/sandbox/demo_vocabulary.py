"""The words and figures the demo data is made of: US states and their cities, tax rates, the parts
of company and person names, streets, deal kinds, warehouses and payment terms."""

from __future__ import annotations

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
CITIES: dict[str, list[tuple[str, str, str]]] = {
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
TAX_RATES: dict[str, float] = {
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
STATE_POOL: list[str] = (
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
STATE_SPELLINGS: dict[str, tuple[str, ...]] = {
    code: (code, code.lower(), full, f" {full} ", full.upper()) for code, full in US_STATES.items()
}
SPELLING_POOL: list[int] = [0] * 7 + [1] * 2 + [2] * 7 + [3] * 2 + [4] * 2

# Any spelling above (trimmed, lower-cased) back to the code, for the ERP's clean copy.
STATE_BY_TEXT: dict[str, str] = {text.lower(): code for code, full in US_STATES.items() for text in (code, full)}

PREFIXES = [
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
CORES = [
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
TRADES = [
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
SUFFIXES = ["Inc", "Inc.", "LLC", "LLC", "Co", "Corp", "Ltd", "Group", "", "", ""]
ROLES = ["info", "sales", "billing", "accounts", "office", "hello", "orders", "contact", "ap", "purchasing"]
STREETS = [
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
STREET_TYPES = ["St", "Street", "Ave", "Avenue", "Rd", "Blvd", "Dr", "Way", "Pkwy"]
FIRST_NAMES = [
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
LAST_NAMES = [
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
TITLES = [
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
DEAL_KINDS = [
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
WAREHOUSES = ["EAST", "WEST", "CENTRAL"]
TERMS_DAYS = {"NET30": 30, "NET45": 45, "NET60": 60, "PREPAID": 0}
