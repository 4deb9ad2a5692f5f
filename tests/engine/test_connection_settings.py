"""Connection settings are checked against their type's schema when saved: a misspelt setting, a
missing secret for the auth chosen or an address without its scheme is refused in one sentence
naming it (and never echoing a secret); the settings a CLI or a test writes pass."""

from __future__ import annotations

import pytest

from app.connectors import CONNECTION_TYPES
from app.connectors.settings_schemas import SETTINGS_SCHEMAS, secret_settings, settings_problems
from app.errors import FlowbridgeError
from app.services import access
from app.services.connections import save_connection
from app.store.connections import connection_names


@pytest.mark.parametrize(
    ("type_", "settings"),
    [
        ("sql", {"url": "sqlite:///crm.db"}),
        ("file", {"path": "/data/out"}),
        ("http", {"base_url": "https://api.example.com/v1", "auth": "bearer", "token": "t", "retry_wait": 0.01}),
        ("http", {"base_url": "http://127.0.0.1:8000", "auth": "session", "login": "erpnext", "username": "u"}),
        (
            "http",
            {
                "base_url": "https://crm.example.com",
                "auth": "oauth2_authorization_code",
                "token_url": "https://login.example.com/token",
                "authorize_url": "https://login.example.com/authorize",
                "client_id": "c",
                "client_secret": "s",
                "refresh_token": "r",
            },
        ),
        (
            "odata",
            {
                "base_url": "https://erp.example.com/odata/v4/sales",
                "csrf": True,
                "auth": "basic",
                "username": "u",
                "password": "p",
            },
        ),
        ("jsonrpc", {"url": "http://erp:8000/db/", "username": "admin", "password": "admin", "timeout": 5}),
    ],
)
def test_settings_a_user_writes_pass(type_, settings):
    assert settings_problems(type_, settings) == []


@pytest.mark.parametrize(
    ("type_", "settings", "said"),
    [
        ("jsonrpc", {"url": "http://erp:8000/db/", "username": "admin", "pasword": "x"}, "unknown setting pasword"),
        ("jsonrpc", {"url": "http://erp:8000/db/", "username": "admin"}, "'password' is needed"),
        ("http", {"base_url": "https://api.example.com", "auth": "bearer"}, "'token' is needed for auth bearer"),
        ("http", {"base_url": "api.example.com"}, "base_url: must start with http:// or https://"),
        ("http", {"auth": "none"}, "the address is needed: base_url or url"),
        ("http", {"base_url": "https://a.example.com", "auth": "kerberos"}, "auth: must be one of none, bearer"),
        (
            "http",
            {"base_url": "https://a.example.com", "auth": "session", "login": "odoo9"},
            "login: a preset (erpnext)",
        ),
        ("sql", {}, "'url' is needed"),
    ],
)
def test_wrong_settings_are_said_in_one_sentence_naming_the_setting(type_, settings, said):
    problems = settings_problems(type_, settings)
    assert any(said in p for p in problems), problems


def test_every_type_has_a_schema_and_its_secrets_are_marked():
    assert set(SETTINGS_SCHEMAS) == set(CONNECTION_TYPES)
    assert {"password", "token", "api_key", "client_secret", "refresh_token"} <= secret_settings("http")
    assert secret_settings("jsonrpc") == {"password"}


def test_saving_a_connection_with_a_misspelt_setting_is_refused_and_nothing_is_kept(store):
    admin = access.Principal("adam", "admin")
    with pytest.raises(FlowbridgeError) as refused:
        save_connection(
            store,
            "erp",
            "sandbox",
            "jsonrpc",
            {"url": "http://erp/db/", "username": "a", "pasword": "s3cret"},
            who=admin,
        )
    assert str(refused.value).startswith("connection 'erp' (sandbox): ") and "pasword" in str(refused.value)
    assert "s3cret" not in str(refused.value)
    assert "erp" not in connection_names(store)
