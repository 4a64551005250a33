"""Bodies and answers of the alert settings: each rule's switch and thresholds with the run day
(`/alert-rules`), monitoring lines (`/monitoring-lines`) and employment targets
(`/employment-targets`)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    WithJsonSchema,
    create_model,
    model_validator,
)

from app.core.bodies import RequestBody
from app.core.pagination import Page
from app.core.types import Text
from app.policy.alerts import (
    MAX_RUN_DAY,
    MIN_RUN_DAY,
    RULES,
    AlertKind,
    AlertRule,
    AlertSubject,
    RuleSpec,
    Threshold,
)

ThresholdValue = StrictBool | StrictInt


class ThresholdOut(BaseModel):
    name: str = Field(description="The threshold's name, as `PUT` takes it")
    title: str
    value: ThresholdValue = Field(description="What the county runs on")
    default: ThresholdValue
    minimum: int | None = Field(description="Lowest value allowed; null for a switch")
    maximum: int | None = Field(description="Highest value allowed; null for a switch")


class RuleSettingOut(BaseModel):
    rule: AlertRule
    title: str
    subject: AlertSubject
    kind: AlertKind
    description: str
    enabled: bool
    thresholds: list[ThresholdOut]


class AlertSettingsOut(BaseModel):
    county_code: str
    run_day: int = Field(description="Day of the month the scheduled run computes the month")
    rules: list[RuleSettingOut]
    updated_by: uuid.UUID | None = Field(description="Who last changed anything of these")
    updated_at: datetime | None = Field(description="None: the county runs on the defaults.")


def _camel(rule: AlertRule) -> str:
    return "".join(part.title() for part in rule.split("_"))


def _threshold_field(threshold: Threshold) -> Any:
    kind: Any = (
        StrictBool
        if isinstance(threshold.default, bool)
        else Annotated[StrictInt, Field(ge=threshold.minimum, le=threshold.maximum)]
    )
    return (
        kind | None,
        Field(
            default=None,
            title=threshold.title,
            description=f"Default {threshold.default}; null: back to the default",
        ),
    )


def _rule_model(spec: RuleSpec) -> type[RequestBody]:
    fields: dict[str, Any] = {
        "enabled": (bool | None, Field(default=None, description="Omitted or null: unchanged"))
    }
    if spec.thresholds:
        thresholds = create_model(  # type: ignore[call-overload]
            f"{_camel(spec.rule)}ThresholdsIn",
            __base__=RequestBody,
            __doc__=f"{spec.title}: thresholds not named are left as they are.",
            **{t.name: _threshold_field(t) for t in spec.thresholds},
        )
        fields["thresholds"] = (thresholds | None, Field(default=None))
    return create_model(  # type: ignore[call-overload,no-any-return]
        f"{_camel(spec.rule)}SettingIn",
        __base__=RequestBody,
        __doc__=f"{spec.title}: {spec.description}",
        **fields,
    )


# One body model per rule, each listing that rule's thresholds with their bounds, so the
# document states everything a county may set and a request that fits it is accepted.
RULE_MODELS: dict[AlertRule, type[RequestBody]] = {
    rule: _rule_model(spec) for rule, spec in RULES.items()
}
AlertRulesIn: type[RequestBody] = create_model(  # type: ignore[call-overload]
    "AlertRulesIn",
    __base__=RequestBody,
    __doc__="Rule code → what to change; rules not named are left as they are.",
    **{
        rule.value: (model | None, Field(default=None, description=RULES[rule].title))
        for rule, model in RULE_MODELS.items()
    },
)
# The request schemas above, by name (each stored in `alert_rule_setting`).
RULE_SCHEMAS = frozenset(
    {"AlertRulesIn"}
    | {model.__name__ for model in RULE_MODELS.values()}
    | {f"{_camel(rule)}ThresholdsIn" for rule, spec in RULES.items() if spec.thresholds}
)


class AlertSettingsIn(RequestBody):
    run_day: int | None = Field(
        default=None, ge=MIN_RUN_DAY, le=MAX_RUN_DAY, description="Omitted: left as it is"
    )
    rules: AlertRulesIn | None = Field(  # type: ignore[valid-type]
        default=None, description="Rules not named are left as they are"
    )


# Monitoring lines ------------------------------------------------------------------------------


def _text_matching(pattern: str, message: str) -> BeforeValidator:
    # A number given as text must be one the document's pattern allows (Decimal alone would
    # also read "1e3" or " 5 ").
    compiled = re.compile(pattern)

    def check(value: Any) -> Any:
        if isinstance(value, str) and not compiled.match(value):
            raise ValueError(message)
        return value

    return BeforeValidator(check)


_YUAN_TEXT = r"^[1-9]\d{0,9}(\.\d{1,2})?$"
Yuan = Annotated[
    Decimal,
    _text_matching(_YUAN_TEXT, "应为 1 到 9999999999.99 之间、最多两位小数的金额"),
    Field(ge=1, le=Decimal("9999999999.99"), decimal_places=2),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 1, "maximum": 9999999999.99, "multipleOf": 0.01},
                {"type": "string", "pattern": _YUAN_TEXT},
            ]
        }
    ),
]
"""Yuan per head per year, to the fen: a number or its text."""

_MULTIPLE_TEXT = r"^(0\.[1-9]\d?|[1-9](\.\d{1,2})?|10(\.0{1,2})?)$"
Multiple = Annotated[
    Decimal,
    _text_matching(_MULTIPLE_TEXT, "应为 0.1 到 10 之间、最多两位小数的倍数"),
    Field(ge=Decimal("0.1"), le=10, decimal_places=2),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0.1, "maximum": 10, "multipleOf": 0.01},
                {"type": "string", "pattern": _MULTIPLE_TEXT},
            ]
        }
    ),
]
Note = Annotated[Text, Field(max_length=200)]


def _one_form(schema: dict[str, Any]) -> None:
    # The fields of the other form are left out (null is refused like any other non-number),
    # which the document states: no default, and exactly one set of required fields.
    for field in schema["properties"].values():
        field.pop("default", None)
    schema["anyOf"] = [
        {
            "required": ["amount"],
            "not": {"anyOf": [{"required": ["dibao"]}, {"required": ["dibao_multiple"]}]},
        },
        {"required": ["dibao", "dibao_multiple"], "not": {"required": ["amount"]}},
    ]


class MonitoringLineIn(RequestBody):
    """Exactly one form: a fixed `amount`, or `dibao` and `dibao_multiple` (the line is their
    product); the other form's fields left out."""

    model_config = ConfigDict(json_schema_extra=_one_form)

    amount: Yuan = Field(default=None, description="Yuan per head per year")  # type: ignore[assignment]
    dibao: Yuan = Field(  # type: ignore[assignment]
        default=None, description="The local rural 低保 standard, yuan per head per year"
    )
    dibao_multiple: Multiple = Field(  # type: ignore[assignment]
        default=None, description="The line is this many times `dibao`, e.g. 2"
    )
    note: Note | None = Field(default=None, description="Where it comes from (a document)")

    @model_validator(mode="after")
    def _exactly_one_form(self) -> MonitoringLineIn:
        fixed = self.amount is not None
        formula = self.dibao is not None and self.dibao_multiple is not None
        half = (self.dibao is None) != (self.dibao_multiple is None)
        if fixed == formula or half:
            raise ValueError(
                "须且只能给出一种：固定金额 amount，或低保标准 dibao 与倍数 dibao_multiple"
            )
        return self


class MonitoringLineOut(BaseModel):
    region_code: str
    region_name: str
    level: str
    year: int
    amount: Decimal = Field(description="The line, yuan per head per year (a formula worked out)")
    dibao: Decimal | None
    dibao_multiple: Decimal | None
    note: str | None
    updated_by: uuid.UUID | None
    updated_at: datetime


class MonitoringLinePage(Page[MonitoringLineOut]):
    """Lines by region code (province first) and year."""


class EffectiveLineOut(BaseModel):
    region_code: str = Field(description="The region asked about")
    year: int
    amount: Decimal | None = Field(description="The line that applies; null: none set up the tree")
    source: MonitoringLineOut | None = Field(
        description="The line itself: the nearest region up the tree that has one"
    )


# Employment targets ----------------------------------------------------------------------------


class EmploymentTargetIn(RequestBody):
    target: int = Field(gt=0, le=10_000_000, description="Labourers working this year")


class EmploymentTargetOut(BaseModel):
    region_code: str
    region_name: str
    level: str
    year: int
    target: int
    updated_by: uuid.UUID | None
    updated_at: datetime


class EmploymentTargetPage(Page[EmploymentTargetOut]):
    """Targets by region code and year."""
