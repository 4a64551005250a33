from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from app.core.pagination import Page
from app.core.scope import RegionLevel


class RegionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str = Field(examples=["450226100201"], description="12-digit division code")
    name: str
    level: RegionLevel
    parent_code: str | None


class RegionRef(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    level: RegionLevel


class RegionDetail(RegionOut):
    path: list[RegionRef] = Field(
        description="Ancestors from the province down to the parent, for breadcrumbs."
    )
    children_count: int


class RegionPage(Page[RegionOut]):
    """A page of regions, by code."""
