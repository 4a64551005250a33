"""The HTTP feed as a `FeedSource`: one `Batch` per page of `GET /v1/records`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from app.feed.client import FeedClient
from app.feed.records import Batch, FeedRecord, RowError


class HttpFeedSource:
    """Pages of `limit` records from `client`, each mapped by `app.feed.mapping`. A batch's
    `position` is the cursor the next page starts from: committed with the page, it is
    where a stopped pull resumes."""

    def __init__(self, client: FeedClient, limit: int = 500) -> None:
        self.client = client
        self.limit = limit

    async def batches(self, start: str | None) -> AsyncIterator[Batch]:
        from app.feed.mapping import map_feed_record

        cursor = start
        while True:
            page = await self.client.fetch_page(cursor, self.limit)
            records: list[FeedRecord] = []
            errors: list[RowError] = []
            for line, raw in enumerate(page.records, start=1):
                if not isinstance(raw, Mapping):
                    errors.append(RowError(line, None, None, "记录不是对象"))
                    continue
                mapped = map_feed_record(raw, line)
                if isinstance(mapped, FeedRecord):
                    records.append(mapped)
                else:
                    errors.extend(mapped)
            # A last page without a cursor leaves the pull where it stands, not at the start.
            if page.next_cursor is not None:
                cursor = page.next_cursor
            yield Batch(
                records=records,
                errors=errors,
                rows_read=len(page.records),
                position=cursor,
                has_more=page.has_more,
            )
            if not page.has_more:
                return
