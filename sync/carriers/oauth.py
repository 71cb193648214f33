"""OAuth 2 client credentials for the carriers that use it (UPS, FedEx, USPS).

One token per adapter, fetched from ``base_url + token_path`` the first time it
is needed and kept until shortly before it expires. Concurrent requests share
one fetch (an asyncio lock). A 401 on an API call throws that token away and
retries the call once with a fresh one; a second 401 is an
:class:`~sync.carriers.base.AuthError` naming the config section.

The carriers differ only in how the credentials travel to the token endpoint:

- ``basic``: HTTP Basic ``client_id:client_secret`` + form ``grant_type`` (UPS,
  ``x-tokenEndpointAuthMethod: client_secret_basic`` in its OpenAPI file);
- ``form``: form fields ``grant_type``, ``client_id``, ``client_secret`` (FedEx);
- ``json``: the same three as a JSON body (USPS ``/oauth2/v3/token``).

Neither the secret nor the token is ever logged or put in an error: both join
the adapter's list of values :meth:`HttpAdapter.mask` hides.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import httpx

from sync.carriers.base import (
    AuthError,
    BadResponse,
    RateLimited,
    TemporaryError,
    log,
    retry_after,
)
from sync.carriers.direct import DirectAdapter
from sync.settings import CarrierSettings

TokenStyle = Literal["basic", "form", "json"]


@dataclass(frozen=True)
class Token:
    value: str
    #: On the adapter's clock (monotonic seconds): refresh at or after this.
    refresh_at: float


class OAuthAdapter(DirectAdapter):
    """An adapter whose calls carry ``Authorization: Bearer <token>``."""

    required_keys: ClassVar[tuple[str, ...]] = ("client_id", "client_secret")
    token_path: ClassVar[str] = ""
    token_style: ClassVar[TokenStyle] = "form"
    #: Refresh this many seconds before the carrier says the token expires.
    token_margin_seconds: ClassVar[float] = 60.0
    #: When the carrier gives no ``expires_in``.
    default_token_lifetime: ClassVar[float] = 3600.0

    def __init__(
        self,
        settings: CarrierSettings,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(settings, timeout=timeout, transport=transport)
        self.client_id = str(settings.options["client_id"])
        self._client_secret = str(settings.options["client_secret"])
        for value in (self.client_id, self._client_secret):
            if value not in self.secrets:
                self.secrets.append(value)
        self._clock = clock
        self._token: Token | None = None
        self._lock = asyncio.Lock()

    # -- the token -------------------------------------------------------------

    async def access_token(self) -> str:
        token = self._token
        if token is not None and self._clock() < token.refresh_at:
            return token.value
        async with self._lock:
            token = self._token
            if token is not None and self._clock() < token.refresh_at:
                return token.value
            self._token = await self._fetch_token()
            return self._token.value

    def forget_token(self, value: str) -> None:
        """Drop the token a 401 answered, unless another call already replaced it."""
        if self._token is not None and self._token.value == value:
            self._token = None

    def _token_request(self) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        if self.token_style == "json":
            return {
                "headers": headers,
                "json": {
                    "grant_type": "client_credentials",
                    "client_id": self.client_id,
                    "client_secret": self._client_secret,
                },
            }
        if self.token_style == "basic":
            return {
                "headers": headers,
                "data": {"grant_type": "client_credentials"},
                "auth": httpx.BasicAuth(self.client_id, self._client_secret),
            }
        return {
            "headers": headers,
            "data": {
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self._client_secret,
            },
        }

    async def _fetch_token(self) -> Token:
        response = await self.send("POST", self.token_path, **self._token_request())
        status = response.status_code
        if status in (400, 401, 403):
            raise AuthError(
                f"{self.name} refused client_id/client_secret at its token endpoint "
                f"(HTTP {status}: {self._error_words(response)}): check {self.section}"
            )
        if status == 404:
            raise BadResponse(
                f"{self.name}: no token endpoint at {self.token_path} (HTTP 404): "
                f"check base_url in {self.section}"
            )
        if status == 429:
            raise RateLimited(
                f"{self.name}: token endpoint rate limited (HTTP 429)",
                retry_after=retry_after(response.headers) or self.rate_window(response),
            )
        if status >= 500:
            raise TemporaryError(f"{self.name}: token endpoint server error (HTTP {status})")
        if status >= 300:
            raise BadResponse(
                f"{self.name}: token endpoint answered HTTP {status}: "
                f"{self.quote(response.content)}"
            )
        body = self.json(response)
        value = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(value, str) or not value:
            raise BadResponse(
                f"{self.name}: token endpoint sent no access_token: {self.quote(response.content)}"
            )
        lifetime = _seconds(body.get("expires_in"), self.default_token_lifetime)
        margin = min(self.token_margin_seconds, lifetime / 10)
        old = self._token.value if self._token else None
        if old in self.secrets:
            self.secrets.remove(old)
        self.secrets.append(value)
        log.info("%s: new access token, valid for %.0fs", self.name, lifetime)
        return Token(value=value, refresh_at=self._clock() + lifetime - margin)

    def _error_words(self, response: httpx.Response) -> str:
        """The carrier's error code/message from a token refusal, masked and short."""
        try:
            body = response.json()
        except ValueError:
            return "no readable reason"
        words: list[str] = []
        if isinstance(body, dict):
            for key in ("error", "error_description", "message", "code"):
                if isinstance(body.get(key), str):
                    words.append(body[key])
            for entry in body.get("errors") or (body.get("response") or {}).get("errors") or []:
                if isinstance(entry, dict):
                    words.extend(
                        str(entry[k]) for k in ("code", "message") if entry.get(k) is not None
                    )
        return self.mask("; ".join(words)[:160]) or "no reason given"

    # -- authorized calls ------------------------------------------------------

    async def authorized(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send with the bearer token; on 401 refresh once and retry once.

        Returns the response whatever its status (except 401/403), so the
        adapter can read a carrier's own not-found answer before judging it.
        """
        headers = dict(kwargs.pop("headers", None) or {})
        for attempt in (1, 2):
            token = await self.access_token()
            headers["Authorization"] = f"Bearer {token}"
            response = await self.send(method, path, headers=headers, **kwargs)
            if response.status_code != 401:
                break
            self.forget_token(token)
            if attempt == 1:
                log.info("%s: token refused (HTTP 401), fetching a new one once", self.name)
        if response.status_code in (401, 403):
            raise AuthError(
                f"{self.name} refused the credentials (HTTP {response.status_code}): "
                f"check {self.section}"
            )
        return response


def _seconds(value: Any, default: float) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return default
    return seconds if seconds > 0 else default
