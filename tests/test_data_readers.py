"""read_csv, read_npz and read_idx on small files written here, good and bad."""

import gzip

import numpy as np
import pytest

from descent.data import read_csv, read_csv_features, read_idx, read_npz


def write(path, text):
    path.write_text(text)
    return path


# -- CSV ------------------------------------------------------------------------


def test_csv_reads_features_and_integer_target(tmp_path):
    path = write(tmp_path / "d.csv", "a,b,label\n1,2.5,0\n3,4,1\n\n5,6,2\n")
    ds = read_csv(path, target="label")
    assert ds.features.dtype == np.float32
    np.testing.assert_array_equal(ds.features, [[1, 2.5], [3, 4], [5, 6]])
    assert ds.targets.tolist() == [0, 1, 2] and ds.targets.dtype == np.int64
    assert ds.task == "classification" and ds.num_classes == 3
    assert ds.feature_names == ["a", "b"]


def test_csv_float_target_is_regression_and_text_labels_are_classes(tmp_path):
    ds = read_csv(write(tmp_path / "r.csv", "x,y\n1,0.5\n2,1.5\n"), target="y")
    assert ds.task == "regression" and ds.targets.shape == (2, 1)
    ds = read_csv(write(tmp_path / "c.csv", "x,kind\n1,dog\n2,cat\n3,dog\n"), target="kind")
    assert ds.class_names == ["cat", "dog"] and ds.targets.tolist() == [1, 0, 1]


def test_csv_non_numeric_cell_names_row_and_column(tmp_path):
    path = write(tmp_path / "d.csv", "a,b,label\n1,2,0\n3,oops,1\n")
    with pytest.raises(ValueError, match=r"row 3, column 'b': 'oops'"):
        read_csv(path, target="label")


@pytest.mark.parametrize("cell", ["", "nan", "inf"])
def test_csv_missing_or_non_finite_cell_names_row_and_column(tmp_path, cell):
    path = write(tmp_path / "d.csv", f"a,b,label\n1,2,0\n3,4,1\n{cell},6,1\n")
    with pytest.raises(ValueError, match=r"row 4, column 'a'"):
        read_csv(path, target="label")


