"""Checks every drafted reminder must pass before a person sees it; any violation sends the draft back to its
template, with the reasons recorded.

A draft may only state what the data says: each amount, date, day count and invoice number in its text must be
one of that customer's (``DraftFacts``); its only link is the customer's payment link; it names no other
customer; it stays under the word limit; and it says nothing a finance team would not send on a first or second
reminder: no legal threat, fee, interest, penalty, discount, payment plan, suspension of service or "final
notice". CRM text is untrusted: ``instruction_like`` flags notes and tickets that read like orders to a model,
so a reviewer sees them and they are never obeyed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

MAX_WORDS = 120
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
# A figure with decimals or thousands separators, or any figure after a currency sign or code: an amount.
_AMOUNT = re.compile(r"(?:(?:[£€$]|\b[A-Z]{3}\b)\s?\d[\d,]*(?:\.\d+)?|\b\d{1,3}(?:,\d{3})+(?:\.\d+)?\b|\b\d+\.\d{2}\b)")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_WORDY_DATE = re.compile(
    rf"\b(?:(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTHS})\.?,?\s+(\d{{4}})|({_MONTHS})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}}))\b",
    re.IGNORECASE,
)
_DAY_COUNT = re.compile(r"\b(\d+)\s+(?:calendar\s+|working\s+|business\s+)?days?\b", re.IGNORECASE)
_URL = re.compile(r"\bhttps?://[^\s<>\"')]+", re.IGNORECASE)
# Words that never belong in an AR Radar reminder, whatever the tier (finance escalates by hand).
FORBIDDEN = {
    "legal threat": r"\b(?:legal|lawyer|solicitor|attorney|court|sue|lawsuit|litigation|proceedings|bailiff)\w*",
    "debt collection": r"\b(?:debt\s+collect\w*|collection\s+agenc\w*|credit\s+(?:rating|report)\w*)",
    "fee or penalty": r"\b(?:late\s+fees?|fees?|penalt\w*|surcharge\w*|charges?\s+will)\b",
    "interest": r"\binterest\b",
    "discount": r"\b(?:discount\w*|\d+\s?%\s+off|rebate\w*)",
    "payment plan": r"\b(?:payment\s+plan|instal{1,2}ments?|payment\s+arrangement)\b",
    "service suspension": r"\b(?:suspend\w*|suspension|cut\s+off|stop\s+(?:supply|service|deliver)\w*|on\s+hold)\b",
    "final notice": r"\b(?:final\s+(?:notice|demand|reminder|warning)|last\s+chance|ultimatum)\b",
}
# The same, for the languages a model may write a draft in without templates (English always applies too: models
# mix languages). A language not listed here is never left to a model: its drafts come from the English templates.
FORBIDDEN_BY_LANGUAGE = {
    "en": FORBIDDEN,
    "fr": {
        "legal threat": r"\b(?:avocat|huissier|tribunal|justice|poursuites?|contentieux|mise\s+en\s+demeure)\w*",
        "debt collection": r"\b(?:recouvrement|soci[ée]t[ée]\s+de\s+recouvrement)\b",
        "fee or penalty": r"\b(?:frais|p[ée]nalit[ée]s?|majorations?|indemnit[ée]s?)\b",
        "interest": r"\bint[ée]r[êe]ts?\b",
        "discount": r"\b(?:remises?|r[ée]ductions?|escomptes?|rabais)\b",
        "payment plan": r"\b(?:[ée]ch[ée]ancier|paiement\s+[ée]chelonn[ée]|plan\s+de\s+paiement)\b",
        "service suspension": r"\b(?:suspen\w*|interrompr\w*|interruption|coupure)\b",
        "final notice": r"\b(?:dernier\s+(?:rappel|avertissement|d[ée]lai)|ultime|ultimatum)\b",
    },
    "de": {
        "legal threat": r"\b(?:anwalt|anw[äa]lt\w*|gericht\w*|klage\w*|rechtlich\w*|mahnbescheid)",
        "debt collection": r"\b(?:inkasso\w*|schufa)",
        "fee or penalty": r"\b(?:geb[üu]hr\w*|mahngeb[üu]hr\w*|strafe\w*|zuschlag\w*|vertragsstrafe)",
        "interest": r"\b(?:zinsen|verzugszins\w*)",
        "discount": r"\b(?:rabatt\w*|skonto|nachlass\w*|preisnachlass)",
        "payment plan": r"\b(?:ratenzahlung\w*|raten|zahlungsplan\w*)\b",
        "service suspension": r"\b(?:(?:ge)?sperr\w*|einstell\w*|eingestellt|aussetz\w*|ausgesetzt|lieferstopp)",
        "final notice": r"\b(?:letzte\s+(?:mahnung|erinnerung|frist|warnung)|letztmalig\w*)",
    },
}
# CRM text that addresses a model rather than a colleague.
_INSTRUCTION_LIKE = re.compile(
    r"\b(?:ignore\s+(?:all\s+|any\s+)?(?:previous|prior|above)|disregard\s+(?:the|all|previous)|"
    r"you\s+are\s+now|system\s+prompt|instruction[s]?\s*:|as\s+an\s+ai|do\s+not\s+mention|tell\s+the\s+customer|"
    r"(?:offer|give)\s+(?:them\s+)?a\s+\d+\s?%|new\s+instructions)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class DraftFacts:
    """What a draft for one customer may state: every figure is from the warehouse, never the model."""

    customer_name: str
    amounts: tuple[Decimal, ...]
    dates: tuple[date, ...]
    invoice_numbers: tuple[str, ...]
    day_counts: tuple[int, ...] = ()
    payment_link: str | None = None
    other_customers: tuple[str, ...] = ()  # names and email addresses of every other customer
    max_words: int = MAX_WORDS
    language: str = "en"  # the draft's language: its forbidden phrases apply besides English
    own_names: tuple[str, ...] = ()  # the sender's name: like the customer's, its digits are not figures


@dataclass(frozen=True)
class Violation:
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.detail}"


@dataclass
class GuardrailResult:
    violations: list[Violation] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.violations


def _amount(token: str) -> Decimal | None:
    digits = re.sub(r"[^\d.]", "", token)
    try:
        return Decimal(digits).quantize(Decimal("0.01")) if digits else None
    except InvalidOperation:
        return None


def _dates(text: str) -> list[tuple[str, date | None]]:
    found: list[tuple[str, date | None]] = []
    for match in _ISO_DATE.finditer(text):
        try:
            found.append((match.group(0), date(*map(int, match.groups()))))
        except ValueError:
            found.append((match.group(0), None))
    for match in _WORDY_DATE.finditer(text):
        day, month, year = (
            (match.group(1), match.group(2), match.group(3))
            if match.group(1)
            else (
                match.group(5),
                match.group(4),
                match.group(6),
            )
        )
        try:
            parsed = datetime.strptime(f"{int(day)} {month[:3].title()} {year}", "%d %b %Y").date()
        except ValueError:
            parsed = None
        found.append((match.group(0), parsed))
    return found


def without_names(text: str, names: tuple[str, ...] | list[str]) -> str:
    """The text with these names blanked out: "Harbour Lane 532 Ltd" holds no figure, and its "Harbour Lane" is
    not another customer called Harbour Lane."""
    for name in sorted((n for n in names if n), key=len, reverse=True):
        text = re.sub(re.escape(name), " ", text, flags=re.IGNORECASE)
    return text


def check(text: str, facts: DraftFacts, invoice_pattern: str = r"\b[A-Z]{2,5}-?\d{2,}\b") -> GuardrailResult:
    """Every rule on the text of one draft (subject and body together)."""
    result = GuardrailResult()
    add = result.violations.append
    words = len(re.findall(r"\b\w[\w'’-]*\b", text))
    if words > facts.max_words:
        add(Violation("length", f"{words} words, more than {facts.max_words}"))
    text = without_names(text, (facts.customer_name, *facts.own_names))
    allowed_amounts = {a.quantize(Decimal("0.01")) for a in facts.amounts}
    dated = _dates(text)
    date_spans = [d for d, _ in dated]
    for match in _AMOUNT.finditer(text):
        token = match.group(0)
        if any(token in span for span in date_spans):
            continue
        value = _amount(token)
        if value is None or value not in allowed_amounts:
            add(Violation("amount", f"{token.strip()} is not an amount of this customer's invoices"))
    for token, parsed in dated:
        if parsed not in facts.dates:
            add(Violation("date", f"{token} is not a date of this customer's invoices"))
    for match in _DAY_COUNT.finditer(text):
        if int(match.group(1)) not in facts.day_counts:
            add(Violation("day count", f"'{match.group(0)}' is not how overdue any of these invoices is"))
    for token in set(re.findall(invoice_pattern, text)):
        if token not in facts.invoice_numbers:
            add(Violation("invoice number", f"{token} is not one of this customer's invoices"))
    for url in _URL.findall(text):
        if url.rstrip(".,;") != facts.payment_link:
            add(Violation("link", f"{url} is not the customer's payment link"))
    lowered = text.lower()
    for other in facts.other_customers:
        # A plain substring test first: thousands of names per draft, and a regex each would cost seconds a run.
        if other and other.lower() in lowered and re.search(rf"(?<!\w){re.escape(other)}(?!\w)", text, re.I):
            add(Violation("other customer", f"names {other}"))
    for lexicon in {"en": FORBIDDEN, facts.language: FORBIDDEN_BY_LANGUAGE.get(facts.language, {})}.values():
        for rule, pattern in lexicon.items():
            if found := re.search(pattern, text, re.IGNORECASE):
                add(Violation(rule, f"'{found.group(0)}'"))
    return result


def check_model_fields(fields: dict[str, str], names: tuple[str, ...] = ()) -> list[Violation]:
    """What the model wrote, before the code puts the figures around it: no figure of any kind (every amount, date,
    day count and invoice number is the code's, in every language; the customer's and sender's names aside), no
    link, nothing addressed to a model."""
    found = []
    for name, value in fields.items():
        value = without_names(value or "", names)
        if digits := re.search(r"\d[\d.,\s]*", value or ""):
            found.append(Violation("figure in model prose", f"{name}: '{digits.group(0).strip()}'"))
        if _URL.search(value or ""):
            found.append(Violation("link", f"{name} holds a link"))
        if instruction_like(value or ""):
            found.append(Violation("instruction", f"{name} reads like an instruction"))
    return found


def instruction_like(text: str) -> list[str]:
    """The passages of a CRM note or ticket that read like instructions to a model (shown to the reviewer)."""
    return [match.group(0) for match in _INSTRUCTION_LIKE.finditer(text or "")]
