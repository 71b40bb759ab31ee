"""Fixed vocabularies of the synthetic bank: names, places, merchants, services.

Everything here is a constant tuple so that the integer codes the generator draws
mean the same thing in every chunk and every run.
"""

from __future__ import annotations

from typing import NamedTuple

BANK_NAME = "Northbridge Bank"
CURRENCY = "EUR"

CATEGORIES = (
    "income",
    "rent",
    "mortgage_payment",
    "groceries",
    "dining",
    "travel",
    "transport",
    "fuel",
    "utilities",
    "telecom",
    "subscriptions",
    "shopping",
    "entertainment",
    "health",
    "education",
    "insurance",
    "cash",
    "transfers",
    "fees",
    "gambling",
    "loan_payment",
    "card_payment",
)
CATEGORY_CODE = {name: code for code, name in enumerate(CATEGORIES)}

CHANNELS = ("card_present", "online", "direct_debit", "transfer", "atm")
CHANNEL_CODE = {name: code for code, name in enumerate(CHANNELS)}

GENDERS = ("female", "male", "non_binary")
MARITAL_STATUSES = ("single", "married", "divorced", "widowed", "civil_partnership")
EMPLOYMENT_STATUSES = ("employed", "self_employed", "unemployed", "retired", "student")
HOUSING = ("renter", "mortgage", "owner", "with_parents")

FEMALE_FIRST = (
    "Aoife",
    "Siobhán",
    "Niamh",
    "Ciara",
    "Sinéad",
    "Emma",
    "Sarah",
    "Laura",
    "Rachel",
    "Orla",
    "Gráinne",
    "Caoimhe",
    "Róisín",
    "Éabha",
    "Saoirse",
    "Clodagh",
    "Deirdre",
    "Fiona",
    "Maeve",
    "Mary",
    "Anne",
    "Catherine",
    "Margaret",
    "Bridget",
    "Eileen",
    "Sophie",
    "Chloe",
    "Hannah",
    "Grace",
    "Ava",
    "Lucy",
    "Amy",
    "Katie",
    "Megan",
    "Jessica",
    "Olivia",
    "Isabel",
    "Zoe",
    "Anna",
    "Eva",
    "Julia",
    "Marta",
    "Agnieszka",
    "Priya",
    "Fatima",
    "Ana",
    "Elena",
    "Yvonne",
    "Denise",
    "Paula",
    "Helen",
    "Louise",
    "Claire",
    "Michelle",
    "Lisa",
    "Karen",
    "Nora",
    "Ailbhe",
)
MALE_FIRST = (
    "Seán",
    "Conor",
    "Ciarán",
    "Cian",
    "Darragh",
    "Eoin",
    "Oisín",
    "Pádraig",
    "Liam",
    "Jack",
    "James",
    "John",
    "Michael",
    "Patrick",
    "Thomas",
    "David",
    "Daniel",
    "Mark",
    "Paul",
    "Brian",
    "Declan",
    "Dónal",
    "Fionn",
    "Niall",
    "Ronan",
    "Shane",
    "Kevin",
    "Colm",
    "Diarmuid",
    "Tadhg",
    "Cathal",
    "Stephen",
    "Gerard",
    "Martin",
    "Peter",
    "Alan",
    "Adam",
    "Luke",
    "Ryan",
    "Aaron",
    "Noah",
    "Ethan",
    "Harry",
    "Tomasz",
    "Piotr",
    "Rahul",
    "Mohammed",
    "Lucas",
    "Mateo",
    "Andrei",
    "Joseph",
    "Anthony",
    "Kieran",
    "Fergal",
    "Barry",
    "Philip",
    "Eamon",
    "Killian",
)
NEUTRAL_FIRST = (
    "Alex",
    "Sam",
    "Jordan",
    "Robin",
    "Charlie",
    "Jamie",
    "Rowan",
    "Ash",
    "Riley",
    "Morgan",
    "Quinn",
    "Casey",
    "Ari",
    "Eden",
    "River",
    "Sasha",
)
LAST_NAMES = (
    "Murphy",
    "Kelly",
    "O'Sullivan",
    "Walsh",
    "Smith",
    "O'Brien",
    "Byrne",
    "Ryan",
    "O'Connor",
    "O'Neill",
    "O'Reilly",
    "Doyle",
    "McCarthy",
    "Gallagher",
    "O'Doherty",
    "Kennedy",
    "Lynch",
    "Murray",
    "Quinn",
    "Moore",
    "McLoughlin",
    "O'Carroll",
    "Connolly",
    "Daly",
    "O'Connell",
    "Wilson",
    "Dunne",
    "Brennan",
    "Burke",
    "Collins",
    "Campbell",
    "Clarke",
    "Johnston",
    "Hughes",
    "O'Farrell",
    "Fitzgerald",
    "Brown",
    "Martin",
    "Maguire",
    "Nolan",
    "Flynn",
    "Thompson",
    "O'Callaghan",
    "O'Donnell",
    "Duffy",
    "O'Mahony",
    "Boyle",
    "Healy",
    "O'Shea",
    "White",
    "Sweeney",
    "Hayes",
    "Kavanagh",
    "Power",
    "McGrath",
    "Moran",
    "Brady",
    "Stewart",
    "Casey",
    "Foley",
    "Fitzpatrick",
    "O'Leary",
    "McDonnell",
    "MacMahon",
    "Donnelly",
    "Regan",
    "Donovan",
    "Burns",
    "Flanagan",
    "Mullan",
    "Barry",
    "Kane",
    "Robinson",
    "Cunningham",
    "Griffin",
    "Kenny",
    "Sheehan",
    "Ward",
    "Whelan",
    "Lyons",
    "Reid",
    "Graham",
    "Higgins",
    "Cullen",
    "Keane",
    "King",
    "Maher",
    "McKenna",
    "Bell",
    "Scott",
    "Hogan",
    "O'Keeffe",
    "Magee",
    "McNamara",
    "McDonald",
    "Hurley",
    "Nowak",
    "Kowalski",
    "Wiśniewski",
    "Silva",
    "Santos",
    "Popescu",
    "Khan",
    "Patel",
    "Ahmed",
    "Garcia",
    "Rossi",
    "Müller",
    "Novak",
    "Horvat",
    "Costa",
    "Ferreira",
)
EMAIL_DOMAINS = (
    "gmail.com",
    "gmail.com",
    "gmail.com",
    "outlook.com",
    "hotmail.com",
    "yahoo.ie",
    "eircom.net",
    "icloud.com",
    "protonmail.com",
    "live.ie",
)
MOBILE_PREFIXES = ("83", "85", "86", "87", "89")


