"""Word pools the generated company profiles draw from (fictional people, real places)."""

from __future__ import annotations

from dataclasses import dataclass

# fmt: off
FIRST_NAMES = (  # noqa: SIM905
    "Dana Morgan Priya Marcus Elena Jordan Aisha Daniel Naomi Victor Grace Rafael Hannah "
    "Samuel Leila Owen Mei Tomas Clara Andre Ingrid Julian Rosa Kenji Alicia Benjamin "
    "Farah Lucas Nadia Patrick Sofia Theo Yvonne Gabriel Imani Oscar Renee Elliot Camila "
    "Douglas"
).split()
LAST_NAMES = (  # noqa: SIM905
    "Whitfield Castellano Okafor Lindqvist Brennan Takahashi Moreau Halvorsen Delgado "
    "Ashby Novak Prescott Ramanathan Keller Abernathy Sato Fairbanks Oyelaran Lachance "
    "Whitmore Varga Pemberton Quintero Huxley Marchetti Sorensen Bellamy Nakamura Greer "
    "Calloway Esposito Thornbury Adeyemi Kowalski Sterling Vance Hollis Ferreira Lindgren"
    " Mercer"
).split()
# fmt: on

#: (city, state, postcode, area code) for US headquarters.
# fmt: off
US_CITIES = (
    ("Seattle", "WA", "98101", "206"), ("San Francisco", "CA", "94105", "415"),
    ("Austin", "TX", "78701", "512"), ("Chicago", "IL", "60606", "312"),
    ("New York", "NY", "10001", "212"), ("Boston", "MA", "02110", "617"),
    ("Denver", "CO", "80202", "303"), ("Atlanta", "GA", "30303", "404"),
    ("Minneapolis", "MN", "55402", "612"), ("Portland", "OR", "97204", "503"),
    ("Columbus", "OH", "43215", "614"), ("Nashville", "TN", "37203", "615"),
    ("Salt Lake City", "UT", "84101", "801"), ("Dallas", "TX", "75201", "214"),
    ("San Diego", "CA", "92101", "619"), ("Pittsburgh", "PA", "15222", "412"),
    ("Raleigh", "NC", "27601", "919"), ("Phoenix", "AZ", "85004", "602"),
    ("Los Angeles", "CA", "90017", "213"), ("Miami", "FL", "33131", "305"),
    ("Philadelphia", "PA", "19103", "215"), ("Kansas City", "MO", "64105", "816"),
    ("Milwaukee", "WI", "53202", "414"), ("Charlotte", "NC", "28202", "704"),
)
# fmt: on

#: ccTLD -> (country code, country name, [(city, region, postcode)], phone prefix).
COUNTRIES: dict[str, tuple[str, str, tuple[tuple[str, str, str], ...], str]] = {
    "uk": (
        "GB",
        "United Kingdom",
        (("London", "England", "EC2A 4BX"), ("Manchester", "England", "M1 3BN")),
        "+44 20 7946 0",
    ),
    "de": (
        "DE",
        "Germany",
        (
            ("Berlin", "Berlin", "10115"),
            ("Munich", "Bavaria", "80331"),
            ("Hamburg", "Hamburg", "20095"),
        ),
        "+49 30 901820",
    ),
    "fr": (
        "FR",
        "France",
        (("Paris", "Ile-de-France", "75002"), ("Lyon", "Auvergne-Rhone-Alpes", "69002")),
        "+33 1 84 88 0",
    ),
    "nl": (
        "NL",
        "Netherlands",
        (("Amsterdam", "North Holland", "1017 CE"), ("Utrecht", "Utrecht", "3511 AB")),
        "+31 20 794 0",
    ),
    "ca": (
        "CA",
        "Canada",
        (("Toronto", "ON", "M5V 2T6"), ("Vancouver", "BC", "V6B 1A1")),
        "+1-416-555-0",
    ),
    "au": (
        "AU",
        "Australia",
        (("Sydney", "NSW", "2000"), ("Melbourne", "VIC", "3000")),
        "+61 2 5550 0",
    ),
}
#: Where a company under a generic TLD is based when it is not in the US.
ABROAD = ("uk", "de", "fr", "nl", "ca", "au")

STREETS = (
    "Market Street",
    "Main Street",
    "Commerce Way",
    "Harbor Boulevard",
    "Innovation Drive",
    "Lake Drive",
    "Park Avenue",
    "Congress Avenue",
    "Pine Street",
    "Riverside Parkway",
    "Madison Street",
    "Broadway",
    "Technology Way",
    "Union Square",
    "Elm Street",
)

#: Legal-form suffixes by country: (private, public).
LEGAL_FORMS = {
    "US": (("Inc.", "LLC", "Co.", "Inc."), ("Inc.", "Corporation", "Inc.")),
    "CA": (("Inc.", "Ltd."), ("Inc.", "Corporation")),
    "GB": (("Ltd",), ("plc",)),
    "DE": (("GmbH",), ("AG", "SE")),
    "FR": (("SAS",), ("SA",)),
    "NL": (("B.V.",), ("N.V.",)),
    "AU": (("Pty Ltd",), ("Limited",)),
}