def test_csv_empty_file(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        read_csv(write(tmp_path / "e.csv", ""), target="y")
    with pytest.raises(ValueError, match="no data rows"):
        read_csv(write(tmp_path / "h.csv", "x,y\n"), target="y")


def test_csv_missing_target_lists_the_columns(tmp_path):
    with pytest.raises(ValueError, match=r"\['a', 'b'\]"):
        read_csv(write(tmp_path / "d.csv", "a,b\n1,2\n"), target="label")


def test_csv_ragged_row_is_named(tmp_path):
    with pytest.raises(ValueError, match="row 3 has 2 cells"):
        read_csv(write(tmp_path / "d.csv", "a,b,y\n1,2,0\n3,1\n"), target="y")


@pytest.mark.parametrize(
    "labels, task, message",
    [
        ("0 1 -1", None, r"row 4, column 'y': label -1 is negative"),
        ("0 1.5 1", "classification", r"row 3, column 'y': label 1.5 is not a whole number"),
        ("0 1 20000", None, r"column 'y' would make 20001 classes \(3 distinct labels"),
    ],
)
def test_csv_labels_that_cannot_be_classes_are_named(tmp_path, labels, task, message):
    text = "a,y\n" + "".join(f"{i},{label}\n" for i, label in enumerate(labels.split()))
    with pytest.raises(ValueError, match=message):
        read_csv(write(tmp_path / "d.csv", text), task=task)


def test_csv_fractional_labels_regress_unless_told_otherwise(tmp_path):
    path = write(tmp_path / "d.csv", "a,y\n1,0\n2,1.5\n")
    assert read_csv(path).task == "regression"


def test_csv_not_utf8_names_the_byte_and_its_offset(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b"a,y\n1,0\n" * 2000 + "2,caf\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"byte 0xe9 at byte offset 16005 \(line 4001\)"):
        read_csv(path)


# -- NPZ ------------------------------------------------------------------------


def test_npz_reads_named_arrays(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.ones((4, 3)), y=np.array([0, 1, 1, 0]))
    ds = read_npz(path)
    assert ds.features.shape == (4, 3) and ds.task == "classification"
    with pytest.raises(ValueError, match=r"\['x', 'y'\]"):
        read_npz(path, features_key="images")


def test_npz_labels_that_make_too_many_classes_are_refused(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.ones((3, 2)), y=np.array([0, 1, 10**9]))
    with pytest.raises(ValueError, match="array 'y' would make 1000000001 classes"):
        read_npz(path)


def test_npz_with_object_array_is_refused_never_unpickled(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, x=np.array([{"a": 1}, None], dtype=object), y=np.array([0, 1]))
    with pytest.raises(ValueError, match="never unpickles"):
        read_npz(path)


def test_a_pickle_file_renamed_npz_is_refused(tmp_path):
    path = tmp_path / "pickle.npz"
    path.write_bytes(b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01.")  # pickle of 1
    with pytest.raises(ValueError, match="not a readable .npz"):
        read_npz(path)


# -- IDX ------------------------------------------------------------------------


def idx_bytes(array, code):
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


IMAGES = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)


@pytest.mark.parametrize("gzipped", [False, True])
def test_idx_round_trip_raw_and_gzipped(tmp_path, gzipped):
    data = idx_bytes(IMAGES, 0x08)
    path = tmp_path / "images.idx"
    path.write_bytes(gzip.compress(data) if gzipped else data)
    np.testing.assert_array_equal(read_idx(path), IMAGES)


def test_idx_big_endian_floats_come_back_native(tmp_path):
    values = np.linspace(-1, 1, 6).reshape(2, 3)
    path = tmp_path / "f.idx"
    path.write_bytes(idx_bytes(values, 0x0E))
    out = read_idx(path)
    assert out.dtype == np.float64 and out.dtype.isnative
    np.testing.assert_array_equal(out, values)


@pytest.mark.parametrize("gzipped", [False, True])
def test_idx_truncated_is_a_clear_error(tmp_path, gzipped):
    data = idx_bytes(IMAGES, 0x08)[:-5]
    path = tmp_path / "t.idx"
    path.write_bytes(gzip.compress(data) if gzipped else data)
    with pytest.raises(ValueError, match="truncated.*24 data bytes.*19"):
        read_idx(path)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x00", "too short"),
        (b"\x01\x02\x08\x01" + b"\x00" * 8, "not an IDX file"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x00", "type code 0x07"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x01", "truncated IDX header"),
        (idx_bytes(IMAGES, 0x08) + b"\x00", "longer than its header"),
        (gzip.compress(idx_bytes(IMAGES, 0x08))[:-12], "gzip"),
        (b"\x00\x00\x08\x02\xff\xff\xff\xff\xff\xff\xff\xff\x00", "truncated"),
    ],
)
def test_idx_bad_headers_and_sizes(tmp_path, data, message):
    path = tmp_path / "bad.idx"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=message):
        read_idx(path)


def test_csv_target_defaults_to_the_last_column_even_when_quoted(tmp_path):
    path = tmp_path / "flowers.csv"
    path.write_text('"petal length","petal width","species, latin"\n1.0,0.2,setosa\n4.5,1.5,vir\n')
    data = read_csv(path)
    assert data.feature_names == ["petal length", "petal width"]
    assert data.class_names == ["setosa", "vir"] and list(data.targets) == [0, 1]


def test_csv_without_a_header_is_refused(tmp_path):
    path = tmp_path / "bare.csv"
    path.write_text("1,2,3\n0,0,1\n")
    with pytest.raises(ValueError, match="looks like data, not a header"):
        read_csv(path)
    with pytest.raises(ValueError, match="looks like data, not a header"):
        read_csv_features(path)
