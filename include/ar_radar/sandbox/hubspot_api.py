"""A local HTTP server that speaks HubSpot's CRM v3 objects API over the demo companies.

Implemented: ``GET /crm/v3/objects/{type}`` with ``limit`` (max 100), ``after`` cursor paging,
``properties``, ``associations`` and ``archived``; bearer-token auth with HubSpot's error body.
"""

from __future__ import annotations

import uuid

from flask import Flask, Response, request

from ar_radar.sandbox.demo_company import DemoCompany
from ar_radar.sandbox.wire import dumps

OBJECT_TYPES = ("companies", "contacts", "deals", "tickets", "notes")
_SINGULAR = {"companies": "company", "contacts": "contact", "deals": "deal", "tickets": "ticket", "notes": "note"}
_ALWAYS = ("hs_object_id", "createdate", "hs_lastmodifieddate")


def _error(status: int, category: str, message: str) -> Response:
    body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category}
    return Response(dumps(body), status=status, mimetype="application/json")


def create_hubspot_app(companies: list[DemoCompany], access_token: str) -> Flask:
    app = Flask("hubspot_sandbox")
    # HubSpot portals are one per account: the demo organisations share one CRM.
    objects = {t: [o for c in companies for o in c.hubspot.get(t, [])] for t in OBJECT_TYPES}

    @app.get("/crm/v3/objects/<object_type>")
    def list_objects(object_type: str) -> Response:
        if request.headers.get("Authorization") != f"Bearer {access_token}":
            return _error(
                401,
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found. This API supports OAuth 2.0 authentication.",
            )
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
        page = pool[start : start + limit]
        results = []
        for obj in page:
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
            results.append(item)
        body: dict = {"results": results}
        if start + limit < len(pool):
            after = str(start + limit)
            body["paging"] = {"next": {"after": after, "link": f"{request.base_url}?after={after}&limit={limit}"}}
        return Response(dumps(body), mimetype="application/json")

    return app
