"""LoRA supervised fine-tuning of a chat model on ``{"messages": [system, user, assistant]}`` examples.

QLoRA on a CUDA GPU: the base model is loaded in 4-bit nf4 through bitsandbytes with
bfloat16 compute (the same quantisation the zephyr backend serves with), prepared with
``peft.prepare_model_for_kbit_training``, and only the LoRA matrices train. On a CPU the
same code loads the model unquantised in float32, which is only practical for small models.

Training goes through the plain ``transformers.Trainer`` rather than trl's SFTTrainer: the
loss covers only the answer's tokens, and the prompt is tokenised exactly as the zephyr
backend tokenises it at inference (the chat template with the generation prompt and
control tokens in the data kept as plain text), so what the adapter learns is what it is
asked. This module imports only torch, transformers and peft, so a bare GPU machine can run it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
IGNORED_LABEL = -100
# An example whose prompt leaves less room than this for the answer teaches nothing useful.
MIN_ANSWER_TOKENS = 16
WARMUP_FRACTION = 0.03


@dataclass(frozen=True)
class LoraTrainingConfig:
    base_model: str
    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: tuple[str, ...] = DEFAULT_TARGET_MODULES
    learning_rate: float = 2e-4
    epochs: float = 2.0
    max_steps: int | None = None
    max_length: int = 6000
    batch_size: int = 1
    grad_accumulation: int = 8
    gradient_checkpointing: bool = True
    load_in_4bit: bool = True
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["target_modules"] = list(self.target_modules)
        return values


@dataclass
class TrainingResult:
    adapter_dir: str
    device: str
    quantisation: str | None
    compute_dtype: str
    examples: int
    skipped_too_long: int
    truncated_answers: int
    steps: int
    seconds: float
    steps_per_second: float
    losses: list[float] = field(default_factory=list)
    peak_gpu_memory_gib: float | None = None
    trainable_parameters: int = 0
    total_parameters: int = 0

    @property
    def loss_first(self) -> float | None:
        return self.losses[0] if self.losses else None

    @property
    def loss_last(self) -> float | None:
        return self.losses[-1] if self.losses else None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "loss_first": self.loss_first, "loss_last": self.loss_last}


@dataclass(frozen=True)
class TokenizedExample:
    input_ids: list[int]
    labels: list[int]


# --- data --------------------------------------------------------------------------------------
def read_chat_examples(path: Path) -> list[list[dict[str, str]]]:
    """The ``messages`` of every line of a JSONL file; each must end with the assistant's answer."""
    examples = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        messages = json.loads(line).get("messages")
        if not messages or messages[-1].get("role") != "assistant" or not messages[-1].get("content"):
            raise ValueError(f"{path}:{number}: an example is a list of messages ending with the assistant's "
                             "answer")
        examples.append([{"role": m["role"], "content": m["content"]} for m in messages])
    return examples


def prompt_token_ids(tokenizer: Any, messages: Sequence[dict[str, str]]) -> list[int]:
    """The prompt as the zephyr backend encodes it at inference."""
    encoded = tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=True,
                                            return_dict=True, sanitize_control_tokens=True)
    return list(encoded["input_ids"])


def tokenize_chat_example(tokenizer: Any, messages: Sequence[dict[str, str]],
                          max_length: int) -> tuple[TokenizedExample | None, bool]:
    """The example's token ids with labels on the answer only, and whether the answer was cut.

    The prompt is never cut (a prompt without its end asks something else); an example
    whose prompt leaves under :data:`MIN_ANSWER_TOKENS` of ``max_length`` gives None.
    """
    prompt_ids = prompt_token_ids(tokenizer, messages[:-1])
    answer = tokenizer(messages[-1]["content"].strip(), add_special_tokens=False, split_special_tokens=True)
    answer_ids = list(answer["input_ids"]) + [tokenizer.eos_token_id]
    room = max_length - len(prompt_ids)
    if room < min(MIN_ANSWER_TOKENS, len(answer_ids)):
        return None, False
    truncated = len(answer_ids) > room
    answer_ids = answer_ids[:room]
    return TokenizedExample(prompt_ids + answer_ids, [IGNORED_LABEL] * len(prompt_ids) + answer_ids), truncated


class _ExampleDataset:
    """A map-style dataset over tokenised examples (what ``Trainer`` iterates)."""

    def __init__(self, examples: Sequence[TokenizedExample]):
        self.examples = list(examples)

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        example = self.examples[index]
        return {"input_ids": example.input_ids, "labels": example.labels}


def pad_batch(features: Sequence[dict[str, list[int]]], pad_token_id: int) -> dict[str, Any]:
    """Right-padded tensors; padding is masked out of attention and loss."""
    import torch

    longest = max(len(f["input_ids"]) for f in features)
    input_ids = torch.full((len(features), longest), pad_token_id, dtype=torch.long)
    labels = torch.full((len(features), longest), IGNORED_LABEL, dtype=torch.long)
    attention = torch.zeros((len(features), longest), dtype=torch.long)
    for row, feature in enumerate(features):
        length = len(feature["input_ids"])
        input_ids[row, :length] = torch.tensor(feature["input_ids"])
        labels[row, :length] = torch.tensor(feature["labels"])
        attention[row, :length] = 1
    return {"input_ids": input_ids, "labels": labels, "attention_mask": attention}


