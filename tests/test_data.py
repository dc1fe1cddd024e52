import hashlib
import os
from pathlib import Path

import pandas as pd
import pytest

from adoptkit import settings
from adoptkit.data import DATASETS, ChecksumError, DataError, SchemaError, citation, fetch, load, verify

MIRROR = os.environ.get("ADOPTKIT_DATA_MIRROR")
needs_mirror = pytest.mark.skipif(not MIRROR, reason="ADOPTKIT_DATA_MIRROR is not set (CI sets it to ../shared/data)")


@pytest.fixture
def kit(tmp_path, monkeypatch):
    """Settings with a private cache, so tests never touch the user's."""
    monkeypatch.setenv("ADOPTKIT_DATA_CACHE", str(tmp_path / "cache"))
    return settings.Settings(root=tmp_path)


def test_catalog_entries_are_complete():
    for d in DATASETS.values():
        assert d.licence and d.attribution and d.source.startswith("https://") and d.columns, d.name
        assert d.files or d.package_loader, d.name
        for f in d.files:
            assert len(f.sha256) == 64 and f.url.startswith("https://"), f.path
        assert d.title in citation(d.name)


@needs_mirror
@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_dataset_loads_typed_with_its_citation(kit, name):
    df = load(name, kit)
    assert len(df) > 100
    for col, kind in DATASETS[name].columns.items():
        dtype = df[col].dtype
        expected = {"number": pd.api.types.is_float_dtype, "integer": pd.api.types.is_integer_dtype,
                    "date": pd.api.types.is_datetime64_any_dtype, "bool": pd.api.types.is_bool_dtype,
                    "category": lambda t: isinstance(t, pd.CategoricalDtype),
                    "text": pd.api.types.is_string_dtype}[kind]
        assert expected(dtype), f"{name}.{col} is {dtype}, want {kind}"
    assert df.attrs["citation"] == citation(name)
    assert verify(name, kit) == []


@needs_mirror
def test_corrupt_mirror_file_is_refused_and_never_cached(kit, tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    src = Path(MIRROR) / "german_credit" / "german.data"
    (mirror / "german_credit").mkdir(parents=True)
    data = bytearray(src.read_bytes())
    data[100] ^= 1  # one flipped bit
    (mirror / "german_credit" / "german.data").write_bytes(bytes(data))
    monkeypatch.setenv("ADOPTKIT_DATA_MIRROR", str(mirror))
    monkeypatch.setattr("adoptkit.data.cache.urllib.request.urlopen",
                        lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    with pytest.raises(ChecksumError) as err:
        fetch("german_credit", kit)
    msg = str(err.value)
    assert "german_credit/german.data" in msg and hashlib.sha256(data).hexdigest() in msg
    assert DATASETS["german_credit"].files[0].sha256 in msg and "Fix:" in msg
    assert verify("german_credit", kit) == ["german_credit/german.data: not cached"]


@needs_mirror
def test_corrupted_cache_is_detected(kit):
    path = fetch("onet_occupations", kit)[0]
    path.write_bytes(path.read_bytes() + b"x")
    assert "sha256" in verify("onet_occupations", kit)[0]
    with pytest.raises(ChecksumError, match="the cache"):
        load("onet_occupations", kit)


def test_no_mirror_and_no_network_says_what_to_do(kit, monkeypatch):
    monkeypatch.delenv("ADOPTKIT_DATA_MIRROR", raising=False)
    monkeypatch.setattr("adoptkit.data.cache.urllib.request.urlopen",
                        lambda *a, **k: (_ for _ in ()).throw(OSError("network unreachable")))
    with pytest.raises(DataError) as err:
        fetch("bank_marketing", kit)
    assert "network unreachable" in str(err.value) and "ADOPTKIT_DATA_MIRROR" in str(err.value)


def _with_override(tmp_path, name, csv: str, rename=None) -> settings.Settings:
    (tmp_path / "export.csv").write_text(csv)
    return settings.parse({"data": {"overrides": {name: {"path": "export.csv", "rename": rename or {}}}}},
                          root=tmp_path)


def test_organisation_export_replaces_a_dataset(tmp_path):
    s = _with_override(tmp_path, "onet_occupations",
                       "code,Title,Description\n1,Sales rep,Sells\n2,Analyst,Analyses\n",
                       rename={"code": "O*NET-SOC Code"})
    df = load("onet_occupations", s)
    assert list(df["Title"]) == ["Sales rep", "Analyst"]
    assert "your organisation's export" in df.attrs["citation"]


def test_export_with_missing_and_mistyped_columns_names_them_and_the_rows(tmp_path):
    csv = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,Country\n" \
          "1,A,Mug,2,2011-01-01,1.5,UK\n2,B,Pen,two,2011-01-02,0.5,UK\n3,C,Cup,3,not a date,1.0,UK\n"
    s = _with_override(tmp_path, "online_retail", csv)
    with pytest.raises(SchemaError) as err:
        load("online_retail", s)
    msg = str(err.value)
    assert "missing column(s): 'CustomerID'" in msg
    assert "'Quantity' should be integer" in msg and "row 2: 'two'" in msg
    assert "'InvoiceDate' should be date" in msg and "row 3: 'not a date'" in msg


def test_database_override(tmp_path):
    import sqlite3

    con = sqlite3.connect(tmp_path / "hr.db")
    con.execute('CREATE TABLE occ ("O*NET-SOC Code" TEXT, Title TEXT, Description TEXT)')
    con.execute("INSERT INTO occ VALUES ('x', 'Recruiter', 'Finds people')")
    con.commit()
    con.close()
    s = settings.parse({"data": {"overrides": {"onet_occupations": {"url": f"sqlite:///{tmp_path}/hr.db", "table": "occ"}}}},
                       root=tmp_path)
    assert load("onet_occupations", s)["Title"].tolist() == ["Recruiter"]
    bad = settings.parse({"data": {"overrides": {"onet_occupations": {"url": f"sqlite:///{tmp_path}/hr.db", "table": "nope"}}}},
                         root=tmp_path)
    with pytest.raises(DataError, match="could not read the override"):
        load("onet_occupations", bad)


def test_missing_export_file(tmp_path):
    s = settings.parse({"data": {"overrides": {"onet_occupations": {"path": "gone.csv"}}}}, root=tmp_path)
    with pytest.raises(DataError, match="does not exist"):
        load("onet_occupations", s)


def test_unknown_dataset_lists_known_ones():
    with pytest.raises(KeyError, match="cfpb_complaints"):
        load("crm_pipeline")
