"""The data model of a simulated company (see ``_profile.py`` for how one is drawn)."""

from __future__ import annotations

from dataclasses import dataclass

from ._curated import EXCHANGES


@dataclass(frozen=True, slots=True)
class Exec:
    """A (fictional) executive."""

    name: str
    title: str  # as Yahoo lists officers
    press_title: str  # as the press quotes them
    age: int
    pay: int  # total yearly pay in USD (0 when not disclosed)


@dataclass(frozen=True, slots=True)
class TechUse:
    """A technology on the site: first detected (epoch s); ``dead_at`` set when removed."""

    name: str
    first: int
    dead_at: int | None = None
    www: bool = False  # also reported on the www sub-domain path


@dataclass(frozen=True, slots=True)
class Profile:
    """Everything the simulated upstreams say about one company."""

    domain: str
    label: str
    known: bool  # False for ``unknown-*`` domains: not in BuiltWith, SimilarWeb or Yahoo
    name: str
    legal_name: str
    vertical: str
    sub_vertical: str
    summary: str
    founded: int
    street: str
    city: str
    state: str
    postcode: str
    country: str
    country_name: str
    phone: str
    emails: tuple[str, ...]
    social: tuple[str, ...]
    employees: int
    tier: str
    ticker: str | None
    exchange: str
    revenue: float
    fiscal_year: int | None  # None: the last calendar year
    fiscal_end: str | None  # ISO day the last fiscal year ended; None: December 31
    gross_margin: float
    operating_margin: float
    profit_margin: float
    revenue_growth: float
    price: float
    shares: float
    industry: str
    sector: str
    visits: float
    bounce_rate: float
    pages_per_visit: float
    visit_duration: float
    traffic_growth: float
    competitors: tuple[str, ...]
    keywords: tuple[str, ...]
    techs: tuple[TechUse, ...]
    spend: int
    search_vendor: str | None
    commerce: str | None
    cms: str | None
    first_indexed: int
    open_positions: int
    ats: str  # "greenhouse", "lever" or "careers" (own careers site)
    execs: tuple[Exec, ...]
    redirect_www: bool
    jsonld_graph: bool

    @property
    def public(self) -> bool:
        """Listed on a stock exchange (Yahoo knows it)."""
        return self.ticker is not None and self.known

    @property
    def exch_disp(self) -> str:
        """Yahoo's ``exchDisp`` (NASDAQ, NYSE)."""
        return EXCHANGES.get(self.exchange, ("NYSE", "NYSE"))[0]

    @property
    def exchange_name(self) -> str:
        """Yahoo's ``fullExchangeName`` (NasdaqGS, NYSE)."""
        return EXCHANGES.get(self.exchange, ("NYSE", "NYSE"))[1]

    @property
    def live_techs(self) -> tuple[TechUse, ...]:
        """The technologies still on the site."""
        return tuple(t for t in self.techs if t.dead_at is None)

    def tech_names(self) -> list[str]:
        """Names of the live technologies."""
        return [t.name for t in self.techs if t.dead_at is None]
