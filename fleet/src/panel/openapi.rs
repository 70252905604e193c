//! The OpenAPI 3.0 document served at `/api/openapi.json`.

use serde_json::{Value as Json, json};

fn err_resp(desc: &str) -> Json {
    json!({"description": desc, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

/// The document.
pub(super) fn document() -> Json {
    let key = json!({"name": "key", "in": "path", "required": true,
        "description": "A dotted fleet key (company.product.service): ASCII letters, digits, '_', '-', '.'; at most 200 bytes.",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)+$", "maxLength": 200}});
    let counts = json!({"type": "object", "properties": {
        "success": {"type": "integer"}, "failure": {"type": "integer"}, "slow": {"type": "integer"},
        "rejected": {"type": "integer"}, "local": {"type": "integer"}},
        "required": ["success", "failure", "slow", "rejected"]});
    let state = json!({"type": "string", "enum": ["healthy", "unhealthy", "recovering"]});
    let forced = json!({"type": "string", "enum": ["healthy", "unhealthy"], "nullable": true});
    json!({
        "openapi": "3.0.3",
        "info": {"title": "tripbit fleet panel", "version": env!("CARGO_PKG_VERSION"),
            "description": "Every breaker of the fleet: read, force, reset. Reads never change a breaker."},
        "security": [{"bearer": []}],
        "paths": {
            "/api/health": {"get": {"summary": "Liveness and Redis reachability (no token).", "security": [],
                "responses": {"200": {"description": "Redis answers"}, "503": err_resp("Redis is down")}}},
            "/api/breakers": {"get": {"summary": "Every breaker.",
                "responses": {"200": {"description": "The breakers", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"breakers": {"type": "array", "items": {"$ref": "#/components/schemas/Breaker"}}},
                    "required": ["breakers"]}}}},
                    "401": err_resp("missing or wrong token"), "503": err_resp("Redis is down")}}},
            "/api/breakers/{key}": {"get": {"summary": "One breaker.", "parameters": [key],
                "responses": {"200": {"description": "The breaker", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Breaker"}}}},
                    "400": err_resp("malformed key"), "401": err_resp("missing or wrong token"),
                    "404": err_resp("unknown key"), "503": err_resp("Redis is down")}}},
            "/api/breakers/{key}/force": {"post": {"summary": "Force a breaker healthy or unhealthy across the fleet (persisted; audited).",
                "parameters": [key],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object",
                    "properties": {"state": {"type": "string", "enum": ["healthy", "unhealthy"]}}, "required": ["state"],
                    "additionalProperties": false}}}},
                "responses": {"200": {"description": "Stored; the processor applies it on its next tick"},
                    "400": err_resp("malformed key or body, unknown state"), "401": err_resp("missing or wrong token"),
                    "403": err_resp("cross-site request, or a read-only panel"), "404": err_resp("unknown key"),
                    "413": err_resp("body too large"), "415": err_resp("not application/json"), "503": err_resp("Redis is down")}}},
            "/api/breakers/{key}/reset": {"post": {"summary": "Clear the force (audited).", "parameters": [key],
                "responses": {"200": {"description": "Cleared"}, "400": err_resp("malformed key"),
                    "401": err_resp("missing or wrong token"), "403": err_resp("cross-site request, or a read-only panel"),
                    "404": err_resp("unknown key"), "503": err_resp("Redis is down")}}},
            "/api/overview": {"get": {"summary": "Breakers with chart history, processors, watchdog (the page's poll).",
                "responses": {"200": {"description": "Overview"}, "503": err_resp("Redis is down")}}},
            "/api/stream": {"get": {"summary": "Server-sent events: one `overview` event per sample.",
                "responses": {"200": {"description": "text/event-stream"}}}},
            "/api/audit": {"get": {"summary": "The newest 100 audit lines.", "responses": {"200": {"description": "Audit"}}}},
            "/metrics": {"get": {"summary": "Prometheus text exposition.", "responses": {"200": {"description": "text/plain"}}}}
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "string"}, "status": {"type": "integer"}}, "required": ["error"]},
                "Breaker": {"type": "object", "required": ["key", "state", "forced", "window", "totals", "monitors", "transitions"],
                    "properties": {
                        "key": {"type": "string"}, "state": state, "forced": forced,
                        "forced_by": {"type": "string", "nullable": true}, "forced_at": {"type": "integer", "nullable": true},
                        "effective": {"type": "string"}, "version": {"type": "integer"}, "reason": {"type": "string"},
                        "time_in_state_ms": {"type": "integer"}, "failure_ratio": {"type": "number"},
                        "window": {"type": "object", "properties": {"calls": {"type": "integer"}, "failures": {"type": "integer"},
                            "slow": {"type": "integer"}, "failure_ratio": {"type": "number"}, "at_ms": {"type": "integer"}}},
                        "totals": counts,
                        "monitors": {"type": "array", "items": {"type": "object", "required": ["id", "host", "pid", "last_seen", "totals"],
                            "properties": {"id": {"type": "string"}, "host": {"type": "string"}, "pid": {"type": "integer"},
                                "last_seen": {"type": "integer", "description": "wall ms"}, "totals": counts}}},
                        "transitions": {"type": "array", "items": {"type": "object", "properties": {
                            "at_ms": {"type": "integer"}, "from": {"type": "string"}, "to": {"type": "string"},
                            "version": {"type": "integer"}, "epoch": {"type": "integer"}, "reason": {"type": "string"}}}}
                    }}
            }
        }
    })
}
