"""The county dashboard: service figures per town and per item, as JSON and as a CSV export."""
