"""The monitoring feed (防返贫监测): pull and push over HTTP, spreadsheet imports,
reconciliation and data checks. `FEED.md` is the contract."""
