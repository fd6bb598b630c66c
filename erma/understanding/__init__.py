"""Which service item, and which behaviour, a resident's message means (issue 11: item first)."""