class Region(NamedTuple):
    name: str
    weight: float
    towns: tuple[str, ...]
    routing_keys: tuple[str, ...]
    rent_median: float


REGIONS = (
    Region(
        "Dublin",
        0.30,
        ("Dublin", "Dún Laoghaire", "Swords"),
        ("D01", "D02", "D04", "D06", "D08", "D12", "D15", "D24", "A94", "K67"),
        2100.0,
    ),
    Region("Cork", 0.13, ("Cork", "Mallow", "Cobh"), ("T12", "T23", "P31", "P51", "P43"), 1550.0),
    Region("Galway", 0.08, ("Galway", "Tuam"), ("H91", "H54", "H62"), 1450.0),
    Region("Limerick", 0.07, ("Limerick", "Newcastle West"), ("V94", "V42", "V35"), 1350.0),
    Region("Waterford", 0.05, ("Waterford", "Dungarvan"), ("X91", "X35"), 1200.0),
    Region("Kerry", 0.06, ("Tralee", "Killarney"), ("V92", "V93"), 1150.0),
    Region("Kildare", 0.09, ("Naas", "Newbridge", "Maynooth"), ("W91", "W12", "W23"), 1700.0),
    Region("Meath", 0.08, ("Navan", "Ashbourne"), ("C15", "A84", "A85"), 1600.0),
    Region("Donegal", 0.06, ("Letterkenny", "Donegal Town"), ("F92", "F93", "F94"), 950.0),
    Region("Wexford", 0.08, ("Wexford", "Gorey", "Enniscorthy"), ("Y35", "Y25", "Y21"), 1150.0),
)
EIRCODE_ALPHABET = "ACDEFHKNPRTVWXY0123456789"

