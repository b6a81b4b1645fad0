"""The committed JSON Schema documents are exactly what the models generate.

Producers in other languages validate against `schemas/json/`; a model change that is
not regenerated would let them send records the workers reject (or the reverse).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import msgspec
import orjson
import pytest

from schemas import generate
from schemas.generate import DOCUMENTS, JSON_DIR, main, render


@pytest.mark.parametrize(("name", "model"), DOCUMENTS.items(), ids=list(DOCUMENTS))
def test_the_committed_document_equals_what_the_model_renders(
    name: str, model: type[msgspec.Struct]
) -> None:
    committed = (JSON_DIR / name).read_bytes()

    assert committed == render(model), f"{name} is stale: run `python -m schemas.generate`"


@pytest.mark.parametrize(("name", "model"), DOCUMENTS.items(), ids=list(DOCUMENTS))
def test_each_document_is_named_after_its_schema_tag(
    name: str, model: type[msgspec.Struct]
) -> None:
    tag = msgspec.inspect.type_info(model).tag  # type: ignore[attr-defined]
    record_name, major = tag.split("/")
    document = orjson.loads((JSON_DIR / name).read_bytes())

    assert name == f"{record_name}.v{major}.json"
    assert document["$id"] == f"backupwatch:{tag}"
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_committed_document_comes_from_a_model() -> None:
    committed = {path.name for path in JSON_DIR.glob("*.json")}

    assert committed == set(DOCUMENTS)


def test_the_check_passes_on_the_committed_documents() -> None:
    assert main(["--check"]) == 0


@pytest.fixture
def json_dir_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = tmp_path / "json"
    shutil.copytree(JSON_DIR, copy)
    monkeypatch.setattr(generate, "JSON_DIR", copy)
    return copy


def test_the_check_fails_and_names_a_drifted_document(
    json_dir_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drifted = json_dir_copy / "heartbeat.v1.json"
    drifted.write_bytes(drifted.read_bytes().replace(b'"maxLength": 256', b'"maxLength": 512'))

    assert main(["--check"]) == 1
    assert "heartbeat.v1.json" in capsys.readouterr().err
    assert drifted.read_bytes() != render(DOCUMENTS["heartbeat.v1.json"]), "--check wrote"


def test_generating_rewrites_a_drifted_or_missing_document(json_dir_copy: Path) -> None:
    (json_dir_copy / "alert.v1.json").write_bytes(b"{}\n")
    (json_dir_copy / "org_policy.v1.json").unlink()

    assert main([]) == 0

    assert main(["--check"]) == 0
    assert (json_dir_copy / "org_policy.v1.json").read_bytes() == render(
        DOCUMENTS["org_policy.v1.json"]
    )
