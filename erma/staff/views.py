"""Staff sign-in for the API."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy.orm import Session

from erma.db import get_session
from erma.staff.auth import Principal, authenticate, get_principal, issue_token

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class LoginIn(BaseModel):
    username: str
    password: str


@router.post("/login")
def login(body: LoginIn, session: Session = Depends(get_session)) -> dict:
    staff = authenticate(session, body.username, body.password)
    return {"access_token": issue_token(staff), "token_type": "bearer", "role": staff.role,
            "towns": staff.town_codes, "display_name": staff.display_name}


@router.get("/me")
def me(principal: Principal = Depends(get_principal)) -> dict:
    staff = principal.staff
    return {"id": staff.id if staff else None, "username": staff.username if staff else None,
            "role": principal.role, "towns": sorted(principal.towns),
            "display_name": staff.display_name if staff else None,
            "credential_no": staff.credential_no if staff else None}