# Holiday destinations: the only foreign countries ordinary customers ever see.
TRAVEL_DESTINATIONS = (
    ("Barcelona", "ES"),
    ("Málaga", "ES"),
    ("Madrid", "ES"),
    ("Santa Cruz de Tenerife", "ES"),
    ("Lisbon", "PT"),
    ("Faro", "PT"),
    ("Paris", "FR"),
    ("Nice", "FR"),
    ("Rome", "IT"),
    ("Milan", "IT"),
    ("London", "GB"),
    ("Manchester", "GB"),
    ("Edinburgh", "GB"),
    ("New York", "US"),
    ("Boston", "US"),
    ("Amsterdam", "NL"),
    ("Berlin", "DE"),
    ("Munich", "DE"),
    ("Dubrovnik", "HR"),
    ("Athens", "GR"),
    ("Prague", "CZ"),
    ("Kraków", "PL"),
    ("Vienna", "AT"),
)
# Used only by injected suspicious transactions: never a holiday destination.
UNUSUAL_PLACES = (
    ("Lagos", "NG"),
    ("Moscow", "RU"),
    ("São Paulo", "BR"),
    ("Manila", "PH"),
    ("Jakarta", "ID"),
    ("Nairobi", "KE"),
    ("Bogotá", "CO"),
    ("Karachi", "PK"),
    ("Ho Chi Minh City", "VN"),
    ("Minsk", "BY"),
    ("Caracas", "VE"),
    ("Dhaka", "BD"),
)

EMPLOYERS = (
    "HSE",
    "Accenture Ireland",
    "Intel Ireland",
    "Google Ireland",
    "Meta Platforms Ireland",
    "Apple Operations Europe",
    "Pfizer Ireland",
    "Medtronic",
    "Kerry Group",
    "Glanbia",
    "CRH",
    "Tesco Ireland",
    "Dunnes Stores",
    "Dublin City Council",
    "Cork County Council",
    "Department of Education",
    "An Garda Síochána",
    "Irish Rail",
    "Aer Lingus",
    "Ryanair",
    "Bank of Ireland",
    "AIB",
    "Deloitte Ireland",
    "PwC Ireland",
    "KPMG",
    "EY Ireland",
    "Salesforce Ireland",
    "Microsoft Ireland",
    "Stripe",
    "Workday",
    "Musgrave Group",
    "Primark",
    "ESB",
    "Ervia",
    "Trinity College Dublin",
    "University College Cork",
    "University of Galway",
    "Abbott Ireland",
    "Boston Scientific",
    "Stryker",
    "Dawn Meats",
    "Lidl Ireland",
    "Aldi Ireland",
    "SuperValu",
    "Circle K Ireland",
    "Bus Éireann",
    "RTÉ",
    "Eir",
    "Vodafone Ireland",
    "Sisk Group",
    "Glen Dimplex",
    "Irish Life",
    "Zurich Ireland",
    "Enterprise Ireland",
    "Beaumont Hospital",
    "St James's Hospital",
    "Mater Hospital",
    "An Post",
    "Smurfit Westrock",
    "Kingspan",
)
CLIENT_NAMES = (
    "Byrne Construction Ltd",
    "Atlantic Design Studio",
    "Greenway Landscaping",
    "Harbour Media Ltd",
    "Kelly & Co Solicitors",
    "Westside Dental",
    "Shannon Logistics",
    "Murphy Engineering",
    "Corrib Consulting",
    "Liffey Digital",
    "Burren Events",
    "Emerald Accountants",
)
LANDLORDS = (
    "Sherry FitzGerald Lettings",
    "Property Team Lettings",
    "Hooke & MacDonald",
    "DNG Lettings",
    "Lisney Lettings",
    "Kennedy Property Mgmt",
    "J. Byrne (landlord)",
    "M. O'Neill (landlord)",
    "Ires REIT",
    "Hines Residential",
    "Kennedy Wilson Residential",
    "P. Walsh (landlord)",
    "Cluid Housing",
    "Respond Housing",
    "Premier Lettings",
    "Finnegan Menton",
)
TRANSFER_PEOPLE = (
    "Revolut transfer",
    "Transfer to A. Murphy",
    "Transfer to C. Kelly",
    "Transfer to S. Ryan",
    "Transfer to M. Byrne",
    "Transfer to J. Walsh",
    "Transfer to K. Doyle",
    "Transfer to E. Lynch",
    "Transfer to N. Daly",
    "Transfer to P. Brennan",
    "Transfer to R. Burke",
    "Transfer to L. Nolan",
    "Credit Union lodgement",
    "Transfer to D. Quinn",
    "Transfer to O. Healy",
)
TRANSFER_SENDERS = tuple(
    "Transfer from " + name.removeprefix("Transfer to ")
    for name in TRANSFER_PEOPLE
    if name.startswith("Transfer to ")
) + ("Revolut payment received",)


