"""The demo county: a seeded generator of a synthetic mountainous county (and, scaled up, a prefecture)."""
