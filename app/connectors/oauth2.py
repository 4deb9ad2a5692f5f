"""OAuth2 for HTTP connections: the client-credentials grant (Salesforce, HubSpot, Dynamics 365,
Business Central, SAP's API hubs), with authlib making the token requests.

authlib's client talks to the token endpoint (client authentication by HTTP Basic or in the body,
the grant's form, the answer's parsing and its `error`); the connector's own httpx client carries
the access token to the API. This module decides when a token is fetched: before the first call,
again when it is within LEEWAY_SECONDS of its `expires_in`, and once more after a 401 (a token
revoked or rotated early). An endpoint that is down or slow is transient (the connector's retries
apply, bounded); a refusal — a wrong client id or secret, a scope not granted — stops the run with
the connection's sentence. The client secret goes only to the token endpoint, the access token
only to the connection's base URL.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import authlib.deprecate  # noqa: F401  (first: its own warning filter is set as it loads)

from app.errors import ConnectorError, TransientError

with warnings.catch_warnings():
    # authlib 1.x warns that its httpx fallback (httpx2 not installed) is deprecated; it is supported
    # up to authlib 2, which pyproject.toml excludes. A user's terminal should not show that warning.
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.httpx_client import OAuth2Client, OAuthError

try:  # the HTTP library authlib's client is built on: httpx2 where installed, else httpx (its rule)
    import httpx2 as token_http
except ImportError:
    import httpx as token_http

CLIENT_CREDENTIALS = "oauth2_client_credentials"
AUTHORIZATION_CODE = "oauth2_authorization_code"
LEEWAY_SECONDS = 30  # a token this close to expiring is renewed before the call, not after its 401
TOKEN_AUTH_METHODS = ("client_secret_basic", "client_secret_post")


class TokenRefused(ConnectorError):
    """The token endpoint said no: every call of the run would fail the same way, so it stops."""

    every_record = True


def token_client(settings: dict[str, Any], where: str, grant: str, **options: Any) -> OAuth2Client:
    """authlib's client for the connection's token endpoint, its settings checked first;
    `options` are httpx.Client's (timeout, verify) and authlib's (redirect_uri, PKCE)."""
    method = settings.get("token_auth_method") or "client_secret_basic"
    if method not in TOKEN_AUTH_METHODS:
        raise ConnectorError(f"{where}: token_auth_method must be one of {', '.join(TOKEN_AUTH_METHODS)}")
    for needed in ("token_url", "client_id", "client_secret"):
        if not settings.get(needed):
            raise ConnectorError(f"{where} needs '{needed}' for OAuth2 ({grant})")
    if not str(settings["token_url"]).startswith(("http://", "https://")):
        raise ConnectorError(f"{where}: token_url must start with http:// or https://")
    return OAuth2Client(
        client_id=str(settings["client_id"]),
        client_secret=str(settings["client_secret"]),
        token_endpoint_auth_method=method,
        scope=settings.get("scope") or None,
        follow_redirects=False,  # the secret goes to the token endpoint itself, not where it points
        **options,
    )


class TokenSource(ABC):
    """The access token of one connection for one run: fetched when needed (see the module
    docstring); what differs between grants is how a token is asked for."""

    grant = ""

    def __init__(self, settings: dict[str, Any], where: str, *, timeout: float, verify: Any) -> None:
        self.token_url = str(settings.get("token_url") or "")
        self.where = where
        self.fetched = 0  # tokens fetched this run (a test counts renewals by it)
        self._client = token_client(settings, where, self.grant, timeout=timeout, verify=verify)

    def authorization(self, *, renew: bool = False) -> str:
        """The Authorization header's value; a new token first when there is none, when it is about
        to expire, or when `renew` (the API answered 401 to the current one)."""
        token = self._client.token
        if token is None or renew or token.is_expired(leeway=LEEWAY_SECONDS):
            token = self._fetch()
        return f"Bearer {token['access_token']}"

    @abstractmethod
    def _ask(self) -> Any:
        """One token request of this grant: authlib's token (a dict)."""

    def _refused(self, said: str, refused: OAuthError) -> ConnectorError:
        detail = f": {refused.description}" if refused.description else ""
        return TokenRefused(f"{said} refused the client ({refused.error}{detail})")

    def _fetch(self) -> Any:
        said = f"{self.where}: token endpoint {self.token_url}"
        try:
            token = self._ask()
        except OAuthError as refused:
            raise self._refused(said, refused) from None
        except token_http.TimeoutException:
            raise TransientError(f"{said}: no answer in time") from None
        except token_http.HTTPStatusError as error:
            status = error.response.status_code
            if status >= 500 or status in (408, 429):
                raise TransientError(f"{said}: HTTP {status}") from None
            raise TokenRefused(f"{said} refused the client (HTTP {status})") from None
        except token_http.TransportError as error:
            raise TransientError(f"{said}: cannot connect ({type(error).__name__})") from None
        except ValueError:  # authlib: the answer is not a JSON object
            raise TokenRefused(f"{said}: its answer is not a token (not a JSON object)") from None
        if not token.get("access_token"):
            raise TokenRefused(f"{said}: its answer has no access_token")
        self.fetched += 1
        return token

    def close(self) -> None:
        self._client.close()