class Merchant(NamedTuple):
    name: str
    category: str
    mcc: str  # "" where the payment has no card scheme merchant category
    online_share: float  # 0 always in a shop, 1 always card-not-present
    country: str  # where the card-not-present merchant is registered
    weight: float = 1.0  # popularity among customers


def _shops(
    category: str, mcc: str, online: float, names: tuple[str, ...], country: str = "IE"
) -> tuple[Merchant, ...]:
    return tuple(Merchant(n, category, mcc, online, country, 1.0 / (1 + i * 0.15)) for i, n in enumerate(names))


GROCERS = _shops(
    "groceries",
    "5411",
    0.04,
    (
        "Tesco",
        "Dunnes Stores",
        "SuperValu",
        "Lidl",
        "Aldi",
        "Centra",
        "Spar",
        "Marks & Spencer Food",
        "Londis",
        "Fresh The Good Food Market",
        "Daybreak",
        "Iceland",
    ),
)
DINING = _shops(
    "dining",
    "5812",
    0.0,
    (
        "Supermac's",
        "Eddie Rockets",
        "Milano",
        "Nando's",
        "Wagamama",
        "Bunsen",
        "Captain America's",
        "Elephant & Castle",
        "The Brazen Head",
        "Bewley's Café",
        "Insomnia Coffee",
        "Starbucks",
        "Costa Coffee",
        "Butlers Chocolate Café",
        "McDonald's",
        "Burger King",
        "Zambrero",
        "Boojum",
        "Apache Pizza",
        "Four Star Pizza",
        "O'Neill's Pub",
        "The Temple Bar",
        "Neary's",
        "Kehoe's",
    ),
) + _shops("dining", "5814", 1.0, ("Deliveroo", "Just Eat", "Uber Eats"))
SHOPPING = (
    _shops(
        "shopping",
        "5311",
        0.1,
        ("Penneys", "Dunnes Stores Clothing", "Brown Thomas", "Arnotts", "TK Maxx", "Marks & Spencer"),
    )
    + _shops(
        "shopping", "5651", 0.2, ("Zara", "H&M", "Next", "River Island", "JD Sports", "Lifestyle Sports", "Schuh")
    )
    + _shops("shopping", "5732", 0.35, ("Harvey Norman", "Currys", "DID Electrical", "Power City", "Apple Store"))
    + _shops("shopping", "5712", 0.2, ("IKEA", "Woodie's", "Homebase", "EZ Living"))
    + _shops("shopping", "5999", 0.2, ("Argos", "Smyths Toys", "Easons", "Dealz", "Mr Price", "Boots"))
    + _shops("shopping", "5942", 1.0, ("Amazon.ie Marketplace", "ASOS", "Shein", "Zalando", "eBay", "Etsy"), "LU")
)
ENTERTAINMENT = (
    _shops(
        "entertainment",
        "7832",
        0.3,
        (
            "Odeon Cinemas",
            "Cineworld",
            "IMC Cinemas",
            "Omniplex",
            "Light House Cinema",
        ),
    )
    + _shops("entertainment", "7922", 1.0, ("Ticketmaster.ie", "Eventbrite", "3Arena", "Bord Gáis Energy Theatre"))
    + _shops("entertainment", "5816", 1.0, ("Steam Purchase", "PlayStation Store", "Nintendo eShop"), "US")
    + _shops(
        "entertainment",
        "7933",
        0.0,
        ("Leisureplex Bowling", "Escape Rooms Ireland", "Wildlife Park Tickets", "GAA Match Tickets"),
    )
)
HEALTH = (
    _shops(
        "health",
        "5912",
        0.05,
        (
            "Boots Pharmacy",
            "LloydsPharmacy",
            "Hickey's Pharmacy",
            "McCabes Pharmacy",
            "Sam McCauley Chemists",
        ),
    )
    + _shops(
        "health",
        "8011",
        0.0,
        ("Dr. Kearney GP Practice", "Merrion Medical Clinic", "VHI SwiftCare", "Northside Family Practice"),
    )
    + _shops("health", "8021", 0.0, ("Smiles Dental", "Clane Dental Clinic", "Specsavers Opticians"))
)
TRANSPORT = (
    _shops("transport", "4111", 0.6, ("Leap Card Top-Up", "Dublin Bus", "Bus Éireann", "Luas"))
    + _shops("transport", "4112", 0.7, ("Irish Rail",))
    + _shops("transport", "4121", 1.0, ("Uber", "FREENOW", "Bolt"))
    + _shops("transport", "7523", 0.2, ("Q-Park", "Payzone Parking", "eFlow Tolls"))
)
FUEL = _shops("fuel", "5541", 0.0, ("Circle K", "Applegreen", "Maxol", "Texaco", "Emo", "Top Oil"))
DOMESTIC_TRAVEL = _shops(
    "travel",
    "7011",
    1.0,
    (
        "Booking.com",
        "Airbnb",
        "Hotels.com",
        "The Europe Hotel Killarney",
        "The g Hotel Galway",
        "Irish Ferries",
        "Stena Line",
        "Great Southern Hotel",
    ),
    "NL",
)
FLIGHTS = _shops("travel", "4511", 1.0, ("Ryanair", "Aer Lingus", "Emirates", "easyJet", "Lufthansa"))
ABROAD_SHOPS = (
    _shops(
        "dining",
        "5812",
        0.0,
        (
            "Le Petit Bistro",
            "Trattoria Da Enzo",
            "Taverna Olympia",
            "Hard Rock Cafe",
            "Café Central",
            "Tapas Bar La Bodega",
        ),
    )
    + _shops(
        "shopping", "5311", 0.0, ("El Corte Inglés", "Galeries Lafayette", "Duty Free Shop", "Souvenir Market")
    )
    + _shops("transport", "4121", 0.0, ("City Taxi", "Metro Ticket Machine", "Hertz Car Rental"))
    + _shops("entertainment", "7991", 0.0, ("Museum Tickets", "City Sightseeing Tour"))
)
GAMBLING = _shops(
    "gambling", "7995", 0.8, ("Paddy Power", "Bet365", "BoyleSports", "Ladbrokes", "PokerStars", "Betfair"), "IE"
)
UTILITIES = _shops(
    "utilities",
    "4900",
    1.0,
    ("Electric Ireland", "Bord Gáis Energy", "SSE Airtricity", "Energia", "Flogas", "Panda Waste"),
)
TELECOM = _shops(
    "telecom",
    "4814",
    1.0,
    ("Vodafone", "Three Ireland", "Eir", "Virgin Media", "Sky Ireland", "GoMo", "Tesco Mobile"),
)
INSURANCE = _shops(
    "insurance",
    "6300",
    1.0,
    (
        "VHI Healthcare",
        "Laya Healthcare",
        "Irish Life Health",
        "Aviva Insurance",
        "Zurich Insurance",
        "AXA Insurance",
        "FBD Insurance",
        "Allianz Ireland",
    ),
)
EDUCATION = _shops(
    "education",
    "8220",
    1.0,
    (
        "Trinity College Dublin Fees",
        "UCD Fees",
        "University of Limerick Fees",
        "Udemy",
        "Coursera",
        "School Books Direct",
        "Gaelscoil Voluntary Contribution",
    ),
)
CHILDREN_SHOPS = _shops("shopping", "5641", 0.3, ("Mothercare", "Smyths Toys Baby", "Boots Baby", "Babyshop.ie"))
WEDDING_SHOPS = _shops(
    "shopping",
    "5944",
    0.2,
    (
        "Weir & Sons Jewellers",
        "Louis Copeland",
        "Brides of Dublin",
        "The K Club Events",
        "Ballymagarvey Village",
    ),
)
MOVING_SHOPS = _shops(
    "shopping", "4214", 0.3, ("Movers Ireland Ltd", "Allied Pickfords", "IKEA Delivery", "DFS Furniture")
)
CAR_DEALERS = _shops(
    "shopping", "5511", 0.0, ("Joe Duffy Motors", "Spirit Motor Group", "Bolands Toyota", "Frank Hogan Ltd")
)
# Used only by injected suspicious transactions: no ordinary customer buys here.
UNSEEN_MERCHANTS = _shops(
    "shopping",
    "5999",
    1.0,
    (
        "QuickGift Cards Intl",
        "CryptoFast Exchange",
        "ElectroDeals 24h",
        "Lux Watches Outlet",
        "GameCoins Mega Store",
        "Global Wire Shop",
        "Premium Voucher Hub",
        "TopUp Express Online",
    ),
    "GB",
)

