"""Score tables: the contract (keys, metadata, sidecar, refused cells), embedded tables, files."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from nasbench_tools.errors import NasbenchToolsError, QueryError, ScoreTableError
from nasbench_tools.groundtruth import load
from nasbench_tools.scores import (
    DATASET_IMAGES,
    EMBEDDED_SCORES,
    ScoreTable,
    data_note,
    load_scores,
)
from nasbench_tools.spaces import get_space


@pytest.mark.parametrize("name", sorted(EMBEDDED_SCORES))
def test_every_embedded_table_loads(name):
    t = load_scores(name, dataset="cifar10-valid" if name == "nb201-zc" else None)
    assert len(t) > 0 and t.columns
    assert all(v.dtype == np.float64 and v.shape == (len(t),) for v in t.scores.values())


def test_nb101_zero_cost_duplicates():
    t = load_scores("nb101-zc")
    assert len(t) == 500 and t.n_unique == 292
    assert "val_accuracy" in t.columns and "synflow" in t.columns


def test_nb201_zero_cost_counts():
    assert [
        len(load_scores("nb201-zc", dataset=d))
        for d in ("cifar10-valid", "cifar100", "ImageNet16-120")
    ] == [724, 725, 724]
    with pytest.raises(QueryError, match="pass dataset="):
        load_scores("nb201-zc")


def test_naswot_lookup_against_ground_truth():
    t = load_scores("nb201-naswot")
    assert np.isnan(t["naswot"]).sum() == 341
    y = t.ground_truth(load("nb201"), dataset="cifar10-valid", split="x-valid", epochs=200)
    assert y.shape == (15625,)
    assert t["naswot"][6111] == pytest.approx(-280.3686, abs=1e-4)


def _provenance_free(meta):
    return {k: v for k, v in meta.items() if k not in ("source_path", "source_sha256")}


def test_round_trips(tmp_path):
    t = load_scores("nb101-zc")
    for name in ("z.csv", "z.csv.gz", "z.h5"):
        back = ScoreTable.read(t.write(tmp_path / name))
        assert back.space == "nb101" and back.level == "arch"
        np.testing.assert_array_equal(back.keys, t.keys)
        for c in t.columns:
            np.testing.assert_array_equal(back[c], t[c])
        assert _provenance_free(back.meta) == _provenance_free(t.meta)
        assert back.meta["source_path"] == str(tmp_path / name)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "z.csv",
        "z.csv.gz",
        "z.csv.gz.meta.json",
        "z.csv.meta.json",
        "z.h5",
    ]


def test_arch_string_keys_and_errors(tmp_path):
    p = tmp_path / "s.csv"
    pd.DataFrame(
        {"arch_str": ["|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"], "score": [1.0]}
    ).to_csv(p, index=False)
    t = ScoreTable.read(p)
    assert t.space == "nb201" and t.keys.tolist() == [load("nb201").archs.keys[0] * 0 + t.keys[0]]
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"name": ["a"], "score": [1.0]}).to_csv(bad, index=False)
    with pytest.raises(NasbenchToolsError, match="needs a key column"):
        ScoreTable.read(bad)
    with pytest.raises(QueryError, match="no column 'nope'"):
        t["nope"]
    with pytest.raises(NasbenchToolsError, match="missing.csv: no such score table"):
        ScoreTable.read(tmp_path / "missing.csv")


@pytest.mark.parametrize(
    ("dataset", "suite_name"),
    [("cifar10-valid", "cifar10"), ("cifar100", "cifar100"), ("ImageNet16-120", "ImageNet16-120")],
)
def test_zc_failure_sentinels_become_nan_with_counts(dataset, suite_name):
    # the defect: NASLib's -1e8 ("the proxy came out NaN or inf") entered correlations as a score
    from nasbench_tools.groundtruth.formats.embedded_csv import embedded_path

    raw = pd.read_csv(embedded_path("nb201_zc_suite_zero_725archs.csv.gz"))
    raw = raw[raw.dataset == suite_name].reset_index(drop=True)
    t = load_scores("nb201-zc", dataset=dataset)
    kept = load_scores("nb201-zc", dataset=dataset, sentinels="keep")
    sent = t.meta["sentinels"]
    assert sent["policy"] == "exclude" and kept.meta["sentinels"]["policy"] == "keep"
    for p in t.meta["proxies"]:
        hit = (raw[p] == -1e8).to_numpy()
        assert sent["counts"][p] == kept.meta["sentinels"]["counts"][p] == hit.sum()
        assert np.isnan(t[p][hit]).all() and not np.isnan(t[p][~hit]).any()
        np.testing.assert_array_equal(t[p][~hit], raw[p].to_numpy()[~hit])
        np.testing.assert_array_equal(kept[p], raw[p].to_numpy())
    nonzero = {p: n for p, n in sent["counts"].items() if n}
    assert nonzero == {"jacov": 1, "epe_nas": 9 if dataset == "ImageNet16-120" else 1}
    # nwot = -inf (a singular kernel's log-determinant) is a real, lowest score: kept, counted
    assert t.meta["infinite"]["nwot"] == 1 and np.isneginf(t["nwot"]).sum() == 1


def test_nb101_zc_has_no_sentinels_and_bad_policy_is_refused():
    t = load_scores("nb101-zc")
    assert set(t.meta["sentinels"]["counts"].values()) == {0}
    with pytest.raises(NasbenchToolsError, match="sentinels must be one of"):
        load_scores("nb101-zc", sentinels="drop")


# ----------------------------------------------------------------------------- the contract
NB201_BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"

META = {
    "label": "myproxy",
    "source": "runs/proxy-7 @ commit abc123",
    "negated": ["neg_loss"],
    "data": "fashion-mnist",
    "target": {"dataset": "cifar10-valid", "split": "x-valid", "epochs": 200},
    "producer": {"batch_size": 64, "seeds": [0, 1]},
}


def _table(meta=META):
    return ScoreTable(
        "nb201",
        [6111, 0, 15624],
        {"score": [0.5, np.nan, -np.inf], "neg_loss": [-1.0, -2.5, -0.125]},
        dict(meta),
    )


@pytest.mark.parametrize("name", ["t.csv", "t.csv.gz", "t.h5"])
def test_csv_metadata_survives_a_round_trip(tmp_path, name):
    # the defect: ScoreTable.write dropped every metadata key from a CSV
    t = _table()
    back = ScoreTable.read(t.write(tmp_path / name))
    assert _provenance_free(back.meta) == META
    assert back.space == "nb201" and back.keys.tolist() == [6111, 0, 15624]
    for c in t.columns:
        np.testing.assert_array_equal(back[c], t[c])


def test_sidecar_is_plain_documented_json(tmp_path):
    path = _table().write(tmp_path / "t.csv")
    side = json.loads((tmp_path / "t.csv.meta.json").read_text())
    assert side["format"] == "nasbench_tools.scores" and side["format_version"] == 1
    assert (side["space"], side["level"]) == ("nb201", "arch")
    assert side["csv_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert {k: side[k] for k in META} == META
    assert pd.read_csv(path).columns.tolist() == ["index", "score", "neg_loss"]


def test_sidecar_of_another_version_of_the_csv_is_refused(tmp_path):
    path = _table().write(tmp_path / "t.csv")
    path.write_text(path.read_text().replace("6111", "6112"))
    with pytest.raises(ScoreTableError, match=r"t\.csv\.meta\.json: describes another version"):
        ScoreTable.read(path)


def test_hand_written_sidecar_is_read(tmp_path):
    p = tmp_path / "mine.csv"
    p.write_text("index,notes,synflow\n6111,the best,3.5\n0,,1.25\n")
    sidecar = {"space": "nb201", "data": "none", "text_columns": ["notes"], "source": "me"}
    (tmp_path / "mine.csv.meta.json").write_text(json.dumps(sidecar))
    t = ScoreTable.read(p)
    assert t.columns == ["synflow"] and t.keys.tolist() == [6111, 0]
    assert t.meta["data"] == "none" and t.meta["label"] == "mine" and t.meta["source"] == "me"
    assert "text_columns" not in t.meta and "space" not in t.meta


def test_non_numeric_cell_is_refused_naming_file_row_and_column(tmp_path):
    # the defect: a score column with one non-numeric cell was silently dropped
    p = tmp_path / "s.csv"
    p.write_text("index,a,b\n0,1.0,2.0\n1,2.0,n/a\n2,3.0,4.0\n")
    with pytest.raises(ScoreTableError) as err:
        ScoreTable.read(p, space="nb201")
    msg = str(err.value)
    assert str(p) in msg and "row 2 (line 3)" in msg and "column 'b'" in msg and "'n/a'" in msg
    assert "text_columns" in msg


def test_non_numeric_cell_row_counts_rows_of_the_whole_file(tmp_path):
    # rows of another dataset come first: the row named is still the file's
    p = tmp_path / "s.csv"
    p.write_text("dataset,index,a\nc100,0,1\nc100,1,2\ncifar10-valid,0,3\ncifar10-valid,1,x\n")
    with pytest.raises(ScoreTableError, match=r"row 4 \(line 5\), column 'a': 'x'"):
        ScoreTable.read(p, dataset="cifar10-valid", space="nb201")
    assert ScoreTable.read(p, dataset="c100", space="nb201")["a"].tolist() == [1.0, 2.0]


def test_empty_nan_and_inf_cells_are_numbers(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("index,a\n0,\n1,nan\n2,inf\n3,-inf\n4,1e-3\n")
    a = ScoreTable.read(p, space="nb201")["a"]
    assert np.isnan(a[:2]).all() and a[2] == np.inf and a[3] == -np.inf and a[4] == 0.001


def test_known_descriptive_columns_need_no_declaration():
    t = load_scores("nb101-zc")  # holds ops and matrix_7x7_rowmajor text columns
    assert "ops" not in t.columns and "matrix_7x7_rowmajor" not in t.columns


@pytest.mark.parametrize(
    ("meta", "match"),
    [
        ({"data": "cifar-10"}, "'data' is 'cifar-10'; expected one of cifar10, cifar100"),
        ({"negated": ["nope"]}, "'negated' lists"),
        ({"negated": "score"}, "'negated' must be a list"),
        ({"target": {"split": "x-valid"}}, "'target' must be a mapping with a 'dataset'"),
        ({"target": {"dataset": "cifar10-valid", "epochs": "200"}}, "'epochs' must be a positive"),
        ({"target": {"dataset": "cifar10-valid", "seed": 777}}, "may hold dataset, split, epochs"),
        ({"label": ""}, "'label' must be a non-empty string"),
        ({"source": 3}, "'source' must be a non-empty string"),
        ({"space": "nb201"}, "belongs to the file"),
    ],
)
def test_bad_metadata_is_refused(meta, match):
    with pytest.raises(ScoreTableError, match=match):
        ScoreTable("nb201", [0], {"score": [1.0]}, meta)


def test_bad_sidecar_metadata_names_the_sidecar(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("index,a\n0,1\n")
    side = tmp_path / "s.csv.meta.json"
    side.write_text(json.dumps({"space": "nb201", "data": "mnist"}))
    with pytest.raises(ScoreTableError, match=r"s\.csv\.meta\.json: 'data' is 'mnist'"):
        ScoreTable.read(p)
    side.write_text("{not json")
    with pytest.raises(ScoreTableError, match=r"s\.csv\.meta\.json: not a readable JSON"):
        ScoreTable.read(p)
    side.write_text(json.dumps({"space": "nb201", "format_version": 2}))
    with pytest.raises(ScoreTableError, match="format_version 2"):
        ScoreTable.read(p)
    side.write_text(json.dumps({"space": "nb101"}))
    with pytest.raises(ScoreTableError, match="sidecar says space 'nb101'"):
        ScoreTable.read(p, space="nb201")


def test_index_keys_fit_two_spaces_and_need_the_space(tmp_path):
    # 'index' keys both NB201 and NATS-sss: the space is said, never guessed
    p = tmp_path / "s.csv"
    p.write_text("index,a\n0,1\n1,2\n")
    with pytest.raises(ScoreTableError, match=r"s\.csv: the key columns fit several search"):
        ScoreTable.read(p)
    assert ScoreTable.read(p, space="nats-sss").space == "nats-sss"
    assert load_scores(p, space="nb201").space == "nb201"


def test_arch_strings_settle_the_space_by_their_notation(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("arch_str,a\n8:8:16:40:40,1\n8:8:8:8:8,2\n")
    t = ScoreTable.read(p)
    assert t.space == "nats-sss" and t.keys.tolist() == [100, 0]
    p.write_text(f"arch_str,a\n{NB201_BEST},1\n")
    assert ScoreTable.read(p).keys.tolist() == [6111]


def test_key_columns_must_agree_row_by_row(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text(f"index,arch_str,a\n6111,{NB201_BEST},1\n6112,{NB201_BEST},2\n")
    with pytest.raises(ScoreTableError, match=r"row 2 \(line 3\): column 'index' gives key 6112"):
        ScoreTable.read(p, space="nb201")


@pytest.mark.parametrize("cell", ["15625", "-1", "3.5", "abc", ""])
def test_a_bad_key_names_file_row_and_column(tmp_path, cell):
    p = tmp_path / "s.csv"
    p.write_text(f"index,a\n0,1\n{cell},2\n")
    with pytest.raises(ScoreTableError, match=r"s\.csv: row 2 \(line 3\), column 'index'"):
        ScoreTable.read(p, space="nb201")


def test_keys_given_in_memory_are_checked_not_truncated():
    with pytest.raises(ScoreTableError, match=r"int indices 0\.\.15624; got 3\.5"):
        ScoreTable("nb201", np.array([3.5]), {"a": [1.0]})
    with pytest.raises(ScoreTableError, match="32-hex-digit hashes; got 'zz'"):
        ScoreTable("nb101", ["zz"], {"a": [1.0]})


def test_every_file_error_names_the_file(tmp_path):
    cases = {
        "nokey.csv": "name,a\nx,1\n",
        "notext.csv": "index,a\n0,hello\n",
        "noscore.csv": "index,ops\n0,a\n",
        "binary.csv": "\x00\x01\x02",
    }
    for name, text in cases.items():
        p = tmp_path / name
        p.write_text(text)
        with pytest.raises(NasbenchToolsError, match=str(p)):
            ScoreTable.read(p, space="nb201")
    h5 = tmp_path / "foreign.h5"
    import h5py

    with h5py.File(h5, "w") as f:
        f.attrs["format"] = "nasbench_tools.scores"  # but no keys, no space
    with pytest.raises(ScoreTableError, match="foreign.h5: not a readable score table"):
        ScoreTable.read(h5)


# ----------------------------------------------------------------------------- operator tables
def _operator_frame():
    space = get_space("nb201")
    pairs = space.operators()
    return pd.DataFrame(
        {
            "edge": [e for e, _ in pairs],
            "op": [o for _, o in pairs],
            "alpha": np.linspace(-1, 1, len(pairs)),
        }
    )


def test_nb201_operators_are_its_edges_times_its_ops():
    from nasbench_tools.spaces.nb201 import EDGES, OPS

    pairs = get_space("nb201").operators()
    assert len(pairs) == len(set(pairs)) == 30
    assert {e for e, _ in pairs} == {f"{a}->{b}" for a, b in EDGES} and {
        o for _, o in pairs
    } == set(OPS)
    assert get_space("nb101").operators() is None


@pytest.mark.parametrize("name", ["ops.csv", "ops.h5"])
def test_operator_table_round_trip(tmp_path, name):
    df = _operator_frame()
    t = ScoreTable.from_frame(df, meta={"label": "darts", "data": "cifar10"})
    assert (t.level, t.space, len(t)) == ("operator", "nb201", 30)
    assert t.operators()[0] == ("0->1", "none")
    back = ScoreTable.read(t.write(tmp_path / name))
    assert back.level == "operator" and back.operators() == t.operators()
    np.testing.assert_array_equal(back["alpha"], df["alpha"].to_numpy())
    with pytest.raises(QueryError, match="needs a arch-level table"):
        back.ground_truth(load("nb201"), dataset="cifar10-valid", split="x-valid", epochs=200)


@pytest.mark.parametrize(
    ("edge", "op", "match"),
    [
        ("1->0", "none", "is not an \\(edge, op\\) pair of nb201"),
        ("0", "none", "edges are written 'src->dst'"),
        ("0->1", "conv3x3-bn-relu", "ops are avg_pool_3x3"),
    ],
)
def test_operator_keys_are_checked_against_the_space(tmp_path, edge, op, match):
    df = _operator_frame()
    df.loc[4, ["edge", "op"]] = [edge, op]
    p = tmp_path / "ops.csv"
    df.to_csv(p, index=False)
    with pytest.raises(ScoreTableError, match=rf"ops\.csv: row 5 \(line 6\): .*{match}"):
        ScoreTable.read(p)


def test_operator_pairs_appear_once():
    df = _operator_frame()
    df.loc[1, "op"] = "none"
    with pytest.raises(ScoreTableError, match=r"\('0->1', 'none'\) appears more than once"):
        ScoreTable.from_frame(df)


# ----------------------------------------------------------------------------- embedded tables
@pytest.mark.parametrize(
    ("name", "dataset"),
    [(n, d) for n in sorted(EMBEDDED_SCORES) for d in EMBEDDED_SCORES.get(n).sections],
)
def test_every_embedded_section_is_named_and_described_by_the_benchmark(name, dataset):
    t = load_scores(name, dataset=dataset)
    assert t.meta["dataset"] == dataset and t.meta["target"]["dataset"] == dataset
    assert t.meta["label"] == name and t.meta["negated"] == [] and t.meta["source"]
    # every embedded table was computed on the images of its own section's dataset
    assert t.meta["data"] == DATASET_IMAGES[dataset]
    assert data_note(t.meta, dataset) is None


def test_zc_section_is_selected_by_the_benchmark_name_the_report_uses():
    # the defect: load_scores("nb201-zc", dataset="cifar10-valid") failed while the report
    # titled that section cifar10-valid; the suite's own name 'cifar10' is not the benchmark's
    t = load_scores("nb201-zc", dataset="cifar10-valid")
    assert t.meta["target"] == {"dataset": "cifar10-valid", "split": "ori-test", "epochs": 200}
    with pytest.raises(QueryError, match="pass dataset='cifar10-valid'"):
        load_scores("nb201-zc", dataset="cifar10")
    with pytest.raises(QueryError, match="no section 'cifar100'.*cifar10-valid"):
        load_scores("nb201-naswot", dataset="cifar100")


def test_unknown_name_is_neither_embedded_nor_a_file():
    with pytest.raises(ScoreTableError, match="'nb201-zcc' is neither an embedded score table"):
        load_scores("nb201-zcc")


def test_embedded_tables_use_the_registry():
    from nasbench_tools.registry import get_registry

    assert get_registry("embedded score table") is EMBEDDED_SCORES
    assert EMBEDDED_SCORES.names() == ["nb101-zc", "nb201-naswot", "nb201-zc"]


# ----------------------------------------------------------------------------- data notes
@pytest.mark.parametrize(
    ("data", "dataset", "expected"),
    [
        ("cifar10", "cifar10-valid", None),
        ("cifar10", "cifar10", None),
        ("none", "cifar100", None),
        ("cifar10", "cifar100", "a transfer question"),
        ("fashion-mnist", "cifar10-valid", "Fashion-MNIST images, ranked against cifar10-valid"),
        ("digits", "ImageNet16-120", "a transfer question"),
        (None, "cifar10-valid", "does not say which images"),
    ],
)
def test_data_note_warns_when_the_images_differ(data, dataset, expected):
    meta = {"label": "p"} if data is None else {"label": "p", "data": data}
    note = data_note(meta, dataset)
    assert (note is None) if expected is None else (expected in note and note.startswith("p: "))


def test_operator_keys_given_in_memory_are_checked():
    with pytest.raises(ScoreTableError, match=r"\('0->1', 'conv3x3'\) is not an \(edge, op\) pair"):
        ScoreTable("nb201", [("0->1", "conv3x3")], {"a": [1.0]}, level="operator")
    with pytest.raises(ScoreTableError, match="space 'nb101' has no \\(edge, op\\) operators"):
        ScoreTable("nb101", [("0->1", "none")], {"a": [1.0]}, level="operator")
    with pytest.raises(ScoreTableError, match="level must be one of"):
        ScoreTable("nb201", [0], {"a": [1.0]}, level="edge")


def test_a_written_file_does_not_claim_the_source_it_was_read_from(tmp_path):
    first = ScoreTable.read(_table().write(tmp_path / "a.csv"))
    assert first.meta["source_path"] == str(tmp_path / "a.csv")
    first.write(tmp_path / "b.csv")
    side = json.loads((tmp_path / "b.csv.meta.json").read_text())
    assert "source_path" not in side and "source_sha256" not in side
    second = ScoreTable.read(tmp_path / "b.csv")
    assert second.meta["source_path"] == str(tmp_path / "b.csv")
    assert (
        second.meta["source_sha256"]
        == hashlib.sha256((tmp_path / "b.csv").read_bytes()).hexdigest()
    )


def test_gzip_bomb_is_refused_before_it_expands(tmp_path, monkeypatch):
    import gzip

    from nasbench_tools import scores
    from nasbench_tools.errors import ResourceLimitError

    monkeypatch.setattr(scores, "_MIN_BOUND", 1000)  # the floor, lowered so the file stays tiny
    p = tmp_path / "bomb.csv.gz"
    p.write_bytes(gzip.compress(b"index,a\n" + b"0,1\n" * 200_000))
    with pytest.raises(ResourceLimitError, match=r"bomb\.csv\.gz: decompresses to more than"):
        ScoreTable.read(p, space="nb201")
    ok = tmp_path / "ok.csv.gz"
    ok.write_bytes(gzip.compress(b"index,a\n0,1\n1,2\n"))
    assert ScoreTable.read(ok, space="nb201")["a"].tolist() == [1.0, 2.0]


def test_hdf5_array_larger_than_its_file_allows_is_refused(tmp_path, monkeypatch):
    import h5py

    from nasbench_tools import scores
    from nasbench_tools.errors import ResourceLimitError

    monkeypatch.setattr(scores, "_MIN_BOUND", 1000)
    p = tmp_path / "big.h5"
    with h5py.File(p, "w") as f:
        f.attrs["format"] = "nasbench_tools.scores"
        f.attrs["space"] = "nb201"
        f["keys"] = np.zeros(4, dtype=np.int64)
        # a compressed dataset that declares ~8 MB of zeros in a file of a few kB
        f.create_dataset("scores/a", shape=(1_000_000,), dtype="f8", compression="gzip")
    with pytest.raises(ResourceLimitError, match=r"big\.h5: dataset /scores/a declares 8,000,000"):
        ScoreTable.read(p)
