"""The Python inside an image, found without running it: interpreter, version, prefix, virtual environment,
standard library, site directories, built-in module names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deploycheck.artifact.image.errors import ImageError
from deploycheck.artifact.image.files import ImageFiles
from deploycheck.artifact.image.source import open_image
from deploycheck.environment.image_python import interpreter
from test_image_layers import _tar, oci_layout

DEBIAN_PY = "/usr/bin/python3.11"


def _image(tmp_path, members, config=None):
    root = tmp_path / "layout"
    oci_layout(root, [_tar(members)], config=config)
    return ImageFiles(open_image(f"oci:{root}"))


@pytest.mark.skipif(not os.path.exists(DEBIAN_PY), reason="needs Debian's python3.11 binary")
def test_debian_layout_with_the_real_interpreter_binary(tmp_path):
    binary = open(DEBIAN_PY, "rb").read()
    dynload = sorted(os.listdir("/usr/lib/python3.11/lib-dynload"))[0]
    files = _image(tmp_path, [
        ("usr/bin/python3.11", "file", binary), ("usr/bin/python3", "sym", "python3.11"),
        ("usr/lib/python3.11/os.py", "file", b"import sys\n"),
        (f"usr/lib/python3.11/lib-dynload/{dynload}", "file", b"\x7fELF"),
        ("usr/lib/python3/dist-packages/", "dir", None),
        ("usr/local/lib/python3.11/dist-packages/", "dir", None),
    ], config={"Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "PYTHONPATH=/srv/extra"]})
    try:
        py = interpreter(files, files.image.config)
    finally:
        files.close()
    # the patch version is read from the binary; the binary itself, run on the host, is the oracle
    real = subprocess.run([DEBIAN_PY, "-I", "-S", "-c", "import sys; print(*sys.version_info[:3])"],
                          capture_output=True, text=True, check=True).stdout.split()
    assert py.executable == "/usr/bin/python3" and py.version == tuple(map(int, real))
    assert py.stdlib == "/usr/lib/python3.11"
    assert py.path == ["/srv/extra", "/usr/lib/python3.11", "/usr/lib/python3.11/lib-dynload"]
    assert py.site_packages == ["/usr/local/lib/python3.11/dist-packages", "/usr/lib/python3/dist-packages"]
    # Debian builds these into the binary; the probe of the same binary on the host agrees
    host = set(sys.builtin_module_names) if sys.executable.startswith("/usr/bin") else None
    assert {"sys", "_socket", "math", "_io", "posix"} <= py.builtin_modules
    assert host is None or host <= py.builtin_modules
    assert py.extension_suffixes[0] == ".cpython-311-x86_64-linux-gnu.so"


def test_python_org_layout_with_a_virtual_environment(tmp_path):
    files = _image(tmp_path, [
        ("usr/local/bin/python3.12", "file", b"\x7fELF...Py_Main"),
        ("usr/local/lib/libpython3.12.so.1.0", "file", b"\x00PyInit_math\x00PyInit__socket\x00PyInit_zlib\x00"),
        ("usr/local/lib/python3.12/os.py", "file", b"import sys\n"),
        ("usr/local/lib/python3.12/lib-dynload/_ssl.cpython-312-x86_64-linux-gnu.so", "file", b"\x7fELF"),
        ("usr/local/lib/python3.12/site-packages/", "dir", None),
        ("opt/venv/bin/python", "sym", "/usr/local/bin/python3.12"),
        ("opt/venv/pyvenv.cfg", "file", b"home = /usr/local/bin\ninclude-system-site-packages = false\nversion = 3.12.7\n"),
        ("opt/venv/lib/python3.12/site-packages/flask/__init__.py", "file", b""),
    ], config={"Env": ["PATH=/opt/venv/bin:/usr/local/bin:/usr/bin"], "Cmd": ["python", "-m", "app"]})
    try:
        py = interpreter(files, files.image.config, program="python")
    finally:
        files.close()
    assert py.executable == "/opt/venv/bin/python" and py.version[:2] == (3, 12)
    assert py.prefix == "/opt/venv" and py.base_prefix == "/usr/local" and py.in_venv
    assert py.site_packages == ["/opt/venv/lib/python3.12/site-packages"]
    assert {"math", "_socket", "zlib", "sys"} <= py.builtin_modules
    assert py.extension_suffixes[0] == ".cpython-312-x86_64-linux-gnu.so"


def test_image_without_python(tmp_path):
    files = _image(tmp_path, [("bin/sh", "file", b"\x7fELF")], config={"Env": ["PATH=/bin"]})
    try:
        with pytest.raises(ImageError, match="no Python interpreter"):
            interpreter(files, files.image.config)
    finally:
        files.close()


def _table(minor):
    from deploycheck.environment.builtin_names import module_names

    return module_names(3, minor)


@pytest.mark.skipif(not os.path.exists(DEBIAN_PY), reason="needs Debian's python3.11 binary")
def test_names_of_built_in_and_extension_modules_come_from_the_table(tmp_path):
    files = _image(tmp_path, [
        ("usr/bin/python3.11", "file", Path(DEBIAN_PY).read_bytes()), ("usr/bin/python3", "sym", "python3.11"),
        ("usr/lib/python3.11/os.py", "file", b"import sys\n"),
        ("usr/lib/python3.11/lib-dynload/_json.cpython-311-x86_64-linux-gnu.so", "file", b"\x7fELF"),
        ("usr/lib/python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so", "file", b"\x7fELF"),
        # built for another version: the extension finder of 3.11 does not look for this name
        ("usr/lib/python3.11/lib-dynload/_queue.cpython-310-x86_64-linux-gnu.so", "file", b"\x7fELF"),
    ], config={"Env": ["PATH=/usr/bin"]})
    try:
        py = interpreter(files, files.image.config)
    finally:
        files.close()
    # the oracle: Debian's interpreter, run on the host, for the modules it builds in and the one extension
    measure = ("import sys, json; names = [n for n in sys.builtin_module_names] + ['_json']; "
               "print(json.dumps({n: sorted(a for a in dir(__import__(n)) if not a.startswith('__')) for n in names}))")
    real = json.loads(subprocess.run([DEBIAN_PY, "-I", "-S", "-c", measure], capture_output=True, text=True,
                                     check=True).stdout)
    table = _table(11)
    assert py.builtin_attrs_from_table
    assert set(py.builtin_attrs) == set(real) & set(table)
    assert {"itertools", "math", "_datetime", "_functools", "_json"} <= set(py.builtin_attrs)
    assert not {"_ssl", "_queue", "posix", "_socket", "time"} & set(py.builtin_attrs)
    for name, names in py.builtin_attrs.items():
        assert names == set(real[name]), name
    assert "pairwise" in py.builtin_attrs["itertools"] and "batched" not in py.builtin_attrs["itertools"]


# the table's modules that every CPython builds in, then those this image has
ALWAYS = {"_io", "_warnings", "_weakref", "marshal"}


@pytest.mark.parametrize("abi, expected", [("cpython-313", ALWAYS | {"math", "_json"}), ("cpython-313t", set()),
                                           ("cpython-313d", set())])
def test_no_table_for_debug_and_free_threaded_builds(tmp_path, abi, expected):
    files = _image(tmp_path, [
        ("usr/local/bin/python3.13", "file", b"\x7fELF...Py_Main"), ("usr/local/bin/python3", "sym", "python3.13"),
        ("usr/local/lib/libpython3.13.so.1.0", "file", b"\x00PyInit_math\x00PyInit__socket\x00"),
        ("usr/local/lib/python3.13/os.py", "file", b"import sys\n"),
        (f"usr/local/lib/python3.13/lib-dynload/_json.{abi}-x86_64-linux-gnu.so", "file", b"\x7fELF"),
    ], config={"Env": ["PATH=/usr/local/bin"]})
    try:
        py = interpreter(files, files.image.config)
    finally:
        files.close()
    assert py.extension_suffixes[0] == f".{abi}-x86_64-linux-gnu.so"
    assert set(py.builtin_attrs) == expected
    if expected:
        assert py.builtin_attrs["math"] == _table(13)["math"] and "fma" in py.builtin_attrs["math"]