BANK_MERCHANTS = (
    Merchant(f"{BANK_NAME} Credit Card", "card_payment", "", 0.0, "IE"),
    Merchant(f"{BANK_NAME} Personal Loan", "loan_payment", "", 0.0, "IE"),
    Merchant(f"{BANK_NAME} Car Finance", "loan_payment", "", 0.0, "IE"),
    Merchant(f"{BANK_NAME} Mortgage", "mortgage_payment", "", 0.0, "IE"),
    Merchant("Overdraft interest", "fees", "", 0.0, "IE"),
    Merchant("Unpaid item fee", "fees", "", 0.0, "IE"),
    Merchant("Late payment fee", "fees", "", 0.0, "IE"),
    Merchant("Plus account monthly fee", "fees", "", 0.0, "IE"),
    Merchant("Foreign ATM fee", "fees", "", 0.0, "IE"),
    Merchant(f"Transfer to {BANK_NAME} Savings", "transfers", "", 0.0, "IE"),
    Merchant("Transfer from current account", "transfers", "", 0.0, "IE"),
    Merchant("Savings interest", "income", "", 0.0, "IE"),
)


class Service(NamedTuple):
    name: str
    families: tuple[str, ...]
    monthly_price: float | None
    annual_price: float | None
    risen_price: float | None  # the monthly price after a price rise
    mcc: str
    country: str
    weight: float


