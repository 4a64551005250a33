"""Every length the database enforces is in the request schema: a string (or a list's string
item) stored in a `String(n)` column has a `maxLength` of at most `n`, so an overlong value
answers 422 naming the field instead of being cut or failing in the database.

Each request body schema (reached from the OpenAPI document, nested ones included) names the
tables it writes; a field is checked against the column of the same name. A new request body
must be listed here, so the day it is added its lengths are checked too."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import ARRAY, String, Table

from app.alerts.models import Alert, AlertRun
from app.alerts.settings_models import (
    AlertRuleSetting,
    AlertSchedule,
    EmploymentTarget,
    MonitoringLine,
)
from app.alerts.settings_schemas import RULE_SCHEMAS
from app.audit.models import AuditEvent
from app.cli import openapi_document
from app.feed.checks_models import DataCheckExemption
from app.feed.models import FeedConflict, FeedSetting
from app.help_requests.models import HelpRequest, HelpRequestEvent, HelpRequestSetting
from app.households.models import (
    Member,
    MemberEmployment,
    MemberIntent,
    RegistrySetting,
)
from app.jobs.models import Job, JobPush
from app.notifications.models import NotificationSubscription
from app.trainings.models import Training, TrainingEnrollment, TrainingSession
from app.visits.models import Visit

# Request schema -> the tables its fields are stored in.
STORED_IN: dict[str, tuple[Any, ...]] = {
    "JobIn": (Job,),
    "JobPatch": (Job,),
    "PushResultIn": (JobPush,),
    "PushResponseIn": (JobPush,),
    "MemberPatch": (Member,),
    "EmploymentIn": (MemberEmployment,),
    "IntentIn": (MemberIntent,),
    # The reason of a reveal is kept in the audit log.
    "RevealRequest": (AuditEvent,),
    "TrainingIn": (Training,),
    "SessionIn": (TrainingSession,),
    "CompletionIn": (TrainingEnrollment,),
    "VisitIn": (Visit,),
    "Location": (Visit,),
    "MemberUpdate": (),
    # The reason of an exemption is kept with it and in the audit log.
    "ExemptionIn": (DataCheckExemption, AuditEvent),
    # A resolution's note is the reason of its audit row (500 characters there too).
    "ResolutionIn": (FeedConflict, AuditEvent),
    "FeedSettingIn": (FeedSetting,),
    "RegistrySettingIn": (RegistrySetting,),
    "AlertSettingsIn": (AlertSchedule,),
    # One schema per rule and its thresholds, each kept in the county's row for the rule.
    **dict.fromkeys(RULE_SCHEMAS, (AlertRuleSetting,)),
    "MonitoringLineIn": (MonitoringLine,),
    # The action and note are the alert's `resolution_action` and `resolution_note` (text).
    "AlertResolutionIn": (Alert,),
    "AlertRunIn": (AlertRun,),
    "EmploymentTargetIn": (EmploymentTarget,),
    "HelpRequestIn": (HelpRequest,),
    # Its fields are `contact_method` and `contact_note` (200 characters) of the request.
    "ContactIn": (),
    # A message, a resolution's summary, a referral's reason: the thread's `message` (text).
    "MessageIn": (HelpRequestEvent,),
    "ResolveIn": (HelpRequestEvent,),
    "ReferIn": (HelpRequestEvent,),
    # The comment is the request's `rating_comment` (500 characters).
    "RatingIn": (HelpRequest,),
    "HelpRequestSettingIn": (HelpRequestSetting,),
    # Accepted templates are counted per template id.
    "SubscriptionReport": (NotificationSubscription,),
    "SubscriptionResultIn": (NotificationSubscription,),
}

# Request schemas whose fields are never stored as they are sent, with the reason.
NOT_STORED = {
    "TokenRequest": "credentials are compared (a username looked up, a secret verified)",
    "ImportUpload": "the file goes to disk as sent; its name is kept whole up to 255 characters"
    " and refused beyond",
    "RefreshRequest": "the token is hashed before it is looked up",
    "LogoutRequest": "the token is hashed before it is looked up",
    "WeChatCode": "exchanged with WeChat for an openid",
    "CheckinIn": "a signed code, verified and not stored",
    "IdNumberLookup": "the number is turned into a blind index",
    "PushIn": "ids only",
    "AttendanceIn": "ids and booleans only",
    "EnrollmentIn": "ids only",
}

# (schema, field) pairs whose same-named column holds something else, with the reason.
EXCEPTIONS: dict[tuple[str, str], str] = {}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return json.loads(openapi_document())


def _name(ref: str) -> str:
    return ref.rsplit("/", 1)[1]


def _refs(schema: Any) -> Iterator[str]:
    if isinstance(schema, dict):
        if "$ref" in schema:
            yield _name(schema["$ref"])
        for value in schema.values():
            yield from _refs(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _refs(value)


def _request_schemas(document: dict[str, Any]) -> set[str]:
    schemas = document["components"]["schemas"]
    found: set[str] = set()
    pending = [
        name
        for operations in document["paths"].values()
        for operation in operations.values()
        for content in operation.get("requestBody", {}).get("content", {}).values()
        for name in _refs(content["schema"])
    ]
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.add(name)
        pending.extend(_refs(schemas[name]))
    # Enumerations are refused by value, not length.
    return {name for name in found if schemas[name].get("type") == "object"}


def _variants(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        variant
        for variant in schema.get("anyOf", [schema])
        if variant.get("type") not in (None, "null")
    ]


def _column_length(column: Any) -> int | None:
    kind = column.type.item_type if isinstance(column.type, ARRAY) else column.type
    return kind.length if isinstance(kind, String) else None


# A pattern of a fixed number of digits (a region code) bounds the length as well.
_FIXED_DIGITS = re.compile(r"^\^\\d\{(\d+)\}\$$")


def _string_length(schema: dict[str, Any]) -> int | None:
    fixed = _FIXED_DIGITS.match(schema.get("pattern", ""))
    return int(fixed.group(1)) if fixed else schema.get("maxLength")


def _lengths(schema: dict[str, Any]) -> list[int | None]:
    """The maxLength of each string the field may carry (a list's items for an array)."""
    lengths = []
    for variant in _variants(schema):
        if variant["type"] == "array":
            lengths.extend(
                _string_length(item)
                for item in _variants(variant.get("items", {}))
                if item.get("type") == "string"
            )
        elif variant["type"] == "string":
            lengths.append(_string_length(variant))
    return lengths


def test_every_request_schema_says_where_it_is_stored(document):
    unlisted = _request_schemas(document) - STORED_IN.keys() - NOT_STORED.keys()
    assert not unlisted, f"list these in STORED_IN or NOT_STORED: {sorted(unlisted)}"


def test_stored_strings_fit_their_columns(document):
    schemas = document["components"]["schemas"]
    problems = []
    for name, models in STORED_IN.items():
        properties = schemas[name].get("properties", {})
        for field, schema in properties.items():
            if (name, field) in EXCEPTIONS:
                continue
            for model in models:
                table: Table = model.__table__
                column = table.columns.get(field)
                if column is None or (limit := _column_length(column)) is None:
                    continue
                for length in _lengths(schema):
                    if length is None or length > limit:
                        problems.append(
                            f"{name}.{field}: maxLength {length} > {table.name} {limit}"
                        )
    assert not problems, "\n".join(problems)
