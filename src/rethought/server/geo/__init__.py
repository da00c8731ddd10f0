"""Geometry for the geo terms and the geo index: sphere arithmetic, S2 predicates, GeoJSON
parsing, index boxes (docs/architecture.md)."""