# Subscription services; families overlap on purpose (YouTube Premium is both video
# and music, Microsoft 365 is cloud storage and productivity).
SERVICES = (
    Service("Netflix", ("video_streaming",), 12.99, None, 14.99, "4899", "NL", 10.0),
    Service("Disney+", ("video_streaming",), 8.99, 89.90, 10.99, "4899", "NL", 5.0),
    Service("Amazon Prime", ("video_streaming", "shopping_membership"), 6.99, 69.00, 8.99, "5968", "LU", 5.0),
    Service("Apple TV+", ("video_streaming",), 9.99, None, 11.99, "4899", "IE", 2.0),
    Service("NOW", ("video_streaming",), 12.99, None, 15.99, "4899", "GB", 2.0),
    Service("YouTube Premium", ("video_streaming", "music_streaming"), 12.99, None, 13.99, "5815", "IE", 2.5),
    Service("Spotify", ("music_streaming",), 10.99, None, 12.99, "5815", "SE", 9.0),
    Service("Apple Music", ("music_streaming",), 10.99, 109.00, None, "5815", "IE", 3.0),
    Service("Deezer", ("music_streaming",), 11.99, None, None, "5815", "FR", 0.8),
    Service("Apple iCloud+", ("cloud_storage",), 2.99, None, 3.99, "5815", "IE", 6.0),
    Service("Google One", ("cloud_storage",), 1.99, 19.99, 2.99, "5815", "IE", 3.0),
    Service("Dropbox", ("cloud_storage",), 11.99, 119.88, None, "5734", "IE", 1.0),
    Service("Microsoft 365", ("cloud_storage", "productivity"), 10.00, 99.00, 11.00, "5734", "IE", 3.0),
    Service("Adobe Creative Cloud", ("productivity",), 24.59, None, 26.43, "5734", "IE", 0.8),
    Service("Audible", ("audiobooks",), 9.99, None, None, "5815", "LU", 1.5),
    Service("Flyefit", ("gym",), 29.99, 299.00, 34.99, "7997", "IE", 2.5),
    Service("PureGym", ("gym",), 24.99, None, 27.99, "7997", "IE", 2.0),
    Service("Gym Plus", ("gym",), 34.99, None, None, "7997", "IE", 1.5),
    Service("The Irish Times Digital", ("news",), 15.00, 150.00, 17.00, "5994", "IE", 1.5),
    Service("The Economist", ("news",), None, 199.00, None, "5994", "GB", 0.5),
    Service("PlayStation Plus", ("gaming",), 8.99, 71.99, 10.99, "5816", "GB", 2.0),
    Service("Xbox Game Pass", ("gaming",), 12.99, None, 14.99, "5816", "IE", 1.5),
    Service("HelloFresh", ("meal_kit",), 59.96, None, 63.96, "5499", "NL", 1.0),
    Service("Tinder Gold", ("dating",), 14.99, None, None, "7273", "US", 1.0),
    Service("Bumble Premium", ("dating",), 16.99, None, None, "7273", "US", 0.7),
    Service("Headspace", ("wellbeing",), 12.99, 57.99, None, "5815", "US", 0.8),
    Service("Duolingo Super", ("learning",), None, 83.99, None, "5815", "US", 1.0),
    Service("Strava", ("wellbeing",), 7.99, 59.99, None, "5815", "US", 0.8),
)
SERVICE_MERCHANTS = tuple(Merchant(s.name, "subscriptions", s.mcc, 1.0, s.country, s.weight) for s in SERVICES)

