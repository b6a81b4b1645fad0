from __future__ import annotations

from openapi_spec_validator import validate

from agents.ingest.openapi import openapi_document
from agents.ingest.server import INGEST_PATH, IngestServer
from agents.ingest.settings import IngestSettings

SETTINGS = IngestSettings(tokens="t" * 16)


def test_the_document_is_valid_openapi_and_names_every_answer() -> None:
    document = openapi_document(SETTINGS)

    validate(document)  # type: ignore[arg-type]
    answers = document["paths"][INGEST_PATH]["post"]["responses"]
    assert set(answers) == {"202", "400", "401", "403", "413", "415", "429", "503"}


def test_the_document_describes_the_routes_the_server_has() -> None:
    app = IngestServer(SETTINGS, producer=None).app()
    routes = {
        (r.method, r.resource.canonical)
        for r in app.router.routes()
        if r.resource is not None and r.method != "HEAD"
    }

    documented = {("POST", path) for path in openapi_document(SETTINGS)["paths"]}
    assert documented <= routes
    assert routes - documented == {
        ("GET", "/api/openapi.json"),
        ("GET", "/metrics"),
        ("GET", "/healthz"),
    }
