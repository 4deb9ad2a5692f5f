"""OData v4 connector: a service (Dynamics 365, Business Central, SAP S/4HANA, SAP CAP) reached by
entity set and key, for read.odata and write.odata.

The calls travel through the REST connector (rest.py): one keep-alive client, timeouts, the retry
policy, the origin check, OAuth2 or basic auth. This module adds what OData has of its own:

- **The service's `$metadata`**, read once per run: entity sets, their types' keys and properties
  with their EDM types, and navigation properties. Nodes ask for an entity set by name (one the
  service lacks is one sentence listing those it has), the editor's pickers list them.
- **Typed literals**: a key or cursor value written in `$filter` and in a key predicate the way its
  EDM type is spelled (`'text'` with quotes doubled, a Guid or a date bare).
- **Server paging**: a list is followed through `@odata.nextLink` to its end.
- **Optimistic concurrency**: an update carries the record's ETag in `If-Match`; a 412 (changed
  since it was read) is retried from the read, never forced.
- **SAP's CSRF token** (`csrf: true`): fetched with `X-CSRF-Token: Fetch` before the first write,
  sent with every write, fetched again once when the service answers 403 `X-CSRF-Token: Required`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from app.connectors import ConnectionSpec
from app.connectors.rest import Refused, RestConnector, _shown
from app.errors import ConnectorError, RecordError, TransientError

MAX_PAGES = 100_000
_NUMBERS = {"Edm.Byte", "Edm.SByte", "Edm.Int16", "Edm.Int32", "Edm.Int64", "Edm.Decimal", "Edm.Double", "Edm.Single"}
_BARE = {"Edm.Guid", "Edm.Date", "Edm.DateTimeOffset", "Edm.TimeOfDay"}
_BARE_SHAPE = re.compile(r"^[0-9A-Za-z:.+\-]+$")  # what a Guid, date or time may hold: no quote, space or paren
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class EntityChanged(TransientError):
    """412: the record changed since it was read (its ETag no longer matches); the write is tried
    again from the read, with what the service holds now."""


class UnknownProperty(ConnectorError):
    """A record sends a property the entity type lacks: every record of the flow would, so it stops."""

    every_record = True


class CsrfRefused(ConnectorError):
    """The service gives no CSRF token: no write of the run can pass, so it stops."""

    every_record = True


@dataclass(frozen=True)
class EntityType:
    """One entity type of the service: its key, its properties (name -> EDM type, in the service's
    order) and its navigation properties (name -> the target type's full name)."""

    name: str
    keys: tuple[str, ...]
    properties: dict[str, str]
    navigation: dict[str, str] = field(default_factory=dict)
    collections: frozenset[str] = frozenset()  # navigation properties that are lists (an order's items)
    not_null: frozenset[str] = frozenset()  # properties declared Nullable="false"


@dataclass(frozen=True)
class Metadata:
    """What `$metadata` says: entity set -> its type's full name, and the types by full name."""

    sets: dict[str, str]
    types: dict[str, EntityType]


def parse_metadata(document: bytes) -> Metadata:
    """The entity sets and types of a CSDL XML document; ValueError when it is not one."""
    from defusedxml import ElementTree  # an answer from the network: no entity expansion, no DTD tricks

    try:
        root = ElementTree.fromstring(document)
    except Exception as error:  # defusedxml's own errors and ParseError
        raise ValueError(f"it is not XML ({str(error).splitlines()[0][:120]})") from None
    schemas = [e for e in root.iter() if e.tag.endswith("}Schema")]
    if not schemas:
        raise ValueError("it has no Schema (is this an OData v4 service's $metadata?)")
    aliases = {s.get("Alias"): s.get("Namespace") for s in schemas if s.get("Alias")}

    def full(name: str) -> str:
        prefix, _, rest = name.rpartition(".")
        return f"{aliases.get(prefix, prefix)}.{rest}" if prefix else name

    raw: dict[str, tuple[Any, str | None]] = {}
    for schema in schemas:
        for element in schema.findall("{*}EntityType"):
            base = element.get("BaseType")
            raw[f"{schema.get('Namespace')}.{element.get('Name')}"] = (element, full(base) if base else None)

    types: dict[str, EntityType] = {}

    def build(name: str, depth: int = 0) -> EntityType:
        if name in types:
            return types[name]
        element, base = raw[name]
        inherited = build(base, depth + 1) if base in raw and depth < 20 else None
        keys = tuple(r.get("Name") for r in element.findall("{*}Key/{*}PropertyRef") if r.get("Name"))
        properties = dict(inherited.properties) if inherited else {}
        properties.update({p.get("Name"): p.get("Type") for p in element.findall("{*}Property") if p.get("Name")})
        not_null = set(inherited.not_null) if inherited else set()
        not_null.update(
            p.get("Name") for p in element.findall("{*}Property") if p.get("Name") and p.get("Nullable") == "false"
        )
        navigation = dict(inherited.navigation) if inherited else {}
        collections = set(inherited.collections) if inherited else set()
        for nav in element.findall("{*}NavigationProperty"):
            kind = nav.get("Type") or ""
            if kind.startswith("Collection(") and kind.endswith(")"):
                kind = kind[len("Collection(") : -1]
                collections.add(nav.get("Name"))
            navigation[nav.get("Name")] = full(kind)
        types[name] = EntityType(
            name,
            keys or (inherited.keys if inherited else ()),
            properties,
            navigation,
            frozenset(collections),
            frozenset(not_null),
        )
        return types[name]

    for name in raw:
        build(name)
    sets = {
        s.get("Name"): full(s.get("EntityType") or "")
        for schema in schemas
        for s in schema.findall("{*}EntityContainer/{*}EntitySet")
        if s.get("Name")
    }
    return Metadata(sets, types)


def literal(edm_type: str | None, value: Any, what: str) -> str:
    """`value` as an OData URL literal of `edm_type`: 'text' (quotes doubled), 42, true, a Guid or
    a date as it is. RecordError when the value cannot be one (a key "12x" for an Edm.Int32)."""
    if value is None:
        return "null"
    if edm_type in _NUMBERS:
        if isinstance(value, bool):
            raise RecordError(f"{what}: {value!r} is not a number ({edm_type})")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise RecordError(f"{what}: {str(value)[:40]!r} is not a number ({edm_type})") from None
        if number.is_integer() and edm_type not in ("Edm.Decimal", "Edm.Double", "Edm.Single"):
            return str(int(number))
        return str(value).strip()
    if edm_type == "Edm.Boolean":
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower()
        return "true" if value else "false"
    if edm_type in _BARE:
        text = str(value).strip()
        if not _BARE_SHAPE.match(text):
            raise RecordError(f"{what}: {text[:40]!r} is not a {edm_type.removeprefix('Edm.')}")
        return text
    return "'" + str(value).replace("'", "''") + "'"


class OdataConnector(RestConnector):
    """One OData v4 service for the length of a run; its base URL is the service root."""

    def __init__(self, spec: ConnectionSpec) -> None:
        super().__init__(spec)
        self.csrf = bool(spec.settings.get("csrf"))
        self._csrf_token: str | None = None
        self._metadata: Metadata | None = None

    # --- $metadata -----------------------------------------------------------------------------

    @property
    def metadata(self) -> Metadata:
        if self._metadata is None:
            response = self.call("GET", "$metadata", headers={"Accept": "application/xml"})
            assert response is not None
            try:
                self._metadata = parse_metadata(response.content)
            except ValueError as error:
                raise ConnectorError(
                    f"{self.where}: GET $metadata: the service's metadata does not parse: {error}"
                ) from None
        return self._metadata

    def entity_set(self, name: str) -> EntityType:
        """The type of an entity set the service has; ConnectorError naming those it has otherwise."""
        metadata = self.metadata
        kind = metadata.types.get(metadata.sets.get(name, ""))
        if kind is None:
            known = ", ".join(sorted(metadata.sets)[:20]) or "none"
            raise ConnectorError(f"{self.where}: the service has no entity set '{name}' (it has: {known})")
        return kind

    def type_of(self, kind: EntityType, navigation: str) -> EntityType:
        """The entity type a navigation property leads to."""
        target = self.metadata.types.get(kind.navigation.get(navigation, ""))
        if target is None:
            known = ", ".join(sorted(kind.navigation)) or "none"
            raise ConnectorError(
                f"{self.where}: {kind.name.rpartition('.')[2]} has no navigation property '{navigation}' "
                f"(it has: {known})"
            )
        return target

    def key_predicate(self, kind: EntityType, values: dict[str, Any]) -> str:
        """(key) or (a=1,b='x'): where one record of the type lives."""
        if not kind.keys:
            raise ConnectorError(f"{self.where}: {kind.name} has no key in $metadata; its records have no address")
        empty = [k for k in kind.keys if values.get(k) in (None, "")]
        if empty:
            raise RecordError(f"key field(s) {', '.join(empty)} empty")
        written = {k: literal(kind.properties.get(k), values.get(k), f"key {k}") for k in kind.keys}
        if len(written) == 1:
            return f"({next(iter(written.values()))})"
        return "(" + ",".join(f"{k}={v}" for k, v in written.items()) + ")"

    # --- reading ---------------------------------------------------------------------------------

    def page(
        self, address: str, params: dict[str, Any] | None = None, *, annotated: bool = False
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a list: its records (without OData's annotations unless `annotated`: a
        write wants their @odata.etag) and the next page's link."""
        response = self.call("GET", address, params=params)
        assert response is not None
        body = self.json(response, f"GET {_shown(address)}")
        records = body.get("value") if isinstance(body, dict) else None
        if not isinstance(records, list) or any(not isinstance(r, dict) for r in records):
            raise ConnectorError(f"{self.where}: GET {_shown(address)}: the answer has no list of records in 'value'")
        following = body.get("@odata.nextLink")
        return records if annotated else [plain(r) for r in records], str(following) if following else None

    def records(
        self, entity_set: str, params: dict[str, Any] | None = None, *, annotated: bool = False
    ) -> Iterator[list[dict[str, Any]]]:
        """The records of a list, page by page, to the end of the service's paging."""
        address: str = entity_set
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            records, following = self.page(address, params, annotated=annotated)
            if records:
                yield records
            if not following:
                return
            if following in seen:
                raise ConnectorError(f"{self.where}: GET {entity_set}: the service sent the same next page twice")
            seen.add(following)
            address, params = following, None  # the link carries its own query
        raise ConnectorError(f"{self.where}: GET {entity_set}: more than {MAX_PAGES} pages")

    # --- the editor's pickers ------------------------------------------------------------------

    def tables(self) -> list[str]:
        return sorted(self.metadata.sets)

    def columns(self, entity_set: str) -> list[str]:
        kind = self.entity_set(entity_set)
        return [*kind.properties, *kind.navigation]

    def required_columns(self, entity_set: str) -> list[str]:
        """Properties a new entity must carry: declared not nullable (a key the service makes
        itself, such as CAP's cuid, is still listed: the service's $metadata does not say)."""
        kind = self.entity_set(entity_set)
        return [name for name in kind.properties if name in kind.not_null]

    # --- writes: SAP's CSRF token --------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        body: Any,
        headers: dict[str, str] | None,
        timeout: float | None,
        renew: bool = False,
    ) -> httpx.Response:
        if not self.csrf or method in _SAFE_METHODS:
            return super()._request(method, path, body, headers, timeout, renew)

        def send_with_token() -> httpx.Response:
            if self._csrf_token is None:
                self._fetch_csrf_token()
            with_token = {**(headers or {}), "X-CSRF-Token": str(self._csrf_token)}
            return super(OdataConnector, self)._request(method, path, body, with_token, timeout, renew)

        response = send_with_token()
        if response.status_code == 403 and response.headers.get("x-csrf-token", "").lower() == "required":
            self._csrf_token = None  # the token expired with its session: a new one, once
            response = send_with_token()
        return response

    def _fetch_csrf_token(self) -> None:
        response = super()._request("GET", "", None, {"X-CSRF-Token": "Fetch"}, None)
        token = response.headers.get("x-csrf-token", "")
        if not (200 <= response.status_code < 300) or not token or token.lower() == "required":
            raise CsrfRefused(
                f"{self.where}: GET (service root) with X-CSRF-Token: Fetch: the service gave no CSRF token "
                f"(HTTP {response.status_code}); writes need one"
            )
        self._csrf_token = token

    def verdict(self, response: httpx.Response, call: str, *, missing_ok: bool = False) -> httpx.Response | None:
        if response.status_code == 412:
            raise EntityChanged(
                f"{self.where}: {call}: HTTP 412: the record changed since it was read (its ETag); read again and retried"
            )
        return super().verdict(response, call, missing_ok=missing_ok)

    # --- $batch ----------------------------------------------------------------------------------

    def batch(self, calls: list[BatchCall], timeout: float | None = None) -> list[httpx.Response]:
        """Several calls in one `POST $batch` (OData 4.01's JSON format), each answered on its own:
        their answers in order, as if each had been sent alone (judge each with `verdict`).
        TransientError when the batch itself got no answer: what it did is not known."""
        requests = [
            {
                "id": str(n),
                "method": call.method,
                "url": call.address.lstrip("/"),
                # Lower case, as HTTP/2 writes them: CAP reads a batched call's headers by those names only.
                "headers": {
                    "content-type": "application/json",
                    **{k.lower(): v for k, v in (call.headers or {}).items()},
                },
                **({"body": call.body} if call.body is not None else {}),
            }
            for n, call in enumerate(calls)
        ]
        try:
            response = self.send("POST", "$batch", body={"requests": requests}, timeout=timeout)
        except Refused as refused:
            raise NoBatch(
                f"{self.where}: POST $batch: the service takes no JSON batch (HTTP {refused.status}: "
                f"{refused.reason}); write without batch_size"
            ) from None
        assert response is not None
        answers = self.json(response, "POST $batch")
        by_id = {str(a.get("id")): a for a in (answers.get("responses") if isinstance(answers, dict) else None) or []}
        if len(by_id) != len(calls) or any(str(n) not in by_id for n in range(len(calls))):
            raise TransientError(f"{self.where}: POST $batch: the answer does not answer every call")
        return [self._answer_of(call, by_id[str(n)]) for n, call in enumerate(calls)]

    def _answer_of(self, call: BatchCall, answer: dict[str, Any]) -> httpx.Response:
        request = httpx.Request(call.method, f"{self.base_url}/{call.address.lstrip('/')}")
        body = answer.get("body")
        content = b"" if body is None else json.dumps(body).encode()
        headers = {str(k): str(v) for k, v in (answer.get("headers") or {}).items()}
        return httpx.Response(int(answer.get("status") or 500), headers=headers, content=content, request=request)


@dataclass(frozen=True)
class BatchCall:
    """One call of a $batch: as `send` would make it alone."""

    method: str
    address: str
    body: Any = None
    headers: dict[str, str] | None = None


class NoBatch(ConnectorError):
    """The service has no JSON $batch: every batch would be refused, so the run stops."""

    every_record = True


def plain(record: dict[str, Any]) -> dict[str, Any]:
    """A record without OData's annotations (@odata.etag, items@odata.context), its expanded
    children too."""
    return {
        k: [plain(c) if isinstance(c, dict) else c for c in v] if isinstance(v, list) else v
        for k, v in record.items()
        if "@" not in k
    }
