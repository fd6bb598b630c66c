"""Custom actions of the Erma Cloud assistant: thin calls to the platform API."""
