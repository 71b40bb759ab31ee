"""Ingestion benchmark: prints JSON.

- rows/s per structured table,
- texts/s of embedding ingestion (encode + Chroma upsert + bookkeeping) next to raw
  sentence-transformers ``encode`` throughput on the same texts in the same run,
- wall time of the default demo bank (2,000 customers x 12 months) generated and ingested.

Usage: python bench/ingest.py [--customers 2000] [--months 12]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from advisor import services  # noqa: E402
from advisor.settings import Settings, apply_process_environment  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        home = Path(tmp) / "home"
        settings = Settings(home=home)
        apply_process_environment(settings)
        from bank.generator import generate_bank
        from bank.ingest import Ingestor

        wall = time.perf_counter()
        generated = generate_bank(customers=args.customers, months=args.months, seed=args.seed,
                                  out_dir=home / "bank")
        generate_s = time.perf_counter() - wall
        store = services.open_store(settings)
        client = services.open_chroma(settings)
        encoder = services.text_encoder(settings)
        report = Ingestor(store, client, encoder, services.knowledge_base(settings),
                          batch_size=settings.ingest_batch_size).run(home / "bank")
        demo_wall_s = time.perf_counter() - wall

        texts = [t for t in store.table("interactions", ["text"])["text"]]
        texts += [t for t in store.table("social_posts", ["text"])["text"]]
        texts += [c.text for c in services.knowledge_base(settings).chunks()]
        from sentence_transformers import SentenceTransformer

        raw_model = SentenceTransformer(settings.resolved_embedding_model(), device="cpu")
        raw_model.encode(texts[:64], batch_size=settings.embedding_batch_size)
        clock = time.perf_counter()
        raw_model.encode(texts, batch_size=settings.embedding_batch_size, normalize_embeddings=True)
        raw_s = time.perf_counter() - clock

    structured = {name: {"rows": t.loaded, "seconds": round(t.seconds, 2),
                         "rows_per_s": round(t.rows_per_second)} for name, t in report.tables.items()}
    total_rows = sum(t.loaded for t in report.tables.values())
    total_s = sum(t.seconds for t in report.tables.values())
    embedded = sum(report.texts_embedded.values())
    raw_rate = len(texts) / raw_s
    result = {
        "bank": {"customers": args.customers, "months": args.months, "rows": generated.model_dump().get("rows")},
        "generate_s": round(generate_s, 2),
        "structured": {"tables": structured, "rows": total_rows, "seconds": round(total_s, 2),
                       "rows_per_s": round(total_rows / total_s)},
        "embedding": {
            "texts": embedded,
            "ingest_texts_per_s": round(report.texts_per_second, 1),
            "raw_encode_texts_per_s": round(raw_rate, 1),
            "ingest_vs_raw": round(report.texts_per_second / raw_rate, 3),
            "target_ingest_vs_raw": 0.85,
        },
        "demo_generate_and_ingest_wall_s": round(demo_wall_s, 1),
        "target_demo_wall_s": 90,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
