"""A sandbox LLM that speaks OpenAI's ``POST /v1/chat/completions`` wire format, with switchable faults.

It is no language model: it fills the JSON schema the request asks for (``response_format`` of type
``json_schema``, as ``client.chat.completions.parse`` sends it) with plain sentences built from the request, so
the official ``openai`` client can be tested over HTTP against every way a real model or service misbehaves:

* service faults: ``slow`` (answers after ``slow_seconds``), ``rate_limited`` (429 with OpenAI's error body and
  ``retry-after``), ``server_error`` (500), ``malformed_json`` (content that is not JSON), ``refusal`` (the
  model's refusal field, no content), ``truncated`` (``finish_reason: length``);
* content faults, in otherwise valid answers: ``wrong_amount`` (a figure that is in no data), ``legal_threat``,
  ``other_customer`` (``other_name``, or a name given as ``other_customers`` in the request's data block),
  ``obey_instruction`` (repeats what an instruction planted in the CRM text asked for: the text after
  ``INSTRUCTION:``), ``wrong_citation`` (a delay-cause answer citing a note it was not given), ``inject`` (adds
  ``LlmFaults.injection``: any sentence a test wants a model to slip in).

Asked for a delay cause too (a schema with ``cause`` and ``cited_ids``), it answers like a careful reader: the
cause whose words appear in the most recent of the ``crm_texts`` given, citing that text, else ``unknown``.

The request's data is read from the last user message between ``<data>`` and ``</data>`` (JSON); anything else
in it is ignored. Faults apply to the next ``count`` answers (``None``: every answer).
"""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field

from flask import Flask, Response, request

SERVICE_FAULTS = ("slow", "rate_limited", "server_error", "malformed_json", "refusal", "truncated")
CONTENT_FAULTS = ("wrong_amount", "legal_threat", "other_customer", "obey_instruction", "wrong_citation", "inject")
_DATA = re.compile(r"<data>(.*?)</data>", re.DOTALL)
_INSTRUCTION = re.compile(r"INSTRUCTION:\s*([^\"\\]+)")
_CAUSE_WORDS = {
    "dispute": ("disput",),
    "missing_information": ("po number", "purchase order", "bank details", "remittance"),
    "cash_flow": ("cash flow", "funds are short", "tight"),
    "forgot": ("forgot", "overlooked", "slipped"),
}


@dataclass
class LlmFaults:
    mode: str | None = None  # one of SERVICE_FAULTS or CONTENT_FAULTS
    count: int | None = None  # answers affected; None = all
    delay_seconds: float = 0.0  # every answer waits this long (a latency model, as in the benchmark)
    slow_seconds: float = 5.0  # a "slow" answer waits this long instead
    other_name: str | None = None  # the name "other_customer" slips in (default: the data's other_customers)
    injection: str = ""  # what "inject" slips in
    requests: list[dict] = field(default_factory=list)  # every request body received, for tests

    def take(self) -> str | None:
        """The fault for this answer, counting it down."""
        if self.mode is None or self.count == 0:
            return None
        if self.count is not None:
            self.count -= 1
        return self.mode


def _error(status: int, message: str, kind: str, headers: dict | None = None) -> Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": kind}}
    return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers or {})


def _data(messages: list[dict]) -> dict:
    for message in reversed(messages):
        if message.get("role") == "user":
            text = message.get("content") if isinstance(message.get("content"), str) else json.dumps(message)
            blocks = _DATA.findall(text or "")  # the last block: the instructions may name the tags too
            if blocks:
                try:
                    return json.loads(blocks[-1])
                except json.JSONDecodeError:
                    return {}
    return {}


_INTERNAL = {
    "subject": "Internal: {customer} needs a follow-up",
    "opening": "Reminders have not settled these invoices yet.",
    "request": "Could you find out from your contact what is holding the payment up, and tell finance?",
    "closing": "Thank you,",
}


# Canned prose in the languages whose guardrails ship, so a French or German draft reads as one.
_LANGUAGES = {
    "French": {
        "subject": "Petit rappel pour {customer}",
        "opening": "Nous espérons que tout va bien pour vous.",
        "request": "Pourriez-vous nous dire quand nous pouvons attendre le paiement, ou ce qui le bloque ?",
        "closing": "Bien cordialement,",
        "word_dear": "Bonjour",
        "word_due": "échéance le",
        "word_days_overdue": "jours de retard",
        "word_pay_online": "Consulter et payer en ligne :",
        "word_invoice": "Facture",
        "word_amount_due": "Montant dû",
        "word_due_date": "Échéance",
        "word_view_and_pay": "Consulter et payer en ligne",
    },
    "German": {
        "subject": "Eine kurze Erinnerung für {customer}",
        "opening": "Wir hoffen, es geht Ihnen gut.",
        "request": "Könnten Sie uns sagen, wann wir mit der Zahlung rechnen können, oder was sie aufhält?",
        "closing": "Mit freundlichen Grüßen",
        "word_dear": "Guten Tag",
        "word_due": "fällig am",
        "word_days_overdue": "Tage überfällig",
        "word_pay_online": "Online ansehen und bezahlen:",
        "word_invoice": "Rechnung",
        "word_amount_due": "Offener Betrag",
        "word_due_date": "Fällig",
        "word_view_and_pay": "Online ansehen und bezahlen",
    },
}


