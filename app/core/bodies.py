"""The base of every request body."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RequestBody(BaseModel):
    """A request body, and every object inside one. A field the operation does not know answers
    422 naming it, rather than being dropped without a word: a misspelt or unsupported field
    (`statsu`, `role`, `village_code`) is an error the client should see."""

    model_config = ConfigDict(extra="forbid")
