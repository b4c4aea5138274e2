"""Auth settings and the WebSocket key extraction (no Redis needed)."""

import pytest
from pydantic import ValidationError

from app.auth import websocket_token
from core.settings import Settings


def test_auth_is_on_by_default_and_off_is_explicit():
    assert Settings.model_fields["auth"].default is True  # (the test environment sets BUDGIE_AUTH=off)
    assert Settings(auth="off").auth is False
    assert Settings(auth="on").auth is True


def test_admin_key_must_be_long_and_empty_means_unset():
    assert Settings(admin_key="").admin_key is None
    assert Settings(admin_key="k" * 16).admin_key.get_secret_value() == "k" * 16
    assert "k" * 16 not in repr(Settings(admin_key="k" * 16))  # a SecretStr: not printed in logs
    with pytest.raises(ValidationError, match="at least 16 characters"):
        Settings(admin_key="short")


@pytest.mark.parametrize(
    ("headers", "args", "expected"),
    [
        ({"Authorization": "Bearer bgk_a"}, {}, "bgk_a"),
        ({"Authorization": "bearer  bgk_a "}, {}, "bgk_a"),
        ({}, {"api_key": "bgk_q"}, "bgk_q"),
        ({"Sec-WebSocket-Protocol": "budgie, budgie.key.bgk_p"}, {}, "bgk_p"),
        ({"Sec-WebSocket-Protocol": "budgie, bgk_p"}, {}, "bgk_p"),
        ({"Sec-WebSocket-Protocol": "budgie"}, {}, None),
        ({"Sec-WebSocket-Protocol": "chat, superchat"}, {}, None),
        ({"Authorization": "Basic dTpw"}, {}, None),
        ({}, {}, None),
    ],
)
def test_websocket_key_comes_from_header_query_or_subprotocol(headers, args, expected):
    assert websocket_token(headers, args) == expected
