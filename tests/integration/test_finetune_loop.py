"""The fine-tuning loop on CPU with the tiny random chat model: audit trail -> export -> LoRA training
through `advisor finetune train` -> the adapter loaded by the zephyr backend changes its output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from advisor.settings import Settings
from finetune.adapters import activate, configured_adapter
from finetune.export import build_export, write_export
from finetune.training import IGNORED_LABEL, prompt_token_ids, tokenize_chat_example
from graph.audit import AuditTrail
from graph.backend import get_backend, reset_backends
from tests.unit.test_finetune_export import PEOPLE, add_answer, identifiers_for, rate

TRAINING_ENV = {
    "ADVISOR_LLM_BACKEND": "zephyr",
    "ADVISOR_LOAD_IN_4BIT": "false",
    "ADVISOR_FINETUNE_LORA_RANK": "4",
    "ADVISOR_FINETUNE_LORA_ALPHA": "8",
    "ADVISOR_FINETUNE_TARGET_MODULES": '["q_proj", "v_proj", "o_proj"]',
    "ADVISOR_FINETUNE_LEARNING_RATE": "0.01",
    "ADVISOR_FINETUNE_GRAD_ACCUMULATION": "1",
    "ADVISOR_FINETUNE_MAX_LENGTH": "4096",
    "ADVISOR_FINETUNE_GRADIENT_CHECKPOINTING": "true",
}


@pytest.fixture(scope="module")
def sft_file(tmp_path_factory) -> Path:
    """An exported SFT set of six approved answers."""
    folder = tmp_path_factory.mktemp("finetune-export")
    trail = AuditTrail(folder / "audit.sqlite")
    try:
        for index in range(6):
            add_answer(trail, f"pos-{index}", list(PEOPLE)[index % 3], index)
            rate(trail, f"pos-{index}", 1)
        export = build_export(trail.all(), identifiers_for)
    finally:
        trail.close()
    return write_export(export, folder / "sft.jsonl", {"created_at": "test"}).sft


@pytest.fixture(scope="module")
def trained(sft_file, tiny_chat_model, tmp_path_factory):
    """`advisor finetune train` for four steps; returns the home and the command's JSON output."""
    import advisor.cli.finetune  # noqa: F401
    from advisor.cli.app import app
    from advisor.settings import get_settings

    home = tmp_path_factory.mktemp("finetune-home")
    patch = pytest.MonkeyPatch()
    environment = {**TRAINING_ENV, "ADVISOR_HOME": str(home), "ADVISOR_ZEPHYR_MODEL": str(tiny_chat_model)}
    for name, value in environment.items():
        patch.setenv(name, value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["finetune", "train", "--data", str(sft_file), "--max-steps", "4",
                                          "--json"])
    finally:
        get_settings.cache_clear()
        patch.undo()
    assert result.exit_code == 0, result.output
    return home, json.loads(result.stdout)


def test_the_answer_alone_carries_the_loss_and_the_prompt_matches_inference(sft_file, tiny_chat_model):
    from finetune.training import load_tokenizer, read_chat_examples

    tokenizer = load_tokenizer(str(tiny_chat_model))
    messages = read_chat_examples(sft_file)[0]
    example, truncated = tokenize_chat_example(tokenizer, messages, max_length=4096)
    prompt = prompt_token_ids(tokenizer, messages[:-1])
    assert example.input_ids[:len(prompt)] == prompt and not truncated
    assert set(example.labels[:len(prompt)]) == {IGNORED_LABEL}
    answer = tokenizer.decode(example.labels[len(prompt):], skip_special_tokens=True)
    assert answer == messages[-1]["content"]
    assert tokenize_chat_example(tokenizer, messages, max_length=len(prompt) + 4)[0] is None, \
        "a prompt that leaves no room for the answer is skipped, never cut"


def test_training_writes_the_adapter_and_its_model_card_under_home(trained, tiny_chat_model):
    home, card = trained
    adapter = Path(card["adapter"])
    assert adapter.parent == home / "adapters"
    assert (adapter / "adapter_config.json").is_file() and (adapter / "adapter_model.safetensors").is_file()
    stored = json.loads((adapter / "model_card.json").read_text())
    assert stored["base_model"] == str(tiny_chat_model) and "git_revision" in stored and stored["created_at"]
    assert stored["data"]["counts"]["positives"] == 6 and stored["data"]["examples_in_file"] == 6
    assert stored["settings"]["rank"] == 4 and stored["settings"]["max_length"] == 4096
    assert stored["settings"]["load_in_4bit"] is False
    training = stored["training"]
    assert training["device"] == "cpu" and training["quantisation"] is None and training["steps"] == 4
    assert training["examples"] == 6 and training["loss_last"] < training["loss_first"]
    markdown = (adapter / "MODEL_CARD.md").read_text()
    assert str(tiny_chat_model) in markdown and "positives: 6" in markdown


def test_the_zephyr_backend_loads_the_trained_adapter_and_answers_differently(trained, sft_file, tiny_chat_model):
    home, card = trained
    prompt = json.loads(sft_file.read_text().splitlines()[0])["messages"][:-1]
    settings = Settings(home=home, llm_backend="zephyr", zephyr_model=str(tiny_chat_model), load_in_4bit=False,
                        max_new_tokens=12, llm_timeout_s=120, prompt_token_budget=6000,
                        finetune_use_active_adapter=False)
    reset_backends()
    try:
        base = get_backend(settings).generate(prompt, max_new_tokens=12)
        tuned_backend = get_backend(settings.model_copy(update={"zephyr_adapter": Path(card["adapter"])}))
        tuned = tuned_backend.generate(prompt, max_new_tokens=12)
    finally:
        reset_backends()
    assert tuned_backend.describe()["adapter"] == card["adapter"]
    assert tuned.text != base.text


def test_an_activated_adapter_is_the_one_configured_when_none_is_named(trained, tiny_chat_model):
    home, card = trained
    settings = Settings(home=home, llm_backend="zephyr", zephyr_model=str(tiny_chat_model))
    assert configured_adapter(settings) is None
    activate(settings, Path(card["adapter"]))
    assert configured_adapter(settings) == Path(card["adapter"]).resolve()
    assert configured_adapter(settings.model_copy(update={"finetune_use_active_adapter": False})) is None


def test_the_evaluation_suites_gate_a_trained_adapter_end_to_end(trained, tmp_path):
    """The real suite runner (the compliance suite: quick, and needs no ingested bank) with both sides."""
    from functools import partial

    from finetune.adapters import active_file
    from finetune.gate import evaluate_adapter, run_gated_suites

    home, card = trained
    settings = Settings(home=tmp_path)
    decision = evaluate_adapter(settings, Path(card["adapter"]), ["compliance"],
                                partial(run_gated_suites, limit=3))
    adapted = decision.adapted["compliance"]
    assert set(adapted.metrics) == {"draft_correct", "rules_caught", "no_false_alarm"}
    assert adapted.passed == (not adapted.failed) == decision.activated
    assert active_file(settings).exists() == decision.activated
    assert (Path(card["adapter"]) / "evaluation.json").is_file()
