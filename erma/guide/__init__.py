"""The public service guide: /services and /services/{code}, no sign-in."""
