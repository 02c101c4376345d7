"""One running ward for the whole fault suite (package scope): its own stack, since the tests
stop PostgreSQL and Mosquitto; never the session stack the other tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.ward import Ward


@pytest.fixture(scope="package")
def fault_ward() -> Iterator[Ward]:
    ward = Ward()
    try:
        ward.start()
        yield ward
    finally:
        ward.close()  # also removes the scratch dir under /tmp