@dataclass(frozen=True, slots=True)
class Vertical:
    """What a vertical implies for a generated company."""

    weight: int
    subs: tuple[str, ...]
    revenue_per_employee: float
    visits_per_employee: float
    gross_margin: tuple[float, float]
    price_to_sales: tuple[float, float]
    industry: str
    sector: str
    commerce: bool
    b2b: bool
    keywords: tuple[str, ...]
    peers: tuple[str, ...]


# fmt: off
def _v(weight: int, subs: str, rpe: float, vpe: float, gm: tuple[float, float],
       ps: tuple[float, float], industry: str, sector: str, commerce: bool, b2b: bool,
       keywords: str, peers: str) -> Vertical:
    return Vertical(weight, tuple(subs.split("|")), rpe, vpe, gm, ps, industry, sector,
                    commerce, b2b, tuple(keywords.split("|")), tuple(peers.split()))


VERTICALS: dict[str, Vertical] = {
    "Retail": _v(18,
        "Department Stores|Home Improvement|Consumer Electronics|Apparel|Grocery|Sporting"
        " Goods|Home & Furniture|Beauty",
        260000, 450, (0.22, 0.38), (0.3, 1.2), "Specialty Retail", "Consumer Cyclical",
        True, False,
        "store hours|store locator|weekly ad|gift cards|free shipping|clearance sale|buy "
        "online pick up in store|rewards program",
        "walmart.com target.com costco.com kohls.com macys.com bestbuy.com"),
    "E-commerce": _v(20,
        "Apparel & Footwear|Home & Furniture|Beauty & Cosmetics|Consumer "
        "Electronics|Health & Wellness|Outdoor & Sporting Goods|Pet Supplies",
        420000, 9000, (0.35, 0.55), (0.5, 2.5), "Internet Retail", "Consumer Cyclical",
        True, False,
        "discount code|free returns|new arrivals|best sellers|gift ideas|size "
        "guide|sale|order tracking",
        "amazon.com wayfair.com etsy.com chewy.com zappos.com asos.com"),
    "Marketplace": _v(6,
        "General Marketplace|Handmade & Vintage|Services Marketplace|Automotive "
        "Marketplace",
        520000, 18000, (0.6, 0.75), (1.5, 4.0), "Internet Retail", "Consumer Cyclical",
        True, False,
        "sell online|buyer protection|seller fees|near me|used|deals|how to sell|shipping"
        " rates",
        "ebay.com etsy.com amazon.com mercari.com poshmark.com offerup.com"),
    "Media": _v(8,
        "Digital Media|Streaming|Broadcasting",
        450000, 30000, (0.4, 0.6), (1.5, 4.0), "Entertainment", "Communication Services",
        False, False,
        "live stream|watch online|schedule|episodes|podcast|newsletter|breaking "
        "news|subscription",
        "cnn.com buzzfeed.com vox.com hulu.com nbcnews.com bbc.com"),
    "Publishing": _v(6,
        "News|Magazines|Education Publishing",
        350000, 25000, (0.45, 0.6), (1.0, 3.0), "Publishing", "Communication Services",
        False, False,
        "subscription|crossword|recipes|opinion|newsletter|archive|digital edition|gift "
        "subscription",
        "nytimes.com washingtonpost.com theatlantic.com newyorker.com wsj.com"),
    "Software": _v(16,
        "B2B SaaS|Developer Tools|Marketing Technology|Collaboration|Cybersecurity",
        290000, 1500, (0.68, 0.85), (4.0, 12.0), "Software - Application", "Technology",
        False, True,
        "pricing|free trial|documentation|api|integrations|login|alternatives|tutorial",
        "salesforce.com hubspot.com atlassian.com zendesk.com monday.com asana.com"),
    "Finance": _v(8,
        "Banking|Insurance|Fintech|Wealth Management",
        450000, 900, (0.5, 0.7), (1.5, 4.0), "Credit Services", "Financial Services",
        False, True,
        "login|rates|credit card|mortgage calculator|savings account|routing "
        "number|customer service|branch near me",
        "chase.com bankofamerica.com wellsfargo.com capitalone.com paypal.com"),
    "Healthcare": _v(6,
        "Health Systems|Digital Health|Medical Devices|Pharmacy",
        210000, 300, (0.35, 0.6), (1.0, 3.5), "Health Information Services", "Healthcare",
        False, False,
        "find a doctor|patient portal|appointments|locations|insurance accepted|urgent "
        "care|prescriptions|symptoms",
        "webmd.com mayoclinic.org cvs.com walgreens.com healthline.com"),
    "Travel": _v(6,
        "Online Travel Agency|Hotels & Resorts|Airlines|Vacation Rentals",
        360000, 7000, (0.4, 0.8), (1.0, 4.0), "Travel Services", "Consumer Cyclical",
        False, False,
        "cheap flights|hotel deals|vacation packages|manage booking|check in|cancellation"
        " policy|rewards|car rental",
        "expedia.com booking.com tripadvisor.com airbnb.com kayak.com hotels.com"),
    "Manufacturing": _v(6,
        "Industrial Supplies|Automotive Parts|Building Materials",
        310000, 120, (0.25, 0.4), (0.8, 2.5), "Specialty Industrial Machinery", "Industrials",
        False, True,
        "catalog|distributors|spec sheets|product finder|dealer "
        "locator|warranty|replacement parts|request a quote",
        "grainger.com mscdirect.com fastenal.com uline.com mcmaster.com"),
}
# fmt: on

