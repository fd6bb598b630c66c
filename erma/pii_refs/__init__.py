"""References that stand in for ID numbers and phones typed by residents (see service.py)."""