# --- model --------------------------------------------------------------------------------------
def training_load_kwargs(load_in_4bit: bool, cuda: bool) -> dict[str, Any]:
    """``from_pretrained`` arguments: nf4 weights with bfloat16 compute on a GPU, float32 on a CPU."""
    import torch

    if not cuda:
        if load_in_4bit:
            log.warning("4-bit training needs a CUDA GPU; training the model unquantised in float32 on the CPU")
        return {"dtype": torch.float32}
    kwargs: dict[str, Any] = {"dtype": torch.bfloat16, "device_map": {"": torch.cuda.current_device()}}
    if load_in_4bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16
        )
    return kwargs


def load_tokenizer(base_model: str) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_model)
    if tokenizer.chat_template is None:
        raise ValueError(f"{base_model!r} has no chat template")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_base_model(config: LoraTrainingConfig, cuda: bool) -> Any:
    from transformers import AutoModelForCausalLM

    kwargs = training_load_kwargs(config.load_in_4bit, cuda)
    return AutoModelForCausalLM.from_pretrained(config.base_model, **kwargs)


def with_lora(model: Any, config: LoraTrainingConfig) -> Any:
    """The model prepared for (k-bit) training with trainable LoRA matrices on ``target_modules``."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    checkpointing = {"use_reentrant": False}
    if getattr(model, "is_loaded_in_4bit", False):
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.gradient_checkpointing,
                                                gradient_checkpointing_kwargs=checkpointing)
    elif config.gradient_checkpointing:
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.2x renamed it
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=checkpointing)
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=checkpointing)
        model.enable_input_require_grads()
    model.config.use_cache = False
    lora = LoraConfig(r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
                      target_modules=list(config.target_modules), bias="none", task_type="CAUSAL_LM")
    return get_peft_model(model, lora)


def _optimiser_steps(examples: int, config: LoraTrainingConfig) -> int:
    if config.max_steps:
        return config.max_steps
    per_epoch = math.ceil(math.ceil(examples / config.batch_size) / config.grad_accumulation)
    return max(1, math.ceil(per_epoch * config.epochs))


# --- training -----------------------------------------------------------------------------------
def train_lora(config: LoraTrainingConfig, conversations: Sequence[Sequence[dict[str, str]]],
               adapter_dir: Path) -> TrainingResult:
    """Train a LoRA adapter on ``conversations`` and save it (peft format) to ``adapter_dir``."""
    import torch
    from transformers import Trainer, TrainingArguments, set_seed

    cuda = torch.cuda.is_available()
    set_seed(config.seed)
    tokenizer = load_tokenizer(config.base_model)
    tokenized, skipped, truncated = [], 0, 0
    for messages in conversations:
        example, cut = tokenize_chat_example(tokenizer, messages, config.max_length)
        if example is None:
            skipped += 1
            continue
        tokenized.append(example)
        truncated += int(cut)
    if not tokenized:
        raise ValueError(f"no example fits max_length={config.max_length} tokens ({skipped} prompts are longer)")

    if cuda:
        torch.cuda.reset_peak_memory_stats()
    model = with_lora(load_base_model(config, cuda), config)
    quantised = bool(getattr(model, "is_loaded_in_4bit", False))
    trainable, total = model.get_nb_trainable_parameters()
    steps = _optimiser_steps(len(tokenized), config)
    with tempfile.TemporaryDirectory(prefix="advisor-lora-") as work_dir:
        arguments = TrainingArguments(
            output_dir=work_dir,
            per_device_train_batch_size=config.batch_size,
            gradient_accumulation_steps=config.grad_accumulation,
            learning_rate=config.learning_rate,
            num_train_epochs=config.epochs,
            max_steps=config.max_steps or -1,
            lr_scheduler_type="cosine",
            warmup_steps=int(steps * WARMUP_FRACTION),
            optim="adamw_torch",
            logging_steps=1,
            save_strategy="no",
            report_to="none",
            bf16=cuda,
            use_cpu=not cuda,
            seed=config.seed,
            remove_unused_columns=False,
            dataloader_num_workers=0,
            disable_tqdm=True,
        )
        trainer = Trainer(model=model, args=arguments, train_dataset=_ExampleDataset(tokenized),
                          data_collator=lambda features: pad_batch(features, tokenizer.pad_token_id))
        started = time.perf_counter()
        # Trainer prints its log lines to standard output, which must stay clean for --json.
        with contextlib.redirect_stdout(sys.stderr):
            output = trainer.train()
        seconds = time.perf_counter() - started
        losses = [round(float(entry["loss"]), 4) for entry in trainer.state.log_history if "loss" in entry]
    adapter_dir = Path(adapter_dir)
    adapter_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(adapter_dir)
    done = int(output.global_step)
    return TrainingResult(
        adapter_dir=str(adapter_dir),
        device="cuda" if cuda else "cpu",
        quantisation="nf4" if quantised else None,
        compute_dtype="bfloat16" if cuda else "float32",
        examples=len(tokenized),
        skipped_too_long=skipped,
        truncated_answers=truncated,
        steps=done,
        seconds=round(seconds, 2),
        steps_per_second=round(done / seconds, 3) if seconds > 0 else 0.0,
        losses=losses,
        peak_gpu_memory_gib=round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
        trainable_parameters=int(trainable),
        total_parameters=int(total),
    )