def _sentence(name: str, data: dict) -> str:
    if name == "weekly_summary":  # the weekly report's paragraph: every figure and name a placeholder
        known = data.get("placeholders") or {}
        parts = ["{organisation} is owed {outstanding}, of which {overdue} is overdue."]
        if "top_customer" in known:
            parts.append("{top_customer} owes the most overdue, {top_customer_overdue}.")
        if "expected_amount" in known:
            parts.append("About {expected_amount} is expected in over the coming week.")
        trend = (data.get("trends") or {}).get("dso_since_the_month_before", "unknown")
        if "dso" in known and trend != "unknown":
            parts.append(f"DSO was {{dso}} days last month, {trend.split(' ')[0]} on the month before.")
        return " ".join(parts)
    customer = data.get("customer_name") or "there"
    if data.get("tone") in ("escalation_note", "owner_review") and name in _INTERNAL:
        return _INTERNAL[name].format(customer=customer)
    if name in _LANGUAGES.get(data.get("language") or "", {}):
        return _LANGUAGES[data["language"]][name].format(customer=customer)
    return {
        "subject": f"A friendly reminder for {customer}",
        "greeting": f"Dear {customer},",
        "opening": "We hope all is well with you and the team.",
        "body": "Our records show the invoices below are still open. Could you let us know when we can expect "
        "payment, or tell us if anything is holding it up?",
        "request": "Could you let us know when we can expect payment, or tell us if anything is holding it up?",
        "closing": "Kind regards,",
        "summary": "The notes suggest why the payment is late.",
        "word_dear": "Dear",
        "word_due": "due",
        "word_days_overdue": "days overdue",
        "word_pay_online": "You can view and pay online:",
        "word_invoice": "Invoice",
        "word_amount_due": "Amount due",
        "word_due_date": "Due",
        "word_view_and_pay": "View and pay online",
    }.get(name, f"A sentence for {name.replace('_', ' ')}.")


def _cause(data: dict) -> tuple[str, list[str]]:
    for text in data.get("crm_texts") or []:
        lowered = str(text.get("text", "")).lower()
        for cause, words in _CAUSE_WORDS.items():
            if any(word in lowered for word in words):
                return cause, [str(text.get("id"))]
    return "unknown", []


def _fill(schema: dict, data: dict) -> dict:
    """An object satisfying a (strict, flat) JSON schema of string and string-array properties."""
    answer: dict = {}
    properties = schema.get("properties") or {}
    if "cause" in properties and "cited_ids" in properties:
        answer["cause"], answer["cited_ids"] = _cause(data)
    for name, spec in properties.items():
        if name in answer:
            continue
        kind = spec.get("type")
        if kind == "array":
            answer[name] = [_sentence(name, data)]
        elif "enum" in spec:
            answer[name] = spec["enum"][-1]
        elif kind in ("integer", "number"):
            answer[name] = 0
        elif kind == "boolean":
            answer[name] = False
        else:
            answer[name] = _sentence(name, data)
    return answer


def _spoil(answer: dict, fault: str, data: dict, text: str, other: str | None = None, injection: str = "") -> dict:
    """Put one content fault into the longest string field of a valid answer."""
    if fault == "wrong_citation":
        return {**answer, "cause": "dispute", "cited_ids": ["999999999"]} if "cited_ids" in answer else answer
    # Into the prose a customer reads (not the frame's words, nor the reviewer's cause and summary).
    strings = [
        k
        for k, v in answer.items()
        if isinstance(v, str) and not k.startswith("word_") and k not in ("cause", "summary")
    ]
    if not strings:
        return answer
    field_name = max(strings, key=lambda k: len(answer[k]))
    addition = {
        "wrong_amount": "The total outstanding is 99,999.99, due immediately.",
        "legal_threat": "If we do not hear from you within 7 days we will take legal action and charge interest.",
        "other_customer": f"We have also written to {other or (data.get('other_customers') or ['Another Ltd'])[0]}.",
        "obey_instruction": (found.group(1).strip() if (found := _INSTRUCTION.search(text)) else ""),
        "inject": injection,
    }[fault]
    answer[field_name] = f"{answer[field_name]} {addition}".strip()
    return answer


def create_llm_app(api_key: str, faults: LlmFaults, model: str = "sandbox-writer-1") -> Flask:
    app = Flask("ar_radar_sandbox_llm")

    @app.post("/v1/chat/completions")
    def chat_completions() -> Response:
        if request.headers.get("Authorization") != f"Bearer {api_key}":
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        body = request.get_json(force=True, silent=True) or {}
        faults.requests.append(body)
        fault = faults.take()
        if fault == "slow":
            time.sleep(faults.slow_seconds)
        elif faults.delay_seconds:
            time.sleep(faults.delay_seconds)
        if fault == "rate_limited":
            return _error(429, "Rate limit reached for requests.", "rate_limit_exceeded", {"retry-after": "1"})
        if fault == "server_error":
            return _error(500, "The server had an error while processing your request.", "server_error")
        messages = body.get("messages") or []
        data = _data(messages)
        schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("schema") or {}
        answer = _fill(schema, data)
        if fault in CONTENT_FAULTS:
            text = json.dumps(messages, ensure_ascii=False)
            answer = _spoil(answer, fault, data, text, faults.other_name, faults.injection)
        message: dict = {"role": "assistant", "content": json.dumps(answer), "refusal": None}
        finish = "stop"
        if fault == "malformed_json":
            message["content"] = '{"subject": "Reminder", "body": "unterminated'
        elif fault == "refusal":
            message = {"role": "assistant", "content": None, "refusal": "I can't help with that request."}
        elif fault == "truncated":
            finish = "length"
        completion = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 60, "total_tokens": 160},
        }
        return Response(json.dumps(completion), mimetype="application/json")

    return app


def new_api_key() -> str:
    return "sk-sandbox-" + secrets.token_urlsafe(24)
