"""Platform settings, read from the environment with the SMARTCITY_ prefix."""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_var_dir() -> Path:
    return Path.cwd() / "var"


class Settings(BaseSettings):
    """Everything an operator can set; defaults give the embedded single-node pilot."""

    model_config = SettingsConfigDict(env_prefix="SMARTCITY_", env_file=None, extra="ignore")

    var_dir: Path = Field(default_factory=_default_var_dir)
    # Empty means the embedded SQLite database at var_dir/smartcity.db.
    database_url: str = ""
    # Empty means the in-process bus; nats://host:4222 selects NATS JetStream.
    bus_url: str = ""
    # mqtt://host:1883 turns on the SensorThings MQTT bridge (sensing/mqtt.py).
    mqtt_url: str = ""
    # Fixed, so the broker keeps the bridge's persistent session (QoS 1 queue) across restarts.
    mqtt_client_id: str = "smartcity-sta-bridge"
    # $select topics always published, space-separated, besides those announced via $SYS.
    mqtt_select_topics: str = ""
    # Signs session cookies, JWTs and CSRF tokens, and derives the key that encrypts private
    # signing keys and TOTP secrets at rest. Empty: generated once and kept in var_dir/secret.key.
    secret_key: SecretStr = SecretStr("")
    city_name: str = "深圳市"
    # The city's name on English pages.
    city_name_en: str = "Shenzhen"
    default_locale: str = "zh_CN"
    access_token_minutes: int = 15
    session_hours: int = 8
    # 等保 level 3 asks for login-failure handling: lock after N failures, backing off.
    max_failed_logins: int = 5
    lockout_minutes: int = 15
    # Room for one 10 MiB material (services.application.materials) and the form around it.
    max_request_bytes: int = 12 * 1024 * 1024
    max_page_size: int = 200
    # How deep arrays and objects may nest in a JSON body (core/limits.py); deeper is a 400.
    max_json_depth: int = Field(default=64, ge=2, le=512)
    public_rate_per_minute: int = 120
    # Behind TLS: cookies get the Secure flag (docs/security.md). Responses served over HTTPS
    # also carry Strict-Transport-Security; behind a TLS-terminating proxy, set
    # trust_proxy_headers so X-Forwarded-Proto/-Host are believed (only if the proxy sets them).
    secure_cookies: bool = False
    trust_proxy_headers: bool = False
    hsts_max_age_seconds: int = 31536000
    # argon2id cost; the default is RFC 9106's low-memory profile (about 0.2 s a hash here).
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    log_sql: bool = False
    # SensorThings API (sensing): page sizes, and how far ahead of now an observation may be
    # dated before it is refused as a clock error.
    sta_default_top: int = 100
    sta_max_top: int = 10000
    sta_future_tolerance_hours: float = 24.0
    # What one SensorThings read may cost: levels of nested $expand, and entities in one
    # response (the top-level page and everything expanded in it).
    sta_max_expand_depth: int = 4
    sta_max_response_entities: int = 20000
    # PostgreSQL statement_timeout of every request's transaction, in seconds (0: none); a
    # statement cancelled by it answers 503.
    request_statement_timeout_seconds: float = 30.0
    # How long `smartcity serve` lets requests in flight finish after SIGTERM.
    shutdown_grace_seconds: float = 5.0
    # The simulated city feed (demo/simulate.py): `smartcity demo` turns it on, `serve`
    # does not. It posts to this server at simulate_base_url (default http://127.0.0.1:8000),
    # one round of due readings every simulate_tick_seconds.
    simulate_feed: bool = False
    simulate_base_url: str = ""
    simulate_tick_seconds: float = 5.0
    # Back-pressure of ingestion (sensing/backpressure.py): Observation-writing requests at
    # once per process; how long one more waits for a place before 503 + Retry-After.
    sta_ingest_max_requests: int = 16
    sta_ingest_wait_seconds: float = 2.0
    sta_ingest_retry_after_seconds: float = 5.0
    # MQTT bridge: QoS 1 messages the broker may hand it before it acknowledged them (MQTT 5
    # Receive Maximum, 1–65535): the bound of what the bridge holds when the database lags.
    mqtt_max_inflight: int = 1000
    # Who the bridge is on the broker (docs/operations.md, MQTT). Empty: anonymous, as on a
    # development broker without authentication.
    mqtt_username: str = ""
    mqtt_password: SecretStr = SecretStr("")
    # Keep Mosquitto's dynamic-security clients, roles and ACLs in sync with device accounts,
    # API keys and Things (sensing/dynsec.py); `smartcity sensing mqtt-sync` rebuilds them.
    mqtt_dynsec: bool = False
    # May clients without an account subscribe to the public Things' topics at all?
    mqtt_anonymous_read: bool = True
    # Also take Observations on the standard topics (v1.1/Datastreams(1)/Observations), which
    # subscribers read too: only for conformance tests on a broker without authentication.
    mqtt_standard_create_topics: bool = False
    # The service root as clients reach it, for the @iot.selfLink of the entities the bridge
    # publishes (HTTP answers use the request's own address).
    sta_public_root: str = "http://127.0.0.1:8000/sta/v1.1"
    # The shared secret clustered brokers (EMQX, VerneMQ) send to the HTTP authentication and
    # ACL endpoint (sensing/mqtt_hook.py). Empty: the endpoint is off.
    mqtt_hook_secret: SecretStr = SecretStr("")

    # Signed checkpoints of the audit trail and the exchange message log (core.checkpoints):
    # a directory outside the database (default var_dir/checkpoints; put it on other storage,
    # append-only), how often the job writes one, and the signing algorithm (SM2 or P-256).
    checkpoint_dir: Path | None = None
    checkpoint_interval_seconds: float = 300.0
    checkpoint_algorithm: str = "SM2"
    # Backups (core.backup): the directory (default var_dir/backups), every how many hours
    # the job takes one (0: no scheduled backups), and how many to keep.
    backup_dir: Path | None = None
    backup_interval_hours: float = 0.0
    backup_keep: int = 7
    # On restore, id counters move this far past the newest position known (the backup's
    # or a later checkpoint's): room for the ids handed out after that position was recorded.
    restore_id_gap: int = 1_000_000

    # The 12345 hotline: limits of each kind of request in working days (诉求办理时限), and
    # the department whose staff take calls, dispatch and call back (the 12345 centre).
    hotline_consultation_days: int = Field(default=3, ge=1, le=60)
    hotline_help_days: int = Field(default=3, ge=1, le=60)
    hotline_complaint_days: int = Field(default=13, ge=1, le=60)
    hotline_report_days: int = Field(default=13, ge=1, le=60)
    hotline_suggestion_days: int = Field(default=5, ge=1, le=60)
    hotline_praise_days: int = Field(default=5, ge=1, le=60)
    hotline_centre_department: str = "ZWSJJ"
    # 延期: the working days an order's extensions may add in all (0: none; at most 10).
    hotline_max_extension_days: int = Field(default=10, ge=0, le=10)
    hotline_reports_per_hour: int = Field(default=10, ge=1, le=1000)
    # Open311 (docs/hotline.md): the largest photo a client may upload with a request.
    open311_media_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, le=10 * 1024 * 1024)
    # Routing (hotline/routing/): a new order is dispatched by the classifier itself when its
    # confidence in the department reaches this; below, it waits with the top three.
    hotline_auto_dispatch: float = Field(default=0.8, ge=0.0, le=1.0)
    # Duplicates (合并工单): an open order received within these days and metres, similar in
    # text or in the same category branch, is proposed for merging.
    hotline_duplicate_days: int = Field(default=7, ge=1, le=90)
    hotline_duplicate_metres: int = Field(default=200, ge=1, le=5000)

    # Outgoing e-mail (core.notifications.SmtpChannel): verification codes of self-registration
    # and recovery. Empty host: e-mail codes go to the log only (development).
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = True
    smtp_from: str = "noreply@smartcity.invalid"
    smtp_timeout_seconds: float = 10.0
    # One-time codes (验证码) of registration and recovery: life, wrong tries, and how many
    # may be sent per address and per client address in an hour.
    code_minutes: int = Field(default=10, ge=1, le=60)
    code_max_attempts: int = Field(default=5, ge=1, le=20)
    code_sends_per_address_hour: int = Field(default=5, ge=1)
    code_sends_per_ip_hour: int = Field(default=20, ge=1)
    code_checks_per_ip_hour: int = Field(default=60, ge=1)

    # Sign-in through the city's unified identity provider (统一身份认证, OpenID Connect;
    # core/oidc.py, docs/security.md). Empty issuer: the button is not shown and the routes
    # answer 404. The issuer's /.well-known/openid-configuration names its endpoints.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: SecretStr = SecretStr("")
    oidc_scopes: str = "openid profile"
    # Where the provider sends the browser back; empty: this server's /login/oidc/callback
    # as the request reached it (set it behind a proxy that rewrites the host).
    oidc_redirect_uri: str = ""
    # The claims that carry the person's name and resident ID number (身份证号), if the
    # provider gives them; with both, a first sign-in can make a citizen account (实名).
    oidc_name_claim: str = "name"
    oidc_id_number_claim: str = ""
    # acr values (space-separated) after which the provider's sign-in counts as the second
    # factor of staff accounts; empty: staff still enter their TOTP code here.
    oidc_mfa_acr_values: str = ""
    # The provider's name on the sign-in button; empty: "统一身份认证" (English: "unified
    # identity") in the page's language.
    oidc_display_name: str = ""
    oidc_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # How long a signing key set (JWKS) is trusted before it is fetched again; an unknown
    # key id fetches it at once (key rotation), at most once a minute.
    oidc_jwks_minutes: int = Field(default=60, ge=1, le=1440)
    # A started sign-in (state, nonce, PKCE verifier) lives this long.
    oidc_login_minutes: int = Field(default=10, ge=1, le=60)

    @field_validator("var_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def checkpoints_path(self) -> Path:
        return (self.checkpoint_dir or self.var_dir / "checkpoints").expanduser().resolve()

    @property
    def backups_path(self) -> Path:
        return (self.backup_dir or self.var_dir / "backups").expanduser().resolve()

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.var_dir / 'smartcity.db'}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    def resolved_secret(self) -> bytes:
        """The instance secret; created on first use and kept on disk, mode 0600. Read from
        disk once per process: every page a new visitor gets signs a form token with it, and
        a file read per request is blocking I/O on the event loop (a new secret takes a
        restart, as it does anyway: it invalidates every session and token)."""
        value = self.secret_key.get_secret_value()
        if value:
            return value.encode()
        path = self.var_dir / "secret.key"
        kept = _file_secrets.get(str(path))
        if kept is not None:
            return kept
        if path.exists():
            token = path.read_bytes().strip()
        else:
            self.var_dir.mkdir(parents=True, exist_ok=True)
            token = secrets.token_urlsafe(48).encode()
            path.touch(mode=0o600)
            path.write_bytes(token)
        _file_secrets[str(path)] = token
        return token


# The instance secrets read from (or written to) var_dir/secret.key in this process, by path.
_file_secrets: dict[str, bytes] = {}


_active: Settings | None = None


def get_settings() -> Settings:
    """The settings of this process: configured by create_app or the CLI, else the environment."""
    global _active
    if _active is None:
        _active = Settings()
    return _active


def configure(settings: Settings) -> Settings:
    """Make ``settings`` the process's settings (the app factory and the CLI call this)."""
    global _active
    _active = settings
    return settings
