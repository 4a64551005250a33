"""The household registry: households, members, monthly employment, intent."""