ALL_MERCHANT_GROUPS: tuple[tuple[Merchant, ...], ...] = (
    GROCERS,
    DINING,
    SHOPPING,
    ENTERTAINMENT,
    HEALTH,
    TRANSPORT,
    FUEL,
    DOMESTIC_TRAVEL,
    FLIGHTS,
    ABROAD_SHOPS,
    GAMBLING,
    UTILITIES,
    TELECOM,
    INSURANCE,
    EDUCATION,
    CHILDREN_SHOPS,
    WEDDING_SHOPS,
    MOVING_SHOPS,
    CAR_DEALERS,
    UNSEEN_MERCHANTS,
    BANK_MERCHANTS,
    SERVICE_MERCHANTS,
)

# Product codes as in knowledge/products.yaml.
CHECKING_PRODUCTS = ("CHK-ESSENTIAL", "CHK-PLUS")
SAVINGS_PRODUCTS = ("SAV-EASY", "SAV-FIXED12", "SAV-GOAL", "SAV-TAXFREE")
CARD_PRODUCTS = ("CC-CLASSIC", "CC-CASHBACK", "CC-TRAVEL", "CC-PREMIUM", "CC-BUILDER", "CC-BT0")
PERSONAL_LOAN_PRODUCTS = ("PL-STANDARD", "PL-CONSOLIDATE")
AUTO_LOAN_PRODUCTS = ("AUTO-NEW", "AUTO-USED")
MORTGAGE_PRODUCTS = ("MTG-FTB-FIXED5", "MTG-TRACKER", "MTG-REMORTGAGE")
INVESTMENT_PRODUCTS = ("INV-CAUTIOUS", "INV-BALANCED", "INV-GROWTH", "INV-MANAGED")
APR_RANGES = {
    "CHK-PLUS": (15.9, 15.9),
    "CC-CLASSIC": (18.9, 26.9),
    "CC-CASHBACK": (21.9, 27.9),
    "CC-TRAVEL": (22.9, 28.9),
    "CC-PREMIUM": (19.9, 23.9),
    "CC-BUILDER": (29.9, 35.9),
    "CC-BT0": (18.9, 24.9),
    "PL-STANDARD": (6.9, 18.9),
    "PL-CONSOLIDATE": (7.9, 21.9),
    "AUTO-NEW": (4.9, 12.9),
    "AUTO-USED": (6.9, 14.9),
    "MTG-FTB-FIXED5": (4.5, 5.3),
    "MTG-TRACKER": (4.2, 5.4),
    "MTG-REMORTGAGE": (4.4, 5.2),
}
CARD_LIMITS = {
    "CC-CLASSIC": (500, 8000),
    "CC-CASHBACK": (1000, 12000),
    "CC-TRAVEL": (2000, 20000),
    "CC-PREMIUM": (10000, 50000),
    "CC-BUILDER": (200, 2000),
    "CC-BT0": (1000, 15000),
}
LATE_FEE = {"credit_card": 12.0, "personal_loan": 12.0, "auto_loan": 12.0, "mortgage": 25.0}
PLUS_MONTHLY_FEE = 12.0

LIFE_EVENTS = ("job_loss", "new_baby", "moving_house", "wedding", "new_car")
ANOMALY_KINDS = ("large_amount", "foreign_country", "odd_hour", "velocity_burst", "new_merchant")
SEGMENTS = (
    "financially_stretched",
    "student",
    "retiree",
    "young_family",
    "traveller",
    "high_earner_saver",
    "foodie",
    "shopper",
    "commuter",
    "everyday_budgeter",
)
