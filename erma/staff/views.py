"""Staff sign-in and sign-out for the API, and a town's agents for the staff pages."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from erma.unit_of_work import SESSION
from erma.errors import DomainError
from erma.staff.agents import town_agents
from erma.staff.auth import (SESSION_COOKIE, Principal, clear_session_cookies, client_address, get_principal,
                             sign_in)
from erma.staff.sessions import end_session

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
towns_router = APIRouter(prefix="/api/v1/towns", tags=["agents"])


class LoginIn(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)


@router.post("/login")
def login(body: LoginIn, request: Request, session: Session = SESSION) -> dict:
    """Opens a session (12 hours); repeated failures for a username or from an address answer 429."""
    staff, token = sign_in(session, body.username, body.password, client_address(request))
    return {"access_token": token, "token_type": "bearer", "role": staff.role,
            "towns": staff.town_codes, "display_name": staff.display_name}


@router.post("/logout")
def logout(request: Request, principal: Principal = Depends(get_principal),
           session: Session = SESSION) -> JSONResponse:
    """Ends the session the request came with (bearer token or page cookie): it is refused from now on."""
    if principal.session_id is None:
        raise DomainError("not_a_staff_session", "这个凭证不是工作人员的登录，不能退出")
    end_session(session, principal.session_id)
    response = JSONResponse({"signed_out": True})
    if request.cookies.get(SESSION_COOKIE) and not request.headers.get("authorization"):
        clear_session_cookies(response)
    return response


@router.get("/me")
def me(principal: Principal = Depends(get_principal)) -> dict:
    staff = principal.staff
    return {"id": staff.id if staff else None, "username": staff.username if staff else None,
            "role": principal.role, "towns": sorted(principal.towns),
            "display_name": staff.display_name if staff else None,
            "credential_no": staff.credential_no if staff else None}


@towns_router.get("/{town_code}/agents")
def list_town_agents(town_code: str, principal: Principal = Depends(get_principal),
                     session: Session = SESSION) -> dict:
    """The town's active agents with their open cases, least loaded first (duty leads and admins:
    any town; an agent: their own town). 404 for an unknown town, 403 for one out of reach."""
    return town_agents(session, principal, town_code)
