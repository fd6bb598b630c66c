"""Facts about the agency service itself: where the points are and when they open.

Both come from ``GET /api/v1/intake-points`` (the points, plus the county-seat point's facts
under ``service_point``), so the county changes them in one place.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import conversation, messages
from actions.platform_client import PlatformError, PlatformUnavailable, get_client

MAX_VILLAGE_POINTS = 6


def _town_code(points: List[Dict[str, Any]], town_name: Optional[str]) -> Optional[str]:
    if not town_name:
        return None
    short = town_name.rstrip("镇乡")
    for point in points:
        name = point.get("name") or ""
        if point.get("kind") in ("town_centre", "village_point") and name.startswith(short):
            return point.get("town_code")
    return None


def points_message(data: Dict[str, Any], town_name: Optional[str]) -> str:
    points = data.get("items") or []
    facts = data.get("service_point") or {}
    county_name = facts.get("name") or "尔玛云便民服务代办点"
    lines = ["三级服务点，哪里都能交材料，不看户口在哪：",
             f"1. 县城：凤仪镇的{county_name}，每个镇都有自己的窗口，代办员坐班。",
             "2. 镇上：各镇的便民服务中心（原来乡上的老服务点也保留着）。",
             "3. 村里：村便民服务站，设在村党群活动室。"]
    code = _town_code(points, town_name)
    if code:
        centres = [p["name"] for p in points if p.get("town_code") == code and p.get("kind") == "town_centre"]
        villages = [p["name"] for p in points if p.get("town_code") == code and p.get("kind") == "village_point"]
        windows = [p["name"] for p in points if p.get("window_for") == code]
        if windows:
            lines.append(f"{town_name}在县城的窗口：{'、'.join(windows)}。")
        if centres:
            lines.append(f"{town_name}的镇上服务点：{'、'.join(centres)}。")
        if villages:
            more = f"等{len(villages)}个" if len(villages) > MAX_VILLAGE_POINTS else ""
            lines.append(f"{town_name}的村服务站：{'、'.join(villages[:MAX_VILLAGE_POINTS])}{more}。")
    if facts.get("address"):
        lines.append(f"县城代办点地址：{facts['address']}。")
    lines.append("人在外地的，也可以在网上直接申请，说“我要办”就行。")
    return "\n".join(lines)


class ActionServicePoints(Action):
    def name(self) -> Text:
        return "action_service_points"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        try:
            data = await get_client().intake_points()
        except (PlatformUnavailable, PlatformError):
            dispatcher.utter_message(text=messages.OUTAGE)
            return []
        town = conversation.entity(tracker, "town") or tracker.get_slot("hukou_town")
        dispatcher.utter_message(text=points_message(data, town))
        return []


class ActionOpeningHours(Action):
    def name(self) -> Text:
        return "action_opening_hours"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        try:
            facts = (await get_client().intake_points()).get("service_point") or {}
        except (PlatformUnavailable, PlatformError):
            dispatcher.utter_message(text=messages.OUTAGE)
            return []
        hours = (facts.get("opening_hours") or {}).get("text")
        if hours:
            text = f"上班时间：{hours}。村、镇服务点一般也是这个时间，以当地公布的为准。"
        else:
            text = "上班时间以各服务点公布的为准，工作日都能办，法定节假日休息。"
        dispatcher.utter_message(text=text + "在网上申请不受时间限制，随时都可以说“我要办”。")
        return []
