"""Hand-written facts for a few well-known domains, so demos show realistic companies.

Public facts (name, headquarters, switchboard phone, founding year, listing, approximate revenue,
headcount) are as published around 2024-2025. Technologies, traffic and people are simulated:
executives are fictional for every company, so no real person is ever quoted saying something
they did not say.
"""

from __future__ import annotations

from typing import Any

# Keys: every Profile field a curated entry sets; "tech" lists the rest of the technology stack.
# fmt: off
CURATED: dict[str, dict[str, Any]] = {
    "costco.com": {
        "name": "Costco Wholesale", "brand": "costco",
        "legal_name": "Costco Wholesale Corporation", "vertical": "Retail",
        "sub_vertical": "Warehouse Clubs", "founded": 1983, "street": "999 Lake Drive",
        "city": "Issaquah", "state": "WA", "postcode": "98027", "country": "US",
        "phone": "+1-425-313-8100", "employees": 333000, "ticker": "COST",
        "revenue_growth": 0.05, "exchange": "NMS",
        "revenue": 254.45e9, "fiscal_year": 2024, "fiscal_end": "2024-09-01", "gross_margin": 0.126,
        "operating_margin": 0.036, "profit_margin": 0.029, "price": 905.0, "shares": 443.9e6,
        "visits": 142.0e6, "industry": "Discount Stores", "sector": "Consumer Defensive",
        "search": "Elasticsearch", "commerce": None, "cms": "Adobe Experience Manager",
        "tech": (
            "Akamai", "React", "jQuery", "Adobe Analytics", "Google Tag Manager", "OneTrust",
            "Bazaarvoice", "New Relic",
        ),
        "competitors": (
            "samsclub.com", "walmart.com", "bjs.com", "target.com", "amazon.com", "bestbuy.com",
            "homedepot.com", "kroger.com",
        ),
        "summary": (
            "operates membership warehouses that sell branded and private-label "
            "merchandise at low prices"
        ),
    },
    "walmart.com": {
        "name": "Walmart", "legal_name": "Walmart Inc.", "vertical": "Retail",
        "sub_vertical": "Mass Merchandise", "founded": 1962, "street": "702 SW 8th Street",
        "city": "Bentonville", "state": "AR", "postcode": "72716", "country": "US",
        "phone": "+1-479-273-4000", "employees": 2100000, "ticker": "WMT",
        "revenue_growth": 0.051, "exchange": "NMS",
        "revenue": 680.99e9, "fiscal_year": 2025, "fiscal_end": "2025-01-31", "gross_margin": 0.244,
        "operating_margin": 0.042, "profit_margin": 0.029, "price": 96.0, "shares": 7.99e9,
        "visits": 610.0e6, "industry": "Discount Stores", "sector": "Consumer Defensive",
        "search": None, "commerce": None, "cms": None,
        "tech": ("Next.js", "React", "Akamai", "Google Tag Manager", "OneTrust", "PayPal"),
        "summary": "operates supercenters, discount stores and an online marketplace",
        "competitors": (
            "amazon.com", "target.com", "costco.com", "ebay.com", "samsclub.com", "kroger.com",
            "bestbuy.com", "homedepot.com",
        ),
    },
    "target.com": {
        "name": "Target", "legal_name": "Target Corporation", "vertical": "Retail",
        "sub_vertical": "Department Stores", "founded": 1902, "street": "1000 Nicollet Mall",
        "city": "Minneapolis", "state": "MN", "postcode": "55403", "country": "US",
        "phone": "+1-612-304-6073", "employees": 440000, "ticker": "TGT",
        "revenue_growth": -0.008, "exchange": "NYQ",
        "revenue": 106.57e9, "fiscal_year": 2024, "fiscal_end": "2025-02-01", "gross_margin": 0.282,
        "operating_margin": 0.052, "profit_margin": 0.038, "price": 97.0, "shares": 455.0e6,
        "visits": 228.0e6, "industry": "Discount Stores", "sector": "Consumer Defensive",
        "search": "Bloomreach", "commerce": None, "cms": None,
        "summary": "runs general merchandise stores and a digital business across the US",
        "tech": (
            "React", "Akamai", "Adobe Analytics", "Optimizely", "Google Tag Manager",
            "Bazaarvoice", "PayPal",
        ),
        "competitors": (
            "walmart.com", "amazon.com", "kohls.com", "costco.com", "macys.com", "bestbuy.com",
            "ulta.com",
        ),
    },
    "bestbuy.com": {
        "name": "Best Buy", "legal_name": "Best Buy Co., Inc.", "vertical": "Retail",
        "sub_vertical": "Consumer Electronics", "founded": 1966,
        "street": "7601 Penn Avenue South", "city": "Richfield", "state": "MN",
        "postcode": "55423", "country": "US", "phone": "+1-612-291-1000", "employees": 85000,
        "ticker": "BBY",
        "revenue_growth": -0.044, "exchange": "NYQ", "revenue": 41.53e9, "fiscal_year": 2025,
        "fiscal_end": "2025-02-01",
        "gross_margin": 0.226, "operating_margin": 0.039, "profit_margin": 0.022, "price": 76.0,
        "shares": 211.0e6, "visits": 118.0e6, "industry": "Specialty Retail",
        "sector": "Consumer Cyclical", "search": "Lucidworks", "commerce": None,
        "cms": "Adobe Experience Manager",
        "summary": "sells consumer electronics, appliances and technology services",
        "tech": (
            "React", "Akamai", "Adobe Analytics", "Tealium", "Google Tag Manager", "Bazaarvoice",
            "Dynamic Yield",
        ),
        "competitors": (
            "amazon.com", "walmart.com", "target.com", "newegg.com", "costco.com",
            "bhphotovideo.com", "apple.com",
        ),
    },
    "homedepot.com": {
        "name": "The Home Depot", "legal_name": "The Home Depot, Inc.", "vertical": "Retail",
        "sub_vertical": "Home Improvement", "founded": 1978, "street": "2455 Paces Ferry Road",
        "city": "Atlanta", "state": "GA", "postcode": "30339", "country": "US",
        "phone": "+1-770-433-8211", "employees": 470100, "ticker": "HD",
        "revenue_growth": 0.045, "exchange": "NYQ",
        "revenue": 159.51e9, "fiscal_year": 2024, "fiscal_end": "2025-02-02", "gross_margin": 0.334,
        "operating_margin": 0.135, "profit_margin": 0.093, "price": 382.0, "shares": 994.0e6,
        "visits": 205.0e6, "industry": "Home Improvement Retail", "sector": "Consumer Cyclical",
        "search": "Coveo", "commerce": None, "cms": None,
        "summary": "is the world's largest home improvement retailer",
        "tech": (
            "React", "Akamai", "Adobe Analytics", "Google Tag Manager", "OneTrust", "Bazaarvoice",
            "New Relic",
        ),
        "competitors": (
            "lowes.com", "menards.com", "acehardware.com", "walmart.com", "amazon.com",
            "wayfair.com",
        ),
    },
    "wayfair.com": {
        "name": "Wayfair", "legal_name": "Wayfair Inc.", "vertical": "E-commerce",
        "sub_vertical": "Home & Furniture", "founded": 2002, "street": "4 Copley Place",
        "city": "Boston", "state": "MA", "postcode": "02116", "country": "US",
        "phone": "+1-617-532-6100", "employees": 12100, "ticker": "W",
        "revenue_growth": -0.014, "exchange": "NYQ",
        "revenue": 11.85e9, "fiscal_year": 2024, "gross_margin": 0.302, "operating_margin": -0.04,
        "profit_margin": -0.042, "price": 68.0, "shares": 128.0e6, "visits": 128.0e6,
        "industry": "Internet Retail", "sector": "Consumer Cyclical", "search": "Solr",
        "commerce": None, "cms": None, "summary": "sells furniture and home goods online",
        "tech": (
            "React", "Fastly", "Google Tag Manager", "Optimizely", "Facebook Pixel", "PayPal",
            "Stripe",
        ),
        "competitors": (
            "ikea.com", "overstock.com", "potterybarn.com", "westelm.com", "homedepot.com",
            "target.com", "amazon.com",
        ),
    },
    "nytimes.com": {
        "name": "The New York Times", "legal_name": "The New York Times Company",
        "vertical": "Publishing", "sub_vertical": "News", "founded": 1851,
        "street": "620 Eighth Avenue", "city": "New York", "state": "NY", "postcode": "10018",
        "country": "US", "phone": "+1-212-556-1234", "employees": 5900, "ticker": "NYT",
        "revenue_growth": 0.066,
        "exchange": "NYQ", "revenue": 2.586e9, "fiscal_year": 2024, "gross_margin": 0.49,
        "operating_margin": 0.12, "profit_margin": 0.113, "price": 56.0, "shares": 163.0e6,
        "visits": 540.0e6, "industry": "Publishing", "sector": "Communication Services",
        "search": "Elasticsearch", "commerce": None, "cms": None,
        "tech": ("React", "Fastly", "Google Tag Manager", "Segment", "OneTrust", "Stripe"),
        "summary": "publishes news, opinion, games, cooking and product reviews",
        "competitors": (
            "washingtonpost.com", "wsj.com", "cnn.com", "theguardian.com", "bbc.com",
            "theatlantic.com", "bloomberg.com",
        ),
    },
    "shopify.com": {
        "name": "Shopify", "legal_name": "Shopify Inc.", "vertical": "Software",
        "sub_vertical": "Commerce Software", "founded": 2006,
        "street": "151 O'Connor Street, Ground floor", "city": "Ottawa", "state": "ON",
        "postcode": "K2P 2L8", "country": "CA", "phone": "+1-613-241-2828", "employees": 8100,
        "ticker": "SHOP",
        "revenue_growth": 0.26, "exchange": "NMS", "revenue": 8.88e9, "fiscal_year": 2024,
        "gross_margin": 0.5, "operating_margin": 0.15, "profit_margin": 0.23, "price": 150.0,
        "shares": 1.3e9, "visits": 64.0e6, "industry": "Software - Application",
        "sector": "Technology", "search": "Algolia", "commerce": None, "cms": None,
        "tech": ("Cloudflare", "React", "Google Tag Manager", "Segment", "OneTrust"),
        "summary": "provides a commerce platform for merchants of every size",
        "competitors": (
            "bigcommerce.com", "wix.com", "squarespace.com", "woocommerce.com", "salesforce.com",
            "adobe.com",
        ),
    },
    "patagonia.com": {
        "name": "Patagonia", "legal_name": "Patagonia, Inc.", "vertical": "E-commerce",
        "sub_vertical": "Outdoor Apparel", "founded": 1973,
        "street": "259 West Santa Clara Street", "city": "Ventura", "state": "CA",
        "postcode": "93001", "country": "US", "phone": "+1-805-643-8616", "employees": 3000,
        "ticker": None, "revenue": 1.5e9, "visits": 8.4e6, "search": "Constructor",
        "commerce": "Salesforce Commerce Cloud", "cms": None,
        "tech": ("React", "Akamai", "Google Tag Manager", "Bazaarvoice", "Klaviyo", "PayPal"),
        "summary": "designs outdoor clothing and gear and funds environmental work",
        "competitors": (
            "rei.com", "thenorthface.com", "arcteryx.com", "columbia.com", "backcountry.com",
            "llbean.com",
        ),
    },
    "ikea.com": {
        "name": "IKEA", "legal_name": "Inter IKEA Systems B.V.", "vertical": "Retail",
        "sub_vertical": "Home & Furniture", "founded": 1943, "street": "Olof Palmestraat 1",
        "city": "Delft", "state": "South Holland", "postcode": "2616 LN", "country": "NL",
        "phone": "+31 15 215 0100", "employees": 219000, "ticker": None, "revenue": 47.6e9,
        "visits": 265.0e6, "search": "Algolia", "commerce": None,
        "cms": "Adobe Experience Manager",
        "tech": ("React", "Akamai", "Google Tag Manager", "OneTrust", "Optimizely"),
        "summary": "designs and sells ready-to-assemble furniture and home furnishings",
        "competitors": (
            "wayfair.com", "homedepot.com", "target.com", "westelm.com", "potterybarn.com",
            "amazon.com",
        ),
    },
    "allbirds.com": {
        "name": "Allbirds", "legal_name": "Allbirds, Inc.", "vertical": "E-commerce",
        "sub_vertical": "Apparel & Footwear", "founded": 2015, "street": "730 Montgomery Street",
        "city": "San Francisco", "state": "CA", "postcode": "94111", "country": "US",
        "phone": "+1-415-555-0142", "employees": 730, "ticker": "BIRD",
        "revenue_growth": -0.25, "exchange": "NMS",
        "revenue": 189.8e6, "fiscal_year": 2024, "gross_margin": 0.43, "operating_margin": -0.49,
        "profit_margin": -0.49, "price": 8.5, "shares": 8.1e6, "visits": 2.6e6,
        "industry": "Footwear & Accessories", "sector": "Consumer Cyclical",
        "search": "Searchspring", "commerce": "Shopify Plus", "cms": None,
        "summary": "makes shoes and apparel from natural materials",
        "tech": (
            "Cloudflare", "React", "Google Tag Manager", "Klaviyo", "Facebook Pixel", "Hotjar",
            "PayPal",
        ),
        "competitors": (
            "rothys.com", "onrunning.com", "hoka.com", "nike.com", "veja-store.com", "zappos.com",
        ),
    },
    "gymshark.com": {
        "name": "Gymshark", "legal_name": "Gymshark Ltd", "vertical": "E-commerce",
        "sub_vertical": "Apparel & Footwear", "founded": 2012, "street": "Blythe Valley Park",
        "city": "Solihull", "state": "West Midlands", "postcode": "B90 8AT", "country": "GB",
        "phone": "+44 121 496 0123", "employees": 900, "ticker": None, "revenue": 700.0e6,
        "visits": 15.5e6, "search": "Algolia", "commerce": "Shopify Plus", "cms": None,
        "summary": "sells gym and fitness apparel online",
        "tech": (
            "Cloudflare", "Next.js", "React", "Google Tag Manager", "Klaviyo", "Facebook Pixel",
            "PayPal",
        ),
        "competitors": (
            "lululemon.com", "nike.com", "adidas.com", "underarmour.com",
            "alphaleteathletics.com", "youngla.com",
        ),
    },
}
# fmt: on

#: Exchange code -> (Yahoo ``exchDisp``, Yahoo ``exchangeName``/``fullExchangeName``).
EXCHANGES = {"NMS": ("NASDAQ", "NasdaqGS"), "NYQ": ("NYSE", "NYSE")}
