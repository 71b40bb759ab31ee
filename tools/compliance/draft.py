"""Checks of a draft answer's text: forbidden content, unsupported figures, missing disclosures.

``check_draft`` reads the text the composer (offline or an LLM) wrote and returns the
violations, each citing the policy section it enforces:

* prohibited claims (POL-MARKETING §4.3): guarantees, risk-free language, approvals and
  pre-approvals, "best/cheapest on the market", "no credit check" for credit;
* pressure selling (POL-MARKETING §5.1);
* protected attributes in the text or used as a reason (POL-FAIR-LENDING §3.2);
* figures the findings do not support (POL-AI-USE §3.1, POL-PRICING §3.1): every APR,
  AER and debt-to-income figure must match a tool result or the catalogue;
* disclosures (POL-MARKETING §4.1, §4.2): every recommended product the draft presents
  carries its disclosures (by id or title) and, for credit, the representative APR;
* offers while consent, complaint or vulnerability restrictions apply.

A product named in a list of products ruled out ("Not offered:", "### Declined") or among
the sources is not presented or offered; figures are checked wherever they appear.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bank.knowledge import KnowledgeBase, Product
from tools.compliance import rules as policy
from tools.compliance.check import violation
from tools.findings import ComplianceFinding, CreditFinding, ProductsFinding, Recommendation, Violation

FIGURE_TOLERANCE = 0.051
DTI_TOLERANCE = 0.0051
_I = re.IGNORECASE
# "she's", "he is", "the customer is" (not "the customer's", which is possessive).
_IS = r"(?:\b(?:she|he|they)(?:'s|’s|\s+is|\s+are|\s+was|\s+were)|\b(?:the\s+)?(?:customer|client)\s+(?:is|was))"
_NOT_A_COUNT = (
    r"(?!\s*(?:%|\.\d|payments?|months?|days?|weeks?|eur|euro|subscriptions?|accounts?|cards?|times?|points?))"
)


def _any_of(*patterns: str) -> tuple[re.Pattern, ...]:
    return tuple(re.compile(pattern, _I) for pattern in patterns)


FORBIDDEN_PATTERNS: dict[str, tuple[re.Pattern, ...]] = {
    "forbidden.guarantee": _any_of(
        (
            r"\bguarantee[ds]?\s+(?:your\s+|an?\s+|the\s+)?"
            r"(?:approval|acceptance|returns?|growth|income|profits?|yield)\b"
        ),
        r"\bguarantee[ds]?\s+(?:to\s+be\s+|you(?:'ll| will)\s+be\s+)(?:approved|accepted)\b",
        r"\b(?:approval|acceptance|returns?|growth|income|profits?)\s+(?:is|are)\s+guaranteed\b",
        r"\bwe\s+guarantee\b",
        (
            r"\b(?:will|are going to)\s+(?:definitely|certainly|surely|100%)\s+"
            r"(?:be\s+)?(?:approved|accepted|qualify)\b"
        ),
        r"\b(?:certain|sure)\s+to\s+be\s+(?:approved|accepted)\b",
        r"\b(?:can(?:no|')t|won't|will not)\s+be\s+(?:declined|refused|rejected|turned down)\b",
    ),
    "forbidden.risk_free": _any_of(
        r"\brisk[- ]free\b",
        r"\bno\s+risk\b",
        r"\bwithout\s+(?:any\s+)?risk\b",
        r"\bnothing\s+to\s+lose\b",
        r"\bfree\s+money\b",
        r"\bcan(?:no|')t\s+lose\b",
        r"\bsafe\s+bet\b",
        r"\bzero\s+risk\b",
    ),
    "forbidden.approval": _any_of(
        r"\bpre[- ]?approved\b",
        r"\b(?:is|are|has\s+been|have\s+been|you(?:'re| are)|already|now|been)\s+approved\b",
        r"\bapproved\s+for\b",
        r"\b(?:is|are|has\s+been)\s+already\s+accepted\b",
    ),
    "forbidden.superlative": _any_of(
        r"\bcheapest\b",
        (
            r"\b(?:best|lowest|cheapest)\b[^.\n]{0,40}"
            r"\b(?:on\s+the\s+market|anywhere|in\s+ireland|in\s+the\s+country)\b"
        ),
        r"\bunbeatable\b",
    ),
    "forbidden.pressure": _any_of(
        r"\bact\s+(?:now|fast|quickly|today)\b",
        r"\blimited[- ]time\b",
        r"\b(?:only|just)\s+today\b",
        r"\btoday\s+only\b",
        r"\bbefore\s+it(?:'s|’s|\s+is)\s+too\s+late\b",
        r"\boffer\s+ends\b",
        r"\bhurry\b",
        r"\bdon(?:'|’)?t\s+miss\s+(?:out|this)\b",
        r"\blast\s+chance\b",
        r"\bwhile\s+(?:stocks|supplies|it)\s+lasts?\b",
        r"\bexpires?\s+(?:today|tonight|soon)\b",
        r"\bnow\s+or\s+never\b",
        r"\bonce[- ]in[- ]a[- ]lifetime\b",
        r"\bsign\s+(?:up\s+)?(?:now|immediately|today)\b",
    ),
    "forbidden.protected_attribute": _any_of(
        # gender and sex
        r"\bgender\b",
        r"\bsex\b",
        rf"{_IS}\s+(?:a\s+)?(?:woman|man|female|male)\b",
        r"\bas\s+a\s+(?:woman|man|female|male|mother|father)\b",
        r"\b(?:female|male)\s+customers?\b",
        # age (only the legal minimum age may be mentioned)
        r"\b(?:aged|at\s+the\s+age\s+of)\s+\d{1,3}\b",
        r"\b\d{1,3}[- ]years?[- ]old\b",
        rf"{_IS}\s+\d{{1,3}}\b{_NOT_A_COUNT}",
        r"\b(?:her|his|their|the\s+customer(?:'s|’s)|customer(?:'s|’s))\s+age\b",
        r"\bbecause\s+of\s+(?:her|his|their)\s+age\b",
        r"\btoo\s+(?:old|young)\b",
        r"\belderly\b",
        r"\bpensioner\b",
        r"\bsenior\s+citizens?\b",
        r"\bdate\s+of\s+birth\b",
        r"\bbirth\s*date\b",
        r"\bborn\s+in\b",
        # marital or civil partnership status
        r"\bmarital\b",
        rf"{_IS}\s+(?:single|married|divorced|widowed|separated|engaged)\b",
        r"\b(?:married|divorced|widowed|single)\s+(?:man|woman|customer|person|mother|father|parent)\b",
        r"\b(?:her|his|their)\s+(?:husband|wife|spouse)\b",
        r"\bcivil\s+partner(?:ship)?\b",
        # region, postcode and address
        r"\b(?:postcode|post\s+code|eircode|zip\s+code)\b",
        r"\bregion\b",
        r"\b(?:she|he|they|customer|client)\s+(?:lives|live|resides|is\s+based)\s+in\b",
        r"\bneighbou?rhood\b",
        # origin, nationality, religion, disability, orientation, pregnancy
        r"\bnationality\b",
        r"\bcitizenship\b",
        r"\bethnic(?:ity)?\b",
        r"\brace\b",
        r"\bimmigrants?\b",
        r"\bforeign\s+national\b",
        r"\bforeigner\b",
        r"\breligio(?:n|us)\b",
        r"\b(?:catholic|protestant|muslim|jewish|hindu|christian|sikh|buddhist)\b",
        r"\bdisab(?:led|ility|ilities)\b",
        r"\bsexual\s+orientation\b",
        r"\bpregnan(?:t|cy)\b",
        r"\bmaternity\b",
        r"\bpaternity\b",
    ),
}
NO_CREDIT_CHECK = re.compile(r"\bno\s+credit\s+checks?\b", _I)
CREDIT_WORDS = re.compile(r"\b(?:card|loan|mortgage|overdraft|credit\s+limit|borrow\w*)\b", _I)
NUMBER = r"(\d{1,3}(?:\.\d{1,2})?)"
APR_FIGURES = (
    re.compile(NUMBER + r"\s?%\s*(?:representative\s+)?APRC?\b", _I),
    re.compile(r"\bAPRC?\s+(?:of\s+|is\s+|at\s+|=\s*)?" + NUMBER + r"\s?%", _I),
)
AER_FIGURES = (
    re.compile(NUMBER + r"\s?%\s*AER\b", _I),
    re.compile(r"\bAER\s+(?:of\s+|is\s+|at\s+)?" + NUMBER + r"\s?%", _I),
)
# A debt-to-income figure is a percentage ("1.6%") or a ratio ("0.016"). The percentage is
# tried first, and a ratio never ends where a "%" follows, so "1.6%" is not read as 1.6.
DTI_FIGURE = re.compile(
    r"\b(?:debt[- ]to[- ]income|DTI)(?:\s+ratio)?"
    r"(?:\s+(?:of|is|at|to|from|after|would\s+be|will\s+be|becomes))*\s*:?\s*"
    r"(\d{1,3}(?:\.\d+)?\s?%|\d?\.\d+(?!\.?\d|\s?%))",
    _I,
)
# Sentences end at a line break or at . ! ? followed by a space ("consent.marketing" is one word).
SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\n")
# A product named next to one of these words is being ruled out, not offered.
NOT_OFFERED = re.compile(
    r"\b(?:not|no|cannot|can't|isn't|excluded|blocked|ineligible|declined|unavailable|restricted)\b", _I
)

# --- where the draft names a product: as an offer, in a list of products ruled out, or as a source
OFFER, RULED_OUT, CITATION = "offer", "ruled out", "citation"
HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(?P<label>.*?)[\s#]*$")
LIST_ITEM = re.compile(r"^(?P<indent>\s*)(?:[-*+]|\d{1,2}[.)])\s+")
# "Not offered: ...", "- **Declined:** ...", "**Sources**": a label that governs its line and,
# when nothing follows it on the line, the list below it.
LABELLED_LINE = re.compile(
    r"^(?P<indent>\s*)(?:(?:[-*+]|\d{1,2}[.)])\s+)?(?:\*\*|__)?(?P<label>[^:*_|`\n]{1,60}?)(?:\*\*|__)?\s*:"
    r"(?:\*\*|__)?\s*(?P<rest>.*)$"
)
BOLD_LINE = re.compile(r"^(?P<indent>\s*)(?:\*\*|__)(?P<label>[^*_\n]{1,60}?)(?:\*\*|__)\s*(?P<rest>)$")
RULED_OUT_LABEL = re.compile(
    r"\b(?:not\s+(?:offered|eligible|suitable|recommended|available)|ineligible|declined|excluded|ruled\s+out"
    r"|unsuitable|blocked|unavailable|withheld|(?:cannot|can't|can’t)\s+(?:be\s+)?offer(?:ed)?)\b",
    _I,
)
CITATION_LABEL = re.compile(r"(?:sources?|references?|citations?|evidence|(?:retrieved\s+)?documents?)", _I)


def _label_context(label: str) -> str | None:
    if RULED_OUT_LABEL.search(label):
        return RULED_OUT
    if CITATION_LABEL.fullmatch(label.strip()):
        return CITATION
    return None


def _passages(text: str) -> list[tuple[str, str]]:
    """Each line of the draft with its context: ``OFFER``, ``RULED_OUT`` or ``CITATION``.

    A markdown heading sets the context of its section; a labelled line ("Not offered:",
    "**Sources**") sets the context of itself and of the list items it introduces
    (deeper items only, when the label line has text of its own after the colon).
    """
    passages: list[tuple[str, str]] = []
    section = OFFER
    governing: tuple[str, int, bool] | None = None  # (context, indent, list open at the same level)
    for line in text.splitlines():
        if not line.strip():
            continue
        heading = HEADING.match(line)
        if heading:
            section = _label_context(heading["label"]) or OFFER
            governing = None
            passages.append((line, section))
            continue
        item = LIST_ITEM.match(line)
        if governing is not None:
            context, indent, open_list = governing
            depth = len(item["indent"]) if item else -1
            if item and (depth > indent or (open_list and depth >= indent)):
                passages.append((line, context))
                continue
            governing = None
        labelled = BOLD_LINE.match(line) or LABELLED_LINE.match(line)
        context = _label_context(labelled["label"]) if labelled else None
        if context is not None:
            governing = (context, len(labelled["indent"]), not labelled["rest"].strip())
            passages.append((line, context))
            continue
        passages.append((line, section))
    return passages


def _text_in(text: str, context: str) -> str:
    return "\n".join(line for line, where in _passages(text) if where == context)


def _sentences(text: str) -> list[str]:
    return [sentence for sentence in SENTENCE_BREAK.split(text) if sentence.strip()]


def _figures(patterns: Iterable[re.Pattern], text: str) -> list[tuple[float, str]]:
    found = []
    for pattern in patterns:
        for match in pattern.finditer(text):
            found.append((float(match.group(1)), match.group(0)))
    return found


def _dti_figures(text: str) -> list[tuple[float, str]]:
    found = []
    for match in DTI_FIGURE.finditer(text):
        raw = match.group(1).strip()
        value = float(raw.rstrip("%").strip()) / 100.0 if raw.endswith("%") else float(raw)
        found.append((value, match.group(0).strip()))
    return found


def _mentioned(product: Product, text: str) -> bool:
    lowered = text.lower()
    return product.code.lower() in lowered or product.name.lower() in lowered


def _recommended(products: ProductsFinding | None, kb: KnowledgeBase) -> list[tuple[Recommendation, Product]]:
    """The recommendations with their catalogue products (a code the catalogue lacks is left out)."""
    pairs = []
    for rec in products.recommendations if products is not None else []:
        try:
            pairs.append((rec, kb.product(rec.product_code)))
        except KeyError:
            continue
    return pairs


def _tool_texts(products: ProductsFinding | None) -> str:
    if products is None:
        return ""
    parts = []
    for rec in products.recommendations:
        parts += rec.reasons + [rec.price_tier or ""] + [c.detail for c in rec.checks]
    return "\n".join(parts)


def _close(value: float, allowed: Iterable[float], tolerance: float) -> bool:
    return any(abs(value - a) <= tolerance for a in allowed)


def _apr_violations(text: str, products: ProductsFinding | None, kb: KnowledgeBase) -> list[Violation]:
    recommended = _recommended(products, kb)
    credit_products = [product for _, product in recommended if product.apr_min is not None]
    allowed = {rec.apr for rec in products.recommendations if rec.apr is not None} if products else set()
    for product in credit_products:
        allowed |= {product.apr_min, product.apr_max, policy.representative_apr(product)}
        allowed |= {
            float(v) for k, v in product.fees.items() if k.endswith("rate_pct") and isinstance(v, (int, float))
        }
        allowed |= {value for value, _ in _figures(APR_FIGURES, product.representative_example)}
    allowed |= {value for value, _ in _figures(APR_FIGURES, _tool_texts(products))}
    found = []
    for value, quote in _figures(APR_FIGURES, text):
        if _close(value, allowed, FIGURE_TOLERANCE):
            continue
        in_a_range = any(
            p.apr_min - FIGURE_TOLERANCE <= value <= p.apr_max + FIGURE_TOLERANCE for p in credit_products
        )
        if credit_products and not in_a_range:
            found.append(violation(
                "pricing.published_range", f"'{quote}' is outside the published range of every recommended product"
            ))
        else:
            found.append(violation(
                "forbidden.unsupported_figure",
                f"'{quote}' is not an APR offered by the pricing tool or shown in the catalogue",
            ))
    return found


def _aer_violations(text: str, products: ProductsFinding | None, kb: KnowledgeBase) -> list[Violation]:
    recommended = _recommended(products, kb)
    allowed = {product.interest_rate for _, product in recommended if product.interest_rate is not None}
    allowed |= {value for value, _ in _figures(AER_FIGURES, _tool_texts(products))}
    return [violation("forbidden.unsupported_figure", f"'{quote}' is not the AER of a recommended product")
            for value, quote in _figures(AER_FIGURES, text) if not _close(value, allowed, FIGURE_TOLERANCE)]


def _dti_violations(
    text: str, products: ProductsFinding | None, credit: CreditFinding | None, kb: KnowledgeBase
) -> list[Violation]:
    allowed: set[float] = set(policy.BAND_DTI_CAPS.values())
    if credit is not None and credit.debt_to_income is not None:
        allowed.add(credit.debt_to_income)
    if products is not None:
        allowed |= {rec.dti_after for rec in products.recommendations if rec.dti_after is not None}
    allowed |= {p.eligibility.max_dti for _, p in _recommended(products, kb) if p.eligibility.max_dti is not None}
    allowed |= {value for value, _ in _dti_figures(_tool_texts(products))}
    return [violation("forbidden.unsupported_figure", f"'{quote}' does not match the credit finding or an offer")
            for value, quote in _dti_figures(text) if not _close(value, allowed, DTI_TOLERANCE)]


def _disclosure_present(disclosure_id: str, kb: KnowledgeBase, text: str) -> bool:
    lowered = text.lower()
    return disclosure_id.lower() in lowered or kb.disclosure(disclosure_id).title.lower() in lowered


def _disclosure_violations(text: str, products: ProductsFinding | None, kb: KnowledgeBase) -> list[Violation]:
    """Each recommended product the draft presents (names outside lists of products ruled out
    and outside its sources) needs its disclosures and, for credit, the representative APR."""
    presented = _text_in(text, OFFER)
    found: list[Violation] = []
    for _, product in _recommended(products, kb):
        if not _mentioned(product, presented):
            continue
        missing = [d for d in product.disclosures if not _disclosure_present(d, kb, text)]
        if missing:
            found.append(violation(
                "disclosures.required", f"{product.code} is presented without: {', '.join(missing)}", product.code,
                severity="revise",
            ))
        representative = policy.representative_apr(product)
        if representative is None:
            continue
        shown = _close(representative, [value for value, _ in _figures(APR_FIGURES, text)], FIGURE_TOLERANCE)
        if not shown or "representative" not in text.lower():
            found.append(violation(
                "pricing.representative_apr",
                f"{product.code} is presented without its representative {representative:.1f}% APR", product.code,
            ))
    return found


def _restricted_offer_violations(
    text: str,
    products: ProductsFinding | None,
    compliance: ComplianceFinding,
    credit: CreditFinding | None,
    kb: KnowledgeBase,
) -> list[Violation]:
    restricted = bool(products and products.no_offer_reason) or any(
        v.severity == "block"
        and v.rule in ("consent.marketing", "complaints.no_sales", "vulnerability.restriction")
        for v in compliance.violations
    )
    if not restricted:
        return []
    offered = {r.product_code for r in products.recommendations} if products else set()
    # Products the customer already holds may be discussed: that is service, not promotion.
    held = {code for code, rules in (products.excluded if products else {}).items()
            if "eligibility.already_held" in rules}
    held |= {a.product_code for a in credit.accounts if a.product_code} if credit is not None else set()
    promoting = [s for s in _sentences(_text_in(text, OFFER)) if not NOT_OFFERED.search(s)]
    found = []
    for product in kb.products:
        if product.code in offered | held or product.is_hardship_support:
            continue
        if not any(_mentioned(product, sentence) for sentence in promoting):
            continue
        found.append(
            violation(
                "forbidden.offer_while_restricted",
                f"{product.code} is mentioned while offers are restricted: "
                f"{products.no_offer_reason if products and products.no_offer_reason else 'see compliance'}",
                product.code,
            )
        )
    return found


def _claim_violations(text: str, kb: KnowledgeBase) -> list[Violation]:
    found: list[Violation] = []
    for rule_id, patterns in FORBIDDEN_PATTERNS.items():
        quotes = list(dict.fromkeys(m.group(0) for p in patterns for m in p.finditer(text)))
        if quotes:
            found.append(violation(rule_id, "Draft says: " + "; ".join(f"'{q}'" for q in quotes)))
    non_credit = [p for p in kb.products if not p.grants_credit]
    for sentence in _sentences(text):
        about_non_credit = any(_mentioned(p, sentence) for p in non_credit)
        if NO_CREDIT_CHECK.search(sentence) and CREDIT_WORDS.search(sentence) and not about_non_credit:
            found.append(violation("forbidden.no_credit_check", f"Draft says: '{sentence.strip()}'"))
    return found


def check_draft(
    answer_text: str,
    products: ProductsFinding | None,
    compliance: ComplianceFinding,
    credit: CreditFinding | None,
    kb: KnowledgeBase,
) -> list[Violation]:
    """Violations in a draft answer, each citing the policy section it enforces."""
    return [
        *_claim_violations(answer_text, kb),
        *_apr_violations(answer_text, products, kb),
        *_aer_violations(answer_text, products, kb),
        *_dti_violations(answer_text, products, credit, kb),
        *_disclosure_violations(answer_text, products, kb),
        *_restricted_offer_violations(answer_text, products, compliance, credit, kb),
    ]
