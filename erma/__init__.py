"""Erma Cloud (尔玛云) case platform."""
