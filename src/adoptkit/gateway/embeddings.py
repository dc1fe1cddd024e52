"""Real sentence embeddings offline: all-MiniLM-L6-v2 as a numpy forward pass, no PyTorch.

The model is a 6-layer BERT (hidden size 384, 12 heads, GELU), followed by mean pooling over the real
tokens and L2 normalisation: exactly what sentence-transformers runs for it (its modules.json:
Transformer, Pooling with pooling_mode_mean_tokens, Normalize; max_seq_length 256). The tokenizer is
the model's own tokenizer.json, run by the `tokenizers` package. float32 throughout, as the weights are.

Why numpy: PyTorch would add gigabytes to every learner's image for a model this small; the forward
pass is a few matrix products, and agrees with sentence-transformers to about 1e-6 (tests pin the
figure against reference vectors). Weights come from llm.models (pinned by sha256).
"""

from __future__ import annotations

import json
import struct
import threading
from pathlib import Path

import numpy as np

MODEL_ID = "all-MiniLM-L6-v2"
DIM = 384
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model: longer inputs are cut, as there
LAYERS, HEADS, EPS = 6, 12, 1e-12
BATCH, BATCH_TOKENS = 64, 4096  # a forward pass: texts of similar length, at most this many (padded) tokens

_DTYPES = {"F32": np.float32, "I64": np.int64}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a .safetensors file (8-byte header length, JSON header, raw little-endian data)."""
    raw = Path(path).read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + size])
    base, out = 8 + size, {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        dtype = np.dtype(_DTYPES[info["dtype"]]).newbyteorder("<")
        out[name] = np.frombuffer(raw, dtype=dtype, count=(end - start) // dtype.itemsize,
                                  offset=base + start).reshape(info["shape"])
    return out


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + EPS) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf  # BERT's exact GELU, not the tanh approximation

    return (0.5 * x * (1.0 + erf(x / np.float32(np.sqrt(2.0))))).astype(np.float32)


class MiniLM:
    """all-MiniLM-L6-v2: `encode(texts)` -> unit vectors of 384 floats. Thread-safe (numpy only reads)."""

    def __init__(self, weights: Path, tokenizer: Path):
        from tokenizers import Tokenizer

        t = read_safetensors(weights)
        self.w = {k: v.T.copy() if k.endswith(".weight") and v.ndim == 2 and "embeddings" not in k else v
                  for k, v in t.items()}  # dense weights transposed once: x @ W
        self.tokenizer = Tokenizer.from_file(str(tokenizer))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()
        self._lock = threading.Lock()  # the tokenizer's settings are shared state

    def tokenize(self, texts: list[str]) -> list[list[int]]:
        with self._lock:
            return [e.ids for e in self.tokenizer.encode_batch(texts)]

    def encode(self, texts: list[str]) -> tuple[np.ndarray, int]:
        """(unit vectors, one row a text, in the order given; the number of tokens read).

        BLAS runs on one thread here: on a busy host OpenBLAS's worker threads spin against each other (a
        short sentence took 3.4 s with two threads and 0.15 s with one, on this project's loaded 2-core
        machine); requests run side by side in the gateway's worker threads instead."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            return self._encode(texts)

    def _encode(self, texts: list[str]) -> tuple[np.ndarray, int]:
        ids = self.tokenize(texts)
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        batch: list[int] = []
        for i in order + [None]:
            # texts of similar length together (little padding), at most BATCH_TOKENS a pass
            if batch and (i is None or len(batch) == BATCH or len(ids[i]) > 1.25 * len(ids[batch[0]]) + 8
                          or (len(batch) + 1) * len(ids[i]) > BATCH_TOKENS):
                out[batch] = self._forward([ids[j] for j in batch])
                batch = []
            if i is not None:
                batch.append(i)
        return out, sum(len(i) for i in ids)

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        w, n, length = self.w, len(batch), max(len(i) for i in batch)
        ids = np.zeros((n, length), dtype=np.int64)
        mask = np.zeros((n, length), dtype=np.float32)
        for row, seq in enumerate(batch):
            ids[row, :len(seq)], mask[row, :len(seq)] = seq, 1.0
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][0]).reshape(n * length, DIM)
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        blocked = ((1.0 - mask) * np.float32(np.finfo(np.float32).min))[:, None, None, :]  # padding gets no attention
        size = DIM // HEADS
        scale = np.float32(1.0 / np.sqrt(size))

        def heads(h: np.ndarray) -> np.ndarray:  # (n*length, DIM) -> (n, HEADS, length, size), contiguous for BLAS
            return np.ascontiguousarray(h.reshape(n, length, HEADS, size).transpose(0, 2, 1, 3))

        for i in range(LAYERS):
            p = f"encoder.layer.{i}."

            def dense(h: np.ndarray, name: str, p=p) -> np.ndarray:  # 2-D products: one BLAS call each
                return h @ w[p + name + ".weight"] + w[p + name + ".bias"]

            q, k, v = (heads(dense(x, f"attention.self.{m}")) for m in ("query", "key", "value"))
            scores = (q * scale) @ np.ascontiguousarray(k.transpose(0, 1, 3, 2)) + blocked
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            ctx = (scores / scores.sum(-1, keepdims=True)) @ v
            ctx = ctx.transpose(0, 2, 1, 3).reshape(n * length, DIM)
            x = _layer_norm(dense(ctx, "attention.output.dense") + x,
                            w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
            inner = _gelu(dense(x, "intermediate.dense"))
            x = _layer_norm(dense(inner, "output.dense") + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        x = x.reshape(n, length, DIM)
        pooled = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
