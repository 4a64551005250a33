"""The OpenAPI document is complete enough for the front end to build against."""

from __future__ import annotations

from app.cli import OPENAPI_PATH, openapi_document


def test_every_operation_is_documented():
    import json

    document = json.loads(openapi_document())
    assert "Problem" in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            assert operation.get("summary"), where
            assert operation.get("tags"), where
            assert operation.get("description"), where
            success = [s for s in operation["responses"] if s.startswith("2")]
            assert success, where
            if path.startswith("/api/v1"):
                errors = [s for s in operation["responses"] if s[0] in "45"]
                assert "422" in errors and "500" in errors, where
                problem = operation["responses"]["500"]["content"]
                assert "application/problem+json" in problem, where


def test_protected_operations_document_401():
    import json

    document = json.loads(openapi_document())
    public = {"/api/v1/auth/wechat/login", "/api/v1/auth/token", "/api/v1/auth/refresh"}
    for path, operations in document["paths"].items():
        if not path.startswith("/api/v1") or path in public:
            continue
        for method, operation in operations.items():
            assert "401" in operation["responses"], f"{method.upper()} {path}"


def test_committed_document_is_current():
    assert OPENAPI_PATH.read_text(encoding="utf-8") == openapi_document(), (
        "openapi/openapi.json is stale: run `wengang openapi`"
    )