class ClientCredentials(TokenSource):
    """A service's own token (client credentials): asked for again whenever it is needed."""

    grant = "client credentials"

    def _ask(self) -> Any:
        return self._client.fetch_token(self.token_url, grant_type="client_credentials")


class RefreshedAuthorization(TokenSource):
    """A user's authorization (the authorization-code grant, given once by `flowbridge connection
    authorize`): each access token comes from the refresh token; a refresh token the server rotates
    is kept, sealed in the store, the moment it arrives, so the next run does not present the old
    one (which the server would refuse)."""

    grant = "authorization code"

    def __init__(
        self,
        settings: dict[str, Any],
        where: str,
        *,
        name: str,
        keep: Callable[[dict[str, Any]], None] | None,
        timeout: float,
        verify: Any,
    ) -> None:
        super().__init__(settings, where, timeout=timeout, verify=verify)
        self.name, self._keep = name, keep
        self.refresh = str(settings.get("refresh_token") or "")
        if not self.refresh:
            raise TokenRefused(f"{where} is not authorized yet; run `flowbridge connection authorize {name}`")

    def _ask(self) -> Any:
        token = self._client.refresh_token(self.token_url, refresh_token=self.refresh)
        rotated = token.get("refresh_token")
        if rotated and rotated != self.refresh:
            if self._keep is not None:
                self._keep({"refresh_token": rotated})
            self.refresh = rotated
        return token

    def _refused(self, said: str, refused: OAuthError) -> ConnectorError:
        if refused.error == "invalid_grant":  # revoked, expired, or used after its rotation
            return TokenRefused(
                f"{self.where}: authorization expired ({refused.error}); run `flowbridge connection authorize "
                f"{self.name}`"
            )
        return super()._refused(said, refused)


# --- a user's consent (`flowbridge connection authorize`) ----------------------------------------


def consent_request(settings: dict[str, Any], where: str, redirect_uri: str) -> tuple[OAuth2Client, str, str, str]:
    """The client, the address where the user gives consent, its state and the PKCE verifier."""
    import secrets

    if not settings.get("authorize_url"):
        raise ConnectorError(f"{where} needs 'authorize_url' (where its users give consent)")
    client = token_client(
        settings, where, "authorization code", redirect_uri=redirect_uri, code_challenge_method="S256", timeout=30
    )
    verifier = secrets.token_urlsafe(48)
    address, state = client.create_authorization_url(str(settings["authorize_url"]), code_verifier=verifier)
    return client, address, state, verifier


def exchange_code(client: OAuth2Client, settings: dict[str, Any], where: str, code: str, verifier: str) -> str:
    """The refresh token the authorization code is exchanged for."""
    said = f"{where}: token endpoint {settings['token_url']}"
    try:
        token = client.fetch_token(str(settings["token_url"]), code=code, code_verifier=verifier)
    except OAuthError as refused:
        detail = f": {refused.description}" if refused.description else ""
        raise TokenRefused(f"{said} refused the code ({refused.error}{detail})") from None
    except (token_http.HTTPError, ValueError) as error:
        raise ConnectorError(f"{said}: {type(error).__name__}") from None
    finally:
        client.close()
    if not token.get("refresh_token"):
        raise TokenRefused(f"{said}: its answer has no refresh_token (ask for offline access in the scope)")
    return str(token["refresh_token"])
