"""Household visits (入户走访): in person, by phone or WeChat, often recorded offline."""
