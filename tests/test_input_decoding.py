"""Input is decoded in one place (kg.rdfio.decode_input), so a file reads the same
from every command: UTF-8 with or without a byte order mark is accepted (editors on
Windows write one), UTF-16 and other bytes are refused with one line naming the file
and the byte offset (exit code 2), never a parser error about a stray character."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kg.errors import BadInput
from kg.rdfio import decode_input

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "examples" / "new-measure.ttl"
KG = Path(sys.executable).with_name("kg")
BOM = b"\xef\xbb\xbf"


# ---------------------------------------------------------------------------------
# The decoder

def test_a_utf8_byte_order_mark_is_dropped():
    assert decode_input(BOM + "<urn:a> <urn:b> \"caf\u00e9\" .".encode(), "a.ttl") == "<urn:a> <urn:b> \"caf\u00e9\" ."


def test_utf8_without_a_byte_order_mark_is_read_as_is():
    assert decode_input(" \ufeffx\n".encode(), "a.ttl") == " \ufeffx\n"  # only a leading mark is one


@pytest.mark.parametrize("data, encoding", [
    ("<urn:a> <urn:b> 1 .".encode("utf-16"), "UTF-16"),
    (b"\xfe\xff" + "<urn:a> <urn:b> 1 .".encode("utf-16-be"), "UTF-16"),
    ("<urn:a> <urn:b> 1 .".encode("utf-32"), "UTF-32"),
])
def test_utf16_and_utf32_are_refused_by_name(data, encoding):
    with pytest.raises(BadInput, match=rf"^u\.ttl: not UTF-8 \({encoding} byte order mark at offset 0\); "
                                       r"save the file as UTF-8$"):
        decode_input(data, "u.ttl")


def test_an_invalid_byte_is_named_with_its_offset_in_the_file():
    """The offset counts the bytes of the file as given, byte order mark included."""
    with pytest.raises(BadInput, match=r"^l\.ttl: not UTF-8 \(invalid byte 0xe9 at offset 6\)"):
        decode_input(BOM + b"caf\xe9 .", "l.ttl")


def test_a_nul_byte_is_a_binary_file_with_its_offset():
    with pytest.raises(BadInput, match=r"^b\.ttl: binary file \(NUL byte at offset 4\)"):
        decode_input(b"\x89PNG\x00\x00", "b.ttl")


@pytest.mark.parametrize("data", [b"", BOM, b" \n\t", BOM + b"\n"])
def test_empty_input_is_refused(data):
    with pytest.raises(BadInput, match=r"^e\.ttl: empty file$"):
        decode_input(data, "e.ttl")


# ---------------------------------------------------------------------------------
# kg check, a real subprocess on a copy of the shipped graph

@pytest.fixture
def check(pristine, tmp_path):
    """`kg check` on a copy of the pristine dist/ with no change sets; returns
    (exit code, stdout, stderr)."""
    d = tmp_path / "dist"
    shutil.copytree(pristine, d)
    env = {**os.environ, "KG_DIST": str(d), "KG_ADDITIONS": str(tmp_path / "additions")}

    def run(path: str, stdin: bytes | None = None) -> tuple[int, str, str]:
        p = subprocess.run([str(KG), "check", path], capture_output=True, cwd=ROOT, env=env, input=stdin,
                           timeout=300)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    return run


def test_kg_check_accepts_a_turtle_file_with_a_byte_order_mark(check, tmp_path):
    f = tmp_path / "with-bom.ttl"
    f.write_bytes(BOM + EXAMPLE.read_bytes())
    code, out, err = check(str(f))
    assert (code, err) == (0, ""), out + err
    assert "no violations: true (" in out


def test_kg_check_reads_a_file_the_same_with_and_without_the_mark(check, tmp_path):
    f = tmp_path / "new-measure.ttl"
    f.write_bytes(BOM + EXAMPLE.read_bytes())
    with_mark = check(str(f))
    f.write_bytes(EXAMPLE.read_bytes())
    assert with_mark == check(str(f))


def test_kg_check_accepts_a_byte_order_mark_on_stdin(check):
    code, out, err = check("-", stdin=BOM + EXAMPLE.read_bytes())
    assert (code, err) == (0, ""), out + err
    assert "no violations: true (" in out


def test_kg_check_refuses_utf16_with_exit_2_and_one_clear_line(check, tmp_path):
    f = tmp_path / "utf16.ttl"
    f.write_bytes(EXAMPLE.read_text(encoding="utf-8").encode("utf-16"))
    code, out, err = check(str(f))
    assert code == 2, out + err
    assert re.fullmatch(rf"{re.escape(str(f))}: not UTF-8 \(UTF-16 byte order mark at offset 0\); "
                        r"save the file as UTF-8\n", err.split("error: ", 1)[-1]), err
