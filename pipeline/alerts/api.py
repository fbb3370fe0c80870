"""The alert-rule HTTP API: what ``newsflow alerts`` does, for other programs.

Every ``/rules`` route needs an API key, sent as ``X-API-Key: KEY`` or
``Authorization: Bearer KEY``; the OpenAPI schema (``/openapi.json``, ``/docs``) is
public, since it describes the API and holds no data.  The key is checked by ``ApiGate``
before the body is read (with a body limit, a limit on failed attempts per client and
security headers).  Keys come from settings and from a key file that must be private to
its owner, and have at least 32 characters (``newsflow api-key`` makes one); with no key
at all the API refuses to start rather than run open.  Rules are the ``schemas`` models;
responses mask webhook secrets and credential URLs, except a secret the server
generated, shown once when made.
"""

from __future__ import annotations

import hmac
import os
import secrets
import stat
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from elasticsearch import Elasticsearch
from fastapi import (
    APIRouter,
    Depends,
    FastAPI,
    HTTPException,
    Request,
    Response,
    Security,
    status,
)
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, create_model, model_validator

from pipeline.alerts.api_gate import ApiGate, FailedAttempts
from pipeline.alerts.backtest import MAX_MATCHES, BacktestResult, backtest
from pipeline.alerts.rules import Language, RuleSyntaxError
from pipeline.alerts.store import (
    RuleNotFound,
    RuleStore,
    RuleStoreError,
    generated_secrets,
    rule_id_from_name,
)
from pipeline.core.errors import NewsflowError
from pipeline.core.es_client import es_client
from pipeline.core.settings import Settings
from pipeline.index.search import QueryError, SearchError
from schemas.alerts import AlertRule, RuleId

_SERVER_SET = ("created_at", "updated_at")
# Set by the pipeline only; accepted (a rule read from the API can be sent back as is)
# and ignored: a replaced or re-added rule starts without one.
_PIPELINE_SET = ("disabled_reason",)


class ApiConfigError(NewsflowError, RuntimeError):
    """The API cannot start safely (no key, or a key file others can read)."""


def _draft_fields() -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, info in AlertRule.model_fields.items():
        if name in _SERVER_SET:
            continue
        if name == "id":
            fields[name] = (RuleId | None, None)
        else:
            fields[name] = (info.annotation, info)
    return fields


RuleDraft = create_model(
    "RuleDraft",
    __config__=AlertRule.model_config,
    __doc__="An AlertRule as a client sends it: the server sets the timestamps, and the id "
    "defaults to a slug of the name.",
    **_draft_fields(),
)


class StoredRule(AlertRule):
    """A rule as stored (secrets masked), plus the webhook secrets generated for it.

    ``generated_secrets`` is the only place a secret is ever shown in clear, once, in the
    answer to the request that made it up (a webhook sent without a secret).
    """

    generated_secrets: list[str] = Field(default_factory=list)


def _stored(sent: AlertRule, stored: AlertRule) -> StoredRule:
    fresh = [secret for _, secret in generated_secrets(sent, stored)]
    return StoredRule(**dict(stored), generated_secrets=fresh)


class BacktestRequest(BaseModel):
    """A query to try, or the id of a stored rule whose query to try."""

    query: str | None = Field(default=None, min_length=1, max_length=4_000)
    language: Language = Field(default="lucene", description="The query's language.")
    rule_id: str | None = None
    days: float = Field(default=7.0, gt=0, le=3_650)
    size: int = Field(default=10, ge=0, le=MAX_MATCHES)

    @model_validator(mode="after")
    def _one_of(self) -> BacktestRequest:
        if (self.query is None) == (self.rule_id is None):
            raise ValueError("give exactly one of query and rule_id")
        return self


MIN_KEY_CHARS = 32


