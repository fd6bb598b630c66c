"""A read-only Open311 GeoReport v2 façade over the catalog and cases (no personal data)."""
