"""Embedding engine benchmark: prints JSON.

For each engine (sentence-transformers, onnx, onnx-int8) on the same fixed texts (the
knowledge chunks plus customer interactions and social posts of a generated bank):

- build seconds of the onnx engines (first use: export and quantisation),
- texts/s per batch size (median of interleaved rounds, wall clock and per CPU second),
  and the speed ratio to sentence-transformers at the same batch size and best against best,
- cosine agreement with the sentence-transformers vectors (mean, 1st percentile, min),
- recall@3 and MRR on the retrieval evaluation set per retrieval mode, each engine with
  its own Chroma collections (the retrieval suite of `advisor eval`, engine by engine).

Usage: python bench/encoder.py [--texts 2000] [--batch-sizes 32,64,128] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from advisor import services  # noqa: E402
from advisor.settings import Settings, apply_process_environment  # noqa: E402
from bank.embeddings import load_encoder  # noqa: E402

BASELINE = "sentence-transformers"


def bench_texts(count: int, seed: int, folder: Path) -> list[str]:
    """The knowledge chunks, then customer texts of a generated bank, ``count`` in all."""
    import pandas as pd

    from bank.generator import generate_bank

    texts = [chunk.text for chunk in services.knowledge_base().chunks()]
    customers = 200
    while True:
        bank = folder / f"bank-{customers}"
        generate_bank(customers=customers, months=12, seed=seed, out_dir=bank)
        customer_texts = [*pd.read_csv(bank / "interactions.csv")["text"],
                          *pd.read_csv(bank / "social_posts.csv")["text"]]
        if len(texts) + len(customer_texts) >= count:
            return (texts + customer_texts)[:count]
        customers *= 2


def throughput(encoder, texts: list[str], batch_size: int) -> tuple[float, float, np.ndarray]:
    """(texts per wall second, texts per CPU second of this process, the vectors)."""
    encoder.batch_size = batch_size
    wall, cpu = time.perf_counter(), time.process_time()
    vectors = encoder.encode(texts)
    return len(texts) / (time.perf_counter() - wall), len(texts) / max(time.process_time() - cpu, 1e-9), vectors


def retrieval_quality(encoder, settings: Settings) -> dict[str, float]:
    """Mean recall@3 and MRR per mode over the retrieval set, with collections built by ``encoder``."""
    from bank.vectorstore import POLICIES, PRODUCTS, open_collection
    from evals import evaluators as ev
    from evals.data import load_dataset
    from evals.suites import RETRIEVAL_K, RETRIEVAL_MODES, rankings_by_mode
    from tools.retrieval import HybridRetriever

    knowledge = services.knowledge_base(settings)
    client = services.open_chroma(settings)
    for name, kinds in ((PRODUCTS, ("product",)), (POLICIES, ("policy", "disclosure"))):
        chunks = [c for c in knowledge.chunks() if c.kind in kinds]
        open_collection(client, name, encoder).upsert(
            ids=[c.id for c in chunks], embeddings=encoder.encode([c.text for c in chunks]),
            documents=[c.text for c in chunks], metadatas=[{"kind": c.kind, "doc_id": c.doc_id} for c in chunks],
        )
    retriever = HybridRetriever(client, encoder, knowledge)
    examples = load_dataset("retrieval")
    scores: dict[str, list[float]] = {}
    for example in examples:
        ranked = rankings_by_mode(retriever, example.question)
        for mode in RETRIEVAL_MODES:
            scores.setdefault(f"recall@{RETRIEVAL_K}_{mode}", []).append(
                ev.recall_at_k(ranked[mode], example.gold, RETRIEVAL_K))
            scores.setdefault(f"mrr_{mode}", []).append(ev.reciprocal_rank(ranked[mode], example.gold))
    means = {name: round(statistics.fmean(values), 4) for name, values in scores.items()}
    return means | {"examples": len(examples)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--batch-sizes", default="32,64,128")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--engines", default="sentence-transformers,onnx,onnx-int8")
    parser.add_argument("--threads", type=int, default=0, help="embedding_threads of the onnx engines")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    engines = args.engines.split(",")
    if BASELINE not in engines:
        parser.error(f"the engines must include the baseline, {BASELINE}")
    batch_sizes = [int(size) for size in args.batch_sizes.split(",")]

    with tempfile.TemporaryDirectory(prefix="bench-encoder-") as tmp:
        apply_process_environment(Settings(home=Path(tmp)))
        texts = bench_texts(args.texts, args.seed, Path(tmp))
        settings = {engine: Settings(home=Path(tmp) / engine, embedding_engine=engine,
                                     embedding_threads=args.threads) for engine in engines}
        encoders, load_s = {}, {}
        for engine in engines:
            clock = time.perf_counter()
            encoders[engine] = services.text_encoder(settings[engine])
            load_s[engine] = round(time.perf_counter() - clock, 2)
        load_again_s = {}
        for engine in engines:
            if engine != BASELINE:
                clock = time.perf_counter()
                load_encoder.cache_clear()
                services.text_encoder(settings[engine])
                load_again_s[engine] = round(time.perf_counter() - clock, 2)

        for encoder in encoders.values():
            encoder.encode(texts[:64])  # warm-up
        runs: dict[str, dict[int, list[tuple[float, float]]]] = {e: {b: [] for b in batch_sizes} for e in engines}
        vectors: dict[str, np.ndarray] = {}
        for _ in range(args.rounds):
            for batch_size in batch_sizes:
                for engine in engines:
                    wall, cpu, vectors[engine] = throughput(encoders[engine], texts, batch_size)
                    runs[engine][batch_size].append((wall, cpu))
        agreement = {}
        for engine in engines:
            if engine != BASELINE:
                cosine = np.sum(vectors[engine] * vectors[BASELINE], axis=1)
                agreement[engine] = {"mean": round(float(cosine.mean()), 5),
                                     "p01": round(float(np.quantile(cosine, 0.01)), 5),
                                     "min": round(float(cosine.min()), 5)}
        speed = {engine: {str(b): {"texts_per_s": round(statistics.median(w for w, _ in r), 1),
                                   "texts_per_cpu_s": round(statistics.median(c for _, c in r), 1)}
                          for b, r in by_size.items()}
                 for engine, by_size in runs.items()}
        ratio = {}
        for engine in engines:
            if engine == BASELINE:
                continue
            per_size = {str(b): round(speed[engine][str(b)]["texts_per_s"]
                                      / speed[BASELINE][str(b)]["texts_per_s"], 2) for b in batch_sizes}
            cpu_per_size = {str(b): round(speed[engine][str(b)]["texts_per_cpu_s"]
                                          / speed[BASELINE][str(b)]["texts_per_cpu_s"], 2) for b in batch_sizes}
            best = max(s["texts_per_s"] for s in speed[engine].values())
            best_baseline = max(s["texts_per_s"] for s in speed[BASELINE].values())
            ratio[engine] = {"wall_by_batch_size": per_size, "cpu_by_batch_size": cpu_per_size,
                             "best_vs_best": round(best / best_baseline, 2)}

        retrieval = {engine: retrieval_quality(encoders[engine], settings[engine]) for engine in engines}
        recall_delta = {engine: {k: round(v - retrieval[BASELINE][k], 4) for k, v in retrieval[engine].items()
                                 if k.startswith("recall")}
                        for engine in engines if engine != BASELINE}

    print(json.dumps({
        "texts": len(texts), "mean_chars": round(statistics.fmean(len(t) for t in texts), 1),
        "rounds": args.rounds, "threads": args.threads or "default",
        "encoder_names": {engine: encoder.name for engine, encoder in encoders.items()},
        "first_load_s": load_s, "cached_load_s": load_again_s,
        "speed": speed, "speed_ratio_vs_sentence_transformers": ratio,
        "cosine_vs_sentence_transformers": agreement,
        "retrieval": retrieval, "recall_delta_vs_sentence_transformers": recall_delta,
    }, indent=2))


if __name__ == "__main__":
    main()
