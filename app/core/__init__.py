"""Infrastructure with no domain knowledge: settings, database, errors, logging, security."""
