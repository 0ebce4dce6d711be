"""A local HTTP server that speaks HubSpot's CRM v3 objects and v4 associations APIs.

Implemented: ``GET /crm/v3/objects/{type}`` (``limit`` up to 100, ``after`` cursor, ``properties``,
``associations``, ``archived``; URLs over 8 KB get a 414), ``POST /crm/v3/objects/{type}/search``
(filter groups with EQ/GT/GTE/LT/LTE, one sort, ``limit`` up to 200, ``after``, ``total``, and
HubSpot's 10,000-result cap), ``POST /crm/v4/associations/{from}/{to}/batch/read``. Limits: 100
requests per 10 s per token, 5 searches a second, with HubSpot's 429 body (no ``Retry-After``).
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Flask, Response, request

from ar_radar.extract.rate_limit import Clock
from ar_radar.local.sandbox.demo_company import DemoCompany
from ar_radar.local.sandbox.wire import dumps

OBJECT_TYPES = ("companies", "contacts", "deals", "tickets", "notes")
_SINGULAR = {"companies": "company", "contacts": "contact", "deals": "deal", "tickets": "ticket", "notes": "note"}
_ALWAYS = ("hs_object_id", "createdate", "hs_lastmodifieddate")
SEARCH_CAP = 10_000
MAX_URL = 8192


@dataclass
class HubSpotFaults:
    rate_limit_429: int = 0  # next N calls: 429 RATE_LIMIT without Retry-After
    index_lag_ids: frozenset[str] = frozenset()  # objects search cannot see yet
    change_while_paging: bool = False  # after a full search page, its first record is edited (once)


def _error(status: int, category: str, message: str, **extra: str) -> Response:
    body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category, **extra}
    return Response(dumps(body), status=status, mimetype="application/json")


def _number(value: str) -> float | str:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def _ms(value: str | None) -> float | None:
    """HubSpot compares datetime properties as epoch milliseconds."""
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000


def _matches(obj: dict, group: dict) -> bool:
    for flt in group.get("filters", []):
        name, op, value = flt["propertyName"], flt["operator"], flt.get("value")
        actual = obj["properties"].get(name)
        if name in ("hs_lastmodifieddate", "createdate"):
            left, right = _ms(actual), _ms(value)
        else:
            left, right = _number(actual), _number(value)
        if left is None:
            return False
        ok = {
            "EQ": left == right,
            "NEQ": left != right,
            "GT": left > right,
            "GTE": left >= right,
            "LT": left < right,
            "LTE": left <= right,
        }.get(op)
        if not ok:
            return False
    return True


class _Limiter:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.calls: deque[float] = deque()
        self.searches: deque[float] = deque()
        self.lock = threading.Lock()
        self.rejected = 0

    def admit(self, search: bool) -> str | None:
        with self.lock:
            now = self.clock.now()
            while self.calls and self.calls[0] <= now - 10:
                self.calls.popleft()
            while self.searches and self.searches[0] <= now - 1:
                self.searches.popleft()
            if len(self.calls) >= 100:
                self.rejected += 1
                return "TEN_SECONDLY_ROLLING"
            if search and len(self.searches) >= 5:
                self.rejected += 1
                return "SECONDLY"
            self.calls.append(now)
            if search:
                self.searches.append(now)
            return None


def create_hubspot_app(
    companies: list[DemoCompany],
    access_token: str,
    faults: HubSpotFaults | None = None,
    clock: Clock | None = None,
    objects: dict[str, list[dict]] | None = None,
) -> Flask:
    app = Flask("hubspot_sandbox")
    faults = faults or HubSpotFaults()
    limiter = _Limiter(clock or Clock())
    # HubSpot portals are one per account: the demo organisations share one CRM.
    objects = objects or {t: [o for c in companies for o in c.hubspot.get(t, [])] for t in OBJECT_TYPES}
    by_id = {t: {o["id"]: o for o in objs} for t, objs in objects.items()}
    stats = {"calls": 0, "searches": 0, "association_reads": 0}
    created: list[str] = []  # ids of the notes AR Radar wrote (a reminder sent, logged on the company)
    app.config.update(objects=objects, by_id=by_id, stats=stats, limiter=limiter, created_notes=created)

    def gate(search: bool = False) -> Response | None:
        stats["calls"] += 1
        if request.headers.get("Authorization") != f"Bearer {access_token}":
            return _error(
                401,
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found. This API supports OAuth 2.0 authentication.",
            )
        if faults.rate_limit_429 > 0:
            faults.rate_limit_429 -= 1
            return _error(
                429,
                "RATE_LIMITS",
                "You have reached your secondly limit.",
                errorType="RATE_LIMIT",
                policyName="SECONDLY",
            )
        if policy := limiter.admit(search):
            return _error(
                429,
                "RATE_LIMITS",
                f"You have reached your {policy.lower()} limit.",
                errorType="RATE_LIMIT",
                policyName=policy,
            )
        return None

    def shape(obj: dict, wanted: list[str], assoc_types: list[str], object_type: str) -> dict:
        props = obj["properties"]
        if wanted:
            props = {k: props.get(k) for k in (*_ALWAYS, *wanted)}
        item = {k: obj[k] for k in ("id", "createdAt", "updatedAt", "archived")}
        item["properties"] = props
        links = {a: obj["_associations"].get(a, []) for a in assoc_types if obj["_associations"].get(a)}
        if links:
            item["associations"] = {
                a: {"results": [{"id": i, "type": f"{_SINGULAR[object_type]}_to_{_SINGULAR[a]}"} for i in ids]}
                for a, ids in links.items()
            }
        return item

    @app.get("/crm/v3/objects/<object_type>")
    def list_objects(object_type: str) -> Response:
        if len(request.full_path) > MAX_URL:
            return Response("URI Too Long", status=414)
        if (refused := gate()) is not None:
            return refused
        if object_type not in OBJECT_TYPES:
            return _error(400, "VALIDATION_ERROR", f"Unable to infer object type from: {object_type}")
        limit = int(request.args.get("limit", 10))
        if not 1 <= limit <= 100:
            return _error(400, "VALIDATION_ERROR", "limit must be between 1 and 100")
        start = int(request.args.get("after", 0))
        archived = request.args.get("archived", "false").lower() == "true"
        wanted = [p for value in request.args.getlist("properties") for p in value.split(",") if p]
        assoc_types = [a for value in request.args.getlist("associations") for a in value.split(",") if a]
        pool = [o for o in objects[object_type] if o["archived"] == archived]
        body: dict = {"results": [shape(o, wanted, assoc_types, object_type) for o in pool[start : start + limit]]}
        if start + limit < len(pool):
            after = str(start + limit)
            body["paging"] = {"next": {"after": after, "link": f"{request.base_url}?after={after}&limit={limit}"}}
        return Response(dumps(body), mimetype="application/json")

    @app.post("/crm/v3/objects/notes")
    def create_note() -> Response:
        """Create a note with its associations (v3 objects API), as AR Radar logs each reminder it sent."""
        if (refused := gate()) is not None:
            return refused
        body = request.get_json(force=True, silent=True) or {}
        props = body.get("properties") or {}
        if not props.get("hs_timestamp"):
            return _error(400, "VALIDATION_ERROR", "Property values were not valid: hs_timestamp is required")
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        note_id = str(90_000_000 + len(objects["notes"]))
        links: dict[str, list[str]] = {}
        for association in body.get("associations") or []:
            to_id = str((association.get("to") or {}).get("id"))
            links.setdefault("companies", []).append(to_id)
        note = {
            "id": note_id,
            "properties": {"hs_object_id": note_id, "createdate": now, "hs_lastmodifieddate": now, **props},
            "createdAt": now,
            "updatedAt": now,
            "archived": False,
            "_associations": links,
        }
        objects["notes"].append(note)
        by_id["notes"][note_id] = note
        created.append(note_id)
        return Response(dumps(shape(note, [], ["companies"], "notes")), status=201, mimetype="application/json")

    @app.post("/crm/v3/objects/<object_type>/search")
    def search(object_type: str) -> Response:
        if (refused := gate(search=True)) is not None:
            return refused
        stats["searches"] += 1
        query = request.get_json(force=True)
        limit = int(query.get("limit") or 10)
        after = int(query.get("after") or 0)
        if not 1 <= limit <= 200:
            return _error(400, "VALIDATION_ERROR", "limit must be between 1 and 200")
        if after + limit > SEARCH_CAP:
            return _error(
                400,
                "VALIDATION_ERROR",
                f"There was a problem with the request: paging past {SEARCH_CAP} results is not allowed",
            )
        groups = query.get("filterGroups") or [{"filters": []}]
        pool = [
            o
            for o in objects[object_type]
            if not o["archived"] and o["id"] not in faults.index_lag_ids and any(_matches(o, g) for g in groups)
        ]
        sorts = query.get("sorts") or [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]
        if len(sorts) > 1:
            return _error(400, "VALIDATION_ERROR", "Only one sort is allowed")
        key = sorts[0]["propertyName"] if isinstance(sorts[0], dict) else str(sorts[0]).lstrip("-")
        descending = isinstance(sorts[0], dict) and sorts[0].get("direction") == "DESCENDING"
        if key in ("hs_lastmodifieddate", "createdate"):
            # Ties keep the portal's internal order, which is not the id order: clients must not rely on it.
            pool.sort(key=lambda o: _ms(o["properties"].get(key)) or 0, reverse=descending)
        else:
            pool.sort(key=lambda o: _number(o["properties"].get(key)), reverse=descending)
        wanted = list(query.get("properties") or [])
        page = pool[after : after + limit]
        body: dict = {"total": len(pool), "results": [shape(o, wanted, [], object_type) for o in page]}
        if faults.change_while_paging and len(page) == limit:
            # Someone edits a record right after this page was read: it jumps to the end of the order.
            stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            page[0]["properties"]["hs_lastmodifieddate"] = page[0]["updatedAt"] = stamp
            faults.change_while_paging = False
        if after + limit < len(pool):
            body["paging"] = {"next": {"after": str(after + limit)}}
        return Response(dumps(body), mimetype="application/json")

    @app.post("/crm/v4/associations/<from_type>/<to_type>/batch/read")
    def associations(from_type: str, to_type: str) -> Response:
        if (refused := gate()) is not None:
            return refused
        stats["association_reads"] += 1
        inputs = (request.get_json(force=True) or {}).get("inputs", [])
        if len(inputs) > 1000:
            return _error(400, "VALIDATION_ERROR", "at most 1000 inputs per batch")
        results, errors = [], []
        for item in inputs:
            obj = by_id.get(from_type, {}).get(str(item.get("id")))
            if obj is None:
                errors.append({"status": "error", "category": "OBJECT_NOT_FOUND", "message": f"{item} not found"})
                continue
            targets = obj["_associations"].get(to_type, [])
            if targets:
                results.append(
                    {
                        "from": {"id": obj["id"]},
                        "to": [
                            {
                                "toObjectId": int(t),
                                "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 1, "label": None}],
                            }
                            for t in targets
                        ],
                    }
                )
        body = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": "2026-01-01T00:00:00Z",
            "completedAt": "2026-01-01T00:00:00Z",
        }
        if errors:
            body["errors"], body["numErrors"] = errors, len(errors)
        return Response(dumps(body), status=207 if errors else 200, mimetype="application/json")

    return app


def add_object(app: Flask, object_type: str, obj: dict) -> None:
    """Put a record in the sandbox's CRM as if someone had just created it in HubSpot (for tests)."""
    app.config["objects"][object_type].append(obj)
    app.config["by_id"][object_type][obj["id"]] = obj


def remove_object(app: Flask, object_type: str, obj: dict) -> None:
    app.config["objects"][object_type].remove(obj)
    app.config["by_id"][object_type].pop(obj["id"], None)