#: Hiring roles: (title, mentions search/relevance/e-commerce/personalisation).
ROLES_SIGNAL = (
    "Senior Search Relevance Engineer",
    "Staff Software Engineer, Search & Discovery",
    "Product Manager, Site Search",
    "Machine Learning Engineer, Personalization",
    "Director of E-commerce",
    "E-commerce Merchandising Manager",
    "Senior Data Scientist, Search Ranking",
    "Engineering Manager, Search Platform",
)
ROLES_OTHER = (
    "Senior Frontend Engineer (React)",
    "Digital Marketing Manager",
    "UX Designer",
    "Cloud Infrastructure Engineer",
    "Senior Accountant",
    "HR Business Partner",
    "Customer Service Representative",
    "Supply Chain Analyst",
    "Account Executive",
    "Content Strategist",
    "SEO Manager",
    "Data Engineer",
    "Category Manager",
    "Security Engineer",
    "Store Manager",
    "Financial Analyst",
    "Product Designer",
    "Technical Program Manager",
    "Customer Success Manager",
    "Backend Engineer (Python)",
)

#: Executive titles: (Yahoo officer title, title as quoted in the press).
EXEC_TITLES = (
    ("CEO, President & Director", "Chief Executive Officer"),
    ("Executive VP & CFO", "Chief Financial Officer"),
    ("Chief Technology Officer", "Chief Technology Officer"),
    ("Chief Digital Officer", "Chief Digital Officer"),
    ("Chief Marketing Officer", "Chief Marketing Officer"),
    ("Chief E-commerce Officer", "Chief E-commerce Officer"),
    ("Chief Customer Officer", "Chief Customer Officer"),
)

#: Words for names of generated competitor domains.
BRAND_A = (
    "bright",
    "north",
    "blue",
    "urban",
    "true",
    "summit",
    "maple",
    "harbor",
    "silver",
    "pioneer",
    "cedar",
    "golden",
    "swift",
    "evergreen",
    "modern",
    "prime",
)
BRAND_B = (
    "cart",
    "lane",
    "works",
    "market",
    "goods",
    "supply",
    "hub",
    "co",
    "labs",
    "point",
    "house",
    "direct",
    "outlet",
    "studio",
    "base",
    "line",
)

#: What a company of each sub-vertical does (completes "<Name> ...").
# fmt: off
SUMMARIES = {
    "Department Stores": "operates department stores and an online store",
    "Home Improvement": "sells home improvement products in stores and online",
    "Consumer Electronics": "sells consumer electronics and appliances",
    "Apparel": "is an apparel retailer with stores and an online shop",
    "Grocery": "operates grocery stores and an online grocery service",
    "Sporting Goods": "sells sporting goods in stores and online",
    "Home & Furniture": "sells furniture and home goods",
    "Beauty": "sells beauty products in stores and online",
    "Apparel & Footwear": "sells apparel and footwear online",
    "Beauty & Cosmetics": "sells beauty and cosmetics products online",
    "Health & Wellness": "sells health and wellness products online",
    "Outdoor & Sporting Goods": "sells outdoor and sporting goods online",
    "Pet Supplies": "sells pet food and supplies online",
    "General Marketplace": "runs an online marketplace for buyers and sellers",
    "Handmade & Vintage": "runs a marketplace for handmade and vintage goods",
    "Services Marketplace": "runs a marketplace for local services",
    "Automotive Marketplace": "runs an online marketplace for new and used cars",
    "Digital Media": "is a digital media company",
    "Streaming": "runs a video streaming service",
    "Broadcasting": "is a broadcasting and news media company",
    "News": "publishes news and analysis",
    "Magazines": "publishes magazines in print and online",
    "Education Publishing": "publishes educational content and courseware",
    "B2B SaaS": "provides cloud software for businesses",
    "Developer Tools": "builds tools for software developers",
    "Marketing Technology": "provides marketing software",
    "Collaboration": "provides team collaboration software",
    "Cybersecurity": "provides cybersecurity software and services",
    "Banking": "provides banking services to consumers and businesses",
    "Insurance": "provides insurance products",
    "Fintech": "provides online payments and lending",
    "Wealth Management": "provides wealth management services",
    "Health Systems": "operates hospitals and clinics",
    "Digital Health": "provides digital health services",
    "Medical Devices": "makes medical devices",
    "Pharmacy": "operates pharmacies and an online pharmacy",
    "Online Travel Agency": "runs an online travel agency",
    "Hotels & Resorts": "operates hotels and resorts",
    "Airlines": "operates a passenger airline",
    "Vacation Rentals": "runs a vacation rental platform",
    "Industrial Supplies": "makes and distributes industrial supplies",
    "Automotive Parts": "makes automotive parts",
    "Building Materials": "makes building materials",
}
# fmt: on
