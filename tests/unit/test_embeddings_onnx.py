"""The onnx engines: built offline from the installed model into the home, cached, and
interchangeable with the sentence-transformers vectors they replace."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from pydantic import ValidationError

from advisor import services
from advisor.settings import Settings
from bank import embeddings
from bank.embeddings import OnnxEncoder, SentenceTransformerEncoder, build_onnx_model, load_encoder

SENTENCES = [
    "which card has no foreign transaction fees?",
    "I was charged a late fee of €28 but I paid on time. I want it reversed.",
    "Caller said: We have 45,000 eur saved, both working full time. Would we qualify for a mortgage?",
    "The card isn't working for contactless since Friday, can you check what's wrong?",
    "Early repayment of a personal loan carries no fee after the first twelve months of the agreement.",
    "Thinking of moving my salary to another bank, the fees here are ridiculous.",
]


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    return Settings(home=tmp_path_factory.mktemp("home"), embedding_engine="onnx-int8")


@pytest.fixture(scope="module")
def encoder(settings) -> OnnxEncoder:
    return services.text_encoder(settings)


@pytest.fixture(scope="module")
def float_encoder(settings) -> SentenceTransformerEncoder:
    return services.text_encoder(settings.model_copy(update={"embedding_engine": "sentence-transformers"}))


def cache_dir(settings: Settings):
    return settings.models_dir / "encoders" / "all-MiniLM-L6-v2-onnx-int8"


def test_settings_choose_the_engine(settings, encoder, float_encoder):
    assert isinstance(encoder, OnnxEncoder) and encoder.engine == "onnx-int8"
    assert isinstance(float_encoder, SentenceTransformerEncoder)
    assert encoder.name == f"{float_encoder.name}+onnx-int8"
    with pytest.raises(ValidationError):
        Settings(home=settings.home, embedding_engine="tensorrt")


def test_int8_model_is_built_under_the_home_from_the_installed_model(settings, encoder):
    folder = cache_dir(settings)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["source"] == settings.resolved_embedding_model()
    assert manifest["source_sha256"] == embeddings.source_fingerprint(Path(settings.resolved_embedding_model()))
    graph = onnx.load(str(folder / "model.onnx"), load_external_data=False).graph
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= {node.op_type for node in graph.node}


def test_second_load_reuses_the_build(settings, encoder, monkeypatch):
    model_file = cache_dir(settings) / "model.onnx"
    built = model_file.stat().st_mtime_ns

    def no_export(*args, **kwargs):
        raise AssertionError("the cached model was rebuilt")

    monkeypatch.setattr(embeddings, "_export_float_onnx", no_export)
    again = OnnxEncoder(settings.resolved_embedding_model(), cache_dir(settings), "onnx-int8")
    assert again.encode(SENTENCES[:1]).shape == (1, 384)
    assert model_file.stat().st_mtime_ns == built


def test_a_changed_export_recipe_rebuilds(settings, encoder, monkeypatch):
    class Rebuilt(Exception):
        pass

    def export(*args, **kwargs):
        raise Rebuilt

    monkeypatch.setattr(embeddings, "EXPORT_RECIPE", embeddings.EXPORT_RECIPE + 1)
    monkeypatch.setattr(embeddings, "_export_float_onnx", export)
    with pytest.raises(Rebuilt):
        build_onnx_model(settings.resolved_embedding_model(), cache_dir(settings), "onnx-int8")
    assert (cache_dir(settings) / "model.onnx").exists()


def test_source_fingerprint_follows_the_model_files(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    before = embeddings.source_fingerprint(tmp_path)
    (tmp_path / "config.json").write_text('{"hidden_size": 384}')
    assert embeddings.source_fingerprint(tmp_path) != before


def test_vectors_are_unit_norm_and_agree_with_the_float_model(encoder, float_encoder):
    vectors = encoder.encode(SENTENCES)
    reference = float_encoder.encode(SENTENCES)
    assert vectors.shape == (len(SENTENCES), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.min(np.sum(vectors * reference, axis=1)) > 0.98
    assert encoder.encode([]).shape == (0, 384)


def test_vectors_keep_the_input_order_across_batches(encoder):
    default_batch_size, encoder.batch_size = encoder.batch_size, 2
    try:
        vectors = encoder.encode(SENTENCES)
    finally:
        encoder.batch_size = default_batch_size
    one_by_one = np.vstack([encoder.encode([sentence]) for sentence in SENTENCES])
    # Activations are quantised per batch, so a text's vector moves a little with its neighbours;
    # a text paired with another's vector would score far lower.
    assert np.min(np.sum(vectors * one_by_one, axis=1)) > 0.98


def test_onnx_engine_needs_a_cache_folder(settings):
    with pytest.raises(ValueError, match="cache folder"):
        load_encoder(settings.resolved_embedding_model(), "onnx-int8")


def test_only_mean_pooled_normalised_models_are_exported(tmp_path):
    (tmp_path / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]))
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": 384, "pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}))
    with pytest.raises(ValueError, match="mean-pooled"):
        build_onnx_model(tmp_path, tmp_path / "cache", "onnx-int8")
