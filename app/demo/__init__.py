"""The demo county: regions, accounts (and, as domains grow, its population)."""
