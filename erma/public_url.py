"""Absolute links residents can open and share (chat answers, the public guide's canonical URLs)."""
from __future__ import annotations

from fastapi import Request

from erma.settings import get_settings


def public_base(request: Request) -> str:
    """ERMA_PUBLIC_URL when set, else the platform's own address as this request reached it."""
    return (get_settings().erma_public_url or str(request.base_url)).rstrip("/")


def public_url(request: Request, path: str) -> str:
    return public_base(request) + "/" + path.lstrip("/")