def new_api_key() -> str:
    """A fresh key: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def save_api_key(settings: Settings, key: str) -> Path:
    """Append ``key`` to the key file (created 0600, its folder 0700); returns its path."""
    path = settings.api.key_file or settings.home / "api.keys"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "a") as file:
        if stat.S_IMODE(os.fstat(file.fileno()).st_mode) & 0o077:
            raise ApiConfigError(f"API key file {path} is accessible to others: chmod 600 it")
        file.write(key + "\n")
    return path


def load_api_keys(settings: Settings) -> list[str]:
    """Keys from settings plus the key file (one a line, ``#`` comments).

    Raises:
        ApiConfigError: the key file is readable or writable by group or others, an
            explicitly configured key file is missing, or a key is shorter than 32.
    """
    keys = _configured_keys(settings)
    short = [k for k in keys if len(k) < MIN_KEY_CHARS]
    if short:
        raise ApiConfigError(
            f"{len(short)} API key(s) shorter than {MIN_KEY_CHARS} characters: replace them "
            "with keys from `newsflow api-key`"
        )
    return keys


def _configured_keys(settings: Settings) -> list[str]:
    keys = [k.get_secret_value() for k in settings.api.keys if k.get_secret_value()]
    path = settings.api.key_file or settings.home / "api.keys"
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as e:
        if settings.api.key_file is not None:
            raise ApiConfigError(f"API key file {path} does not exist") from e
        return keys
    if stat.S_IMODE(mode) & 0o077:
        raise ApiConfigError(
            f"API key file {path} is accessible to others (mode {stat.S_IMODE(mode):04o}); "
            f"run `chmod 600 {path}`"
        )
    keys.extend(_read_key_file(path))
    return keys


def _read_key_file(path: Path) -> list[str]:
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


_API_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key.")
_BEARER = HTTPBearer(auto_error=False, description="The same API key, as a bearer token.")


def _key_checker(keys: list[str]) -> Callable[..., None]:
    encoded = [k.encode() for k in keys]

    def require_key(
        api_key: Annotated[str | None, Security(_API_KEY_HEADER)],
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
    ) -> None:
        given = api_key or (credentials.credentials if credentials else None)
        # Compare with every key, always: the time taken says nothing about which matched.
        ok = False
        candidate = (given or "").encode()
        for key in encoded:
            ok |= hmac.compare_digest(candidate, key)
        if not given or not ok:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "missing or invalid API key (X-API-Key or Authorization: Bearer)",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return require_key


def _rule_from_draft(draft: Any, *, rule_id: str | None = None) -> AlertRule:
    data = draft.model_dump(exclude={"id", *_PIPELINE_SET})
    data["channels"] = list(draft.channels)  # keep SecretStr values as they are
    given = draft.id
    if rule_id is not None and given is not None and given != rule_id:
        raise HTTPException(422, f"body id {given!r} differs from the path's {rule_id!r}")
    now = datetime.now(UTC)
    try:
        new_id = rule_id or given or rule_id_from_name(data["name"])
    except ValueError as e:
        raise HTTPException(422, str(e)) from e
    return AlertRule(id=new_id, **data, created_at=now, updated_at=now)


def _rules_router(store: RuleStore, es: Elasticsearch, settings: Settings) -> APIRouter:
    router = APIRouter(prefix="/rules", tags=["rules"])

    @router.get("", response_model=list[AlertRule])
    def list_rules() -> list[AlertRule]:
        return sorted(store.load_rules().values(), key=lambda r: r.id)

    @router.post(
        "",
        response_model=StoredRule,
        status_code=201,
        responses={200: {"model": StoredRule, "description": "Updated"}},
    )
    def add_rule(draft: RuleDraft, response: Response) -> StoredRule:
        sent = _rule_from_draft(draft)
        rule, created = store.put_rule(sent)
        response.status_code = 201 if created else 200
        return _stored(sent, rule)

    @router.post("/test", response_model=BacktestResult)
    def test_rule(request: BacktestRequest) -> BacktestResult:
        if request.query is not None:
            query, language = request.query, request.language
        else:
            rule = store.get_rule(request.rule_id or "")
            query, language = rule.query, rule.language
        return backtest(
            es, settings.index.articles, query, language=language,
            days=request.days, size=request.size,
        )

    @router.get("/{rule_id}", response_model=AlertRule)
    def get_rule(rule_id: str) -> AlertRule:
        return store.get_rule(rule_id)

    @router.put("/{rule_id}", response_model=StoredRule)
    def replace_rule(rule_id: str, draft: RuleDraft) -> StoredRule:
        sent = _rule_from_draft(draft, rule_id=rule_id)
        rule, _ = store.put_rule(sent)
        return _stored(sent, rule)

    @router.delete("/{rule_id}", status_code=204)
    def delete_rule(rule_id: str) -> Response:
        if not store.delete_rule(rule_id):
            raise RuleNotFound(rule_id)
        return Response(status_code=204)

    @router.post("/{rule_id}/enable", response_model=AlertRule)
    def enable_rule(rule_id: str) -> AlertRule:
        return store.set_enabled(rule_id, True)

    @router.post("/{rule_id}/disable", response_model=AlertRule)
    def disable_rule(rule_id: str) -> AlertRule:
        return store.set_enabled(rule_id, False)

    return router


def _install_error_handlers(app: FastAPI) -> None:
    async def syntax(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RuleSyntaxError)
        return JSONResponse(status_code=422, content={"detail": [{
            "type": "rule_syntax", "loc": ["body", "query"], "msg": exc.message,
            "position": exc.position, "input": exc.query,
        }]})  # fmt: skip

    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": f"no rule {exc.args[0]!r}"})

    async def bad_query(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": str(exc)})

    app.add_exception_handler(RuleSyntaxError, syntax)
    app.add_exception_handler(RuleNotFound, not_found)
    app.add_exception_handler(QueryError, bad_query)
    app.add_exception_handler(SearchError, unavailable)
    app.add_exception_handler(RuleStoreError, unavailable)


def create_api(
    settings: Settings,
    *,
    store: RuleStore | None = None,
    es: Elasticsearch | None = None,
) -> FastAPI:
    """The FastAPI app; clients are made lazily, so building it touches no service.

    Raises:
        ApiConfigError: no API key is configured, or the key file is not private.
    """
    keys = load_api_keys(settings)
    if not keys:
        raise ApiConfigError(
            "no API key: run `newsflow api-key --save` (or set NEWSFLOW_API_KEYS='[\"…\"]', "
            f"or write one key a line to {settings.api.key_file or settings.home / 'api.keys'}, "
            "chmod 600)"
        )
    client = es or es_client(settings, max_retries=1, request_timeout=15.0)
    rules = store or RuleStore(settings, es=client)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if store is None:
            rules.close()
        if es is None:
            client.close()

    app = FastAPI(
        title="newsflow alert rules",
        version="1",
        summary="Keyword alert rules over the migration news stream.",
        lifespan=lifespan,
    )
    _install_error_handlers(app)
    # The dependency documents the key in the OpenAPI schema; ApiGate enforces it first.
    app.include_router(
        _rules_router(rules, client, settings), dependencies=[Depends(_key_checker(keys))]
    )
    failures = FailedAttempts(
        settings.api.max_failed_attempts, settings.api.failed_attempts_window_seconds
    )
    app.add_middleware(
        ApiGate, keys=keys, max_body=settings.api.max_body_bytes, failures=failures
    )
    return app
