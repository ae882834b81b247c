"""Files decoded ahead of their use are what the run would have decoded, or nothing."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
from PIL import Image

from dfcore.errors import InputError
from dfcore.io import decode
from dfcore.io.readahead import ReadAhead


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for index in range(4):
        path = tmp_path / f"{index}.png"
        Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def _finished(ahead: ReadAhead) -> None:
    ahead._thread.join(timeout=30)
    assert not ahead._thread.is_alive()


def test_files_are_served_once_as_read_file_decodes_them(files):
    with ReadAhead(files) as ahead:
        _finished(ahead)
        for path in files:
            array, info = decode.read_image(path)
            expected, expected_info = decode.read_file(path)
            np.testing.assert_array_equal(array, expected)
            assert info == expected_info
        assert ahead.served == len(files)
        decode.read_image(files[0])  # a second time: read from the file
        assert ahead.served == len(files)
    assert decode._ahead is None


def test_a_file_changed_after_it_was_read_is_read_again(files):
    with ReadAhead(files[:1]) as ahead:
        _finished(ahead)
        Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(files[0])
        stat = os.stat(files[0])
        os.utime(files[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        array, _ = decode.read_image(files[0])
        assert ahead.served == 0
    assert not array.any()


def test_a_file_asked_for_before_it_was_begun_is_left_to_the_caller(files, monkeypatch):
    gate = threading.Event()
    read = ReadAhead._read
    begun = []

    def slow_read(self, path, room):
        begun.append(path)
        gate.wait(30)
        return read(self, path, room)

    monkeypatch.setattr(ReadAhead, "_read", slow_read)
    with ReadAhead(files) as ahead:
        assert decode.read_image(files[3])[0].shape == (20, 30, 3)  # the thread is still on the first
        gate.set()
        _finished(ahead)
        for path in files[:3]:
            decode.read_image(path)
    assert os.fspath(files[3]) not in begun
    assert ahead.served == 3


def test_the_budget_bounds_what_is_held(files):
    one = 20 * 30 * 3 * 4
    with ReadAhead(files, budget=2 * one) as ahead:
        _finished(ahead)  # it stops once the budget is spent
        held = [entry.result() for entry in ahead._entries.values()]
        assert sum(found is not None for found in held) == 2
        assert os.fspath(files[3]) not in ahead._entries
        for path in files:
            decode.read_image(path)
        assert ahead.served == 2


def test_a_bad_file_is_left_for_the_run_to_report(files, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    missing = tmp_path / "missing.png"
    with ReadAhead([broken, missing, *files]) as ahead:
        _finished(ahead)
        with pytest.raises(InputError, match="not an image Pillow can read"):
            decode.read_image(broken)
        with pytest.raises(InputError, match="no such file"):
            decode.read_image(missing)
        decode.read_image(files[0])
        assert ahead.served == 1


def test_closing_stops_serving_and_drops_what_is_held(files):
    ahead = ReadAhead(files)
    ahead.start()
    _finished(ahead)
    ahead.close()
    assert decode._ahead is None and not ahead._entries
    decode.read_image(files[0])
    assert ahead.served == 0
