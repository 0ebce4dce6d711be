"""The language a customer's reminder is written in, and how its figures and dates are formatted.

The customer's CRM contact language (HubSpot ``hs_language``) wins; else the first official language of its
country (Xero address, then HubSpot company); else English. A draft is written in that language by its templates
(``templates/<language>/``) or, when the language has none, by the model if one is configured and the guardrails
know that language's forbidden phrases (``guardrails.FORBIDDEN_BY_LANGUAGE``); otherwise it is written in English
and the draft says why. Amounts and dates are always formatted by code for the customer's locale.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from babel import Locale, UnknownLocaleError
from babel.languages import get_official_languages

DEFAULT = "en"
DEFAULT_TERRITORY = "GB"


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1, e.g. "fr": what the customer reads
    locale: str  # babel locale for figures and dates, e.g. "fr_FR"
    source: str  # "crm", "country" or "default"

    @property
    def name(self) -> str:
        return Locale.parse(self.code).get_display_name(DEFAULT) or self.code


@cache
def _territories() -> dict[str, str]:
    """Country names (English, as Xero and HubSpot hold them) and ISO codes to ISO codes."""
    names = {name.lower(): code for code, name in Locale(DEFAULT).territories.items() if len(code) == 2}
    names.update({code.lower(): code for code in list(names.values())})
    names.update({"uk": "GB", "england": "GB", "scotland": "GB", "wales": "GB", "usa": "US"})
    return names


def territory(country: str | None) -> str | None:
    return _territories().get((country or "").strip().lower()) if country else None


def _locale(code: str, territory_code: str | None) -> str:
    """The babel locale for a language spoken in a territory (fr + CA: fr_CA), else the language alone."""
    for candidate in (f"{code}_{territory_code}" if territory_code else None, code):
        if candidate:
            try:
                return str(Locale.parse(candidate))
            except (UnknownLocaleError, ValueError):
                continue
    return f"{DEFAULT}_{DEFAULT_TERRITORY}"


def customer_language(crm_language: str | None, country: str | None) -> Language:
    """The customer's language and locale: CRM language first, then the country's, then English."""
    country_code = territory(country)
    if crm_language:
        code, _, region = crm_language.replace("-", "_").lower().partition("_")
        try:
            Locale.parse(code)
        except (UnknownLocaleError, ValueError):
            code = ""
        if code:  # a region in the CRM code (pt-br) wins over the country's
            return Language(code, _locale(code, region.upper() or country_code), "crm")
    if country_code:
        official = get_official_languages(country_code)
        if official:
            return Language(official[0], _locale(official[0], country_code), "country")
    return Language(DEFAULT, f"{DEFAULT}_{DEFAULT_TERRITORY}", "default")


def has_templates(code: str) -> bool:
    return files("ar_radar.outreach").joinpath("templates", code).is_dir()
