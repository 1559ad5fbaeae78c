"""The fleet review page's pool: a central database that cannot be reached says how to fix it."""

from __future__ import annotations

import socket

import pytest

from medic.api.central import open_pool
from medic.errors import FleetError


@pytest.mark.asyncio
async def test_an_unreachable_central_database_names_the_setting_to_check() -> None:
    """Nothing listening: the error names the type and points at fleet.central_audit.dsn,
    never the DSN itself."""
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dsn = f"postgresql://medic:pw-s3cret@127.0.0.1:{port}/audit"
    with pytest.raises(FleetError) as err:
        await open_pool(dsn)
    assert str(err.value).startswith("central audit database unreachable: ")
    assert "fleet.central_audit.dsn" in str(err.value)
    assert "pw-s3cret" not in str(err.value)
