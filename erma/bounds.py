"""Bounds every input is checked against before it reaches the database, so that a value too long
or too large is a 422 with a Chinese message on SQLite and PostgreSQL alike, never a 500.

The column sizes live with the models; these are the limits the API models and parameters share.
"""
from __future__ import annotations

# PostgreSQL INTEGER (every id, seq and counter column): larger numbers cannot name a row.
MAX_DB_INT = 2**31 - 1
# Free text a person types (notes, opinions, comments, outcomes): stored as TEXT, kept readable.
MAX_NOTE = 2000
# A conversation's message (the web chat's and the gateway's): the gateway answers "too long"
# in Chinese from 2,000 characters on; this only stops absurd bodies.
MAX_MESSAGE = 4000
# Short codes and identifiers in paths and query strings (case numbers, town and item codes,
# usernames, aliases, conversation ids): the longest column they are compared with is 128.
MAX_KEY = 128
# Items in a list a person fills in (materials, deficiencies).
MAX_LIST_ITEMS = 50
# One material's name in such a list.
MAX_MATERIAL_NAME = 200
# A page of a staff list (`limit`, `offset`): the default and the largest. Every list is read in a
# stable order ending in the row's id, so pages neither repeat nor skip a row that did not move.
PAGE_DEFAULT = 100
PAGE_MAX = 500


def page_of(rows: list, limit: int, offset: int) -> tuple[list, int | None]:
    """`rows` read with `limit + 1`: the page, and the offset of the next page (None on the last one)."""
    return rows[:limit], (offset + limit if len(rows) > limit else None)
