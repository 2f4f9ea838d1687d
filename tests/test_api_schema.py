"""The JSON API against its own OpenAPI document, with schemathesis: generated requests to
every operation get no server error, and every answer conforms to the document."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from schemathesis.checks import positive_data_acceptance

from piperarc import config as configlib
from piperarc.ingest.sources.sample import sample_mbox
from piperarc.web.app import create_app
from tests.conftest import cli


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The sample list's archive, served in-process; its OpenAPI document, loaded."""
    root = tmp_path_factory.mktemp("api") / "archive"
    assert cli("init", root, "--list", "salon").exit_code == 0
    assert cli("init", root, "--list", "quiet").exit_code == 0  # a list with no mail
    mbox = root.parent / "salon.mbox"
    mbox.write_bytes(sample_mbox())
    assert cli("import", "--archive", root, "--list", "salon", mbox).exit_code == 0
    app = create_app(configlib.load(root))
    yield schemathesis.openapi.from_asgi("/api/openapi.json", app)
    app.state.archive.close()


def test_the_document_describes_every_api_route(api_schema: Any) -> None:
    paths = {op.ok().path for op in api_schema.get_all_operations()}
    assert paths == {
        "/api/lists",
        "/api/lists/{list}",
        "/api/lists/{list}/periods/{period}",
        "/api/lists/{list}/threads/{key}",
        "/api/lists/{list}/messages/{key}",
        "/api/search",
    }


def test_every_api_operation_answers_without_a_server_error_and_as_documented(
    api_schema: Any,
) -> None:
    # schemathesis's own pytest decorators do not run on this pytest; its strategies do.
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=30,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: schemathesis.Case) -> None:
            # A string the schema allows may not be a query the language reads (a lone
            # "OR", a stray quote): the document answers those with a 400 and a message.
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        check()
