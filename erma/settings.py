"""All configuration, read from the environment in one place."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    # sqlite:///<path> (default) or postgresql+psycopg://user@host/db
    database_url: str = f"sqlite:///{ROOT / 'var' / 'erma.db'}"
    # Token the action server (and other trusted services) send as `Authorization: Bearer …`.
    erma_service_token: str = "dev-service-token"
    # Signs staff access tokens; must be set outside local development.
    erma_secret_key: str = "dev-secret-key-change-me"
    # Key material for field encryption of ID numbers and phones (Fernet, derived by HMAC).
    erma_pii_key: str = "dev-pii-key-change-me"
    catalog_path: Path = ROOT / "catalog" / "services.yaml"
    places_path: Path = ROOT / "catalog" / "places.yaml"
    staff_path: Path = ROOT / "catalog" / "demo_staff.yaml"
    # Local timezone of the county: dates (deadlines, case numbers) are China dates.
    erma_timezone: str = "Asia/Shanghai"
    # 差评 follow-up deadline in working days (domain-notes §2.4: 5 at town level).
    rating_followup_working_days: int = 5
    # Days before a 容缺 supplement deadline when the reminder goes out.
    deferral_reminder_working_days: int = 2
    # 容缺 supplement period for an item whose catalog entry leaves deferral_max_working_days empty
    # (working days; never beyond the item's promised time limit).
    deferral_default_working_days: int = 5
    # How often each platform process looks for holiday overrides edited in another process (0: never).
    calendar_poll_seconds: float = 5.0
    # Status lookups: failures allowed per case number in the window before answers slow down.
    status_max_failures: int = 5
    status_failure_window_seconds: int = 900
    # Staff sign-in: this many failures for one username from one client address, for one username
    # from anywhere, or from one client address, within the window refuse further attempts (even
    # with the right password) for the lock time.
    sign_in_max_failures_per_username: int = 5
    sign_in_max_failures_per_username_anywhere: int = 50
    sign_in_max_failures_per_client: int = 20
    sign_in_failure_window_seconds: int = 900
    sign_in_lock_seconds: int = 900
    # Reverse proxies whose X-Forwarded-Proto / X-Forwarded-For `python -m erma serve` believes
    # (comma-separated addresses or networks, `*` = any): https as the proxy saw it makes the
    # staff cookies Secure, and the client address counts sign-in failures.
    erma_trusted_proxies: str = "127.0.0.1"
    # Chinese font embedded in printable PDFs (一表一书); TTC files need the face index.
    # If unusable, fontconfig (`fc-match :lang=zh-cn`) is asked; without any, PDFs answer 503.
    erma_pdf_font: str = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
    erma_pdf_font_index: int = 0
    rasa_url: str = "http://127.0.0.1:5005"
    # The address residents reach the platform at (e.g. https://erma.example.gov.cn): links in chat
    # answers and the public guide's canonical URLs. Empty: the address the request came in on.
    erma_public_url: str = ""
    # WeChat Official Account (公众号) channel at /channels/wechat. Without a token every request is refused.
    wechat_token: str = ""
    wechat_app_id: str = ""
    wechat_app_secret: str = ""
    # Safe mode (安全模式/兼容模式): the 43-character EncodingAESKey; empty = plaintext mode only.
    wechat_encoding_aes_key: str = ""
    wechat_api_base: str = "https://api.weixin.qq.com"
    # WeChat drops the connection after 5 s; slower assistant answers go out by the customer-service API.
    wechat_reply_timeout_seconds: float = 4.0
    # Customer-service messages are allowed this long after the resident's last interaction.
    wechat_service_window_hours: int = 48


@lru_cache
def get_settings() -> Settings:
    return Settings()
