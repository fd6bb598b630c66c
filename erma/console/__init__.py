"""Staff web pages: sign-in and the agents' inbox (plain HTML, CSS and JS calling the JSON API)."""
