#!/usr/bin/env python3
"""Writes the checked-in regression inputs under tests/corpus/.

Each file is the byte stream a web server (or an attacker posing as one) sends on one
connection. tests/protocol_props.rs parses every file; tests/hostile.rs builds the same
shapes in code and sends them to a running program; `cargo fuzz run request_stream` can use
the directory as seeds. Run from the repository root: python3 fuzz/gen_corpus.py
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "corpus")

BEGIN, ABORT, PARAMS, STDIN, GET_VALUES = 1, 2, 4, 5, 9


def rec(rtype, rid, content=b"", version=1, pad=None):
    if pad is None:
        pad = (8 - len(content) % 8) % 8
    return struct.pack(">BBHHBB", version, rtype, rid, len(content), pad, 0) + content + b"\0" * pad


def begin(rid=1, role=1, flags=0):
    return rec(BEGIN, rid, struct.pack(">HB5x", role, flags))


def nvlen(n):
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


def pair(name, value):
    return nvlen(len(name)) + nvlen(len(value)) + name + value


def params(*kv):
    return b"".join(pair(k, v) for k, v in kv)


NORMAL = params((b"REQUEST_METHOD", b"GET"), (b"SCRIPT_NAME", b"/echo"), (b"QUERY_STRING", b"a=1"))


def request(rid=1, body=b"", extra=NORMAL):
    out = begin(rid) + rec(PARAMS, rid, extra) + rec(PARAMS, rid)
    if body:
        out += rec(STDIN, rid, body)
    return out + rec(STDIN, rid)


def raw_lengths(nl, vl, data=b""):
    return struct.pack(">II", nl | 0x80000000, vl | 0x80000000) + data


FILES = {
    "normal-request.bin": request(body=b"hello"),
    "normal-keepalive-pipelined.bin": begin(1, flags=1) + rec(PARAMS, 1, NORMAL) + rec(PARAMS, 1)
    + rec(STDIN, 1) + begin(2, flags=1) + rec(PARAMS, 2, NORMAL) + rec(PARAMS, 2) + rec(STDIN, 2),
    "cve-2025-23016-7fffffff.bin": begin() + rec(PARAMS, 1, raw_lengths(0x7FFFFFFF, 0x7FFFFFFF, b"AAAA")),
    "cve-2025-23016-7ffffffe.bin": begin() + rec(PARAMS, 1, raw_lengths(0x7FFFFFFE, 0x7FFFFFFE, b"AAAA")),
    "name-len-256mib.bin": begin() + rec(PARAMS, 1, raw_lengths(0x10000000, 0, b"AAAA")),
    "get-values-mpxs-x6.bin": rec(GET_VALUES, 0, params(*[(b"FCGI_MPXS_CONNS", b"")] * 6)),
    "get-values-mpxs-x1000.bin": rec(GET_VALUES, 0, params(*[(b"FCGI_MPXS_CONNS", b"")] * 1000)),
    "get-values-all-and-unknown.bin": rec(GET_VALUES, 0, params(
        (b"FCGI_MAX_CONNS", b""), (b"FCGI_MAX_REQS", b""), (b"FCGI_MPXS_CONNS", b""), (b"NOPE", b""))),
    "get-values-malformed.bin": rec(GET_VALUES, 0, b"\x0f\x80"),
    "unknown-mgmt-type77-in-params.bin": begin() + rec(PARAMS, 1, pair(b"A", b"1"))
    + rec(77, 0, pair(b"FOO", b"bled")) + rec(PARAMS, 1, pair(b"B", b"2")) + rec(PARAMS, 1) + rec(STDIN, 1),
    "bad-version.bin": rec(BEGIN, 1, struct.pack(">HB5x", 1, 0), version=2) + rec(PARAMS, 1) + rec(STDIN, 1),
    "begin-request-id0.bin": begin(rid=0) + rec(PARAMS, 0) + rec(STDIN, 0),
    "begin-content-len7.bin": rec(BEGIN, 1, b"\x00\x01\x00\x00\x00\x00\x00") + rec(PARAMS, 1) + rec(STDIN, 1),
    "begin-content-len9.bin": rec(BEGIN, 1, b"\x00\x01\x00\x00\x00\x00\x00\x00\x00") + rec(PARAMS, 1),
    "unknown-role-9.bin": begin(role=9) + rec(PARAMS, 1, NORMAL) + rec(PARAMS, 1) + rec(STDIN, 1),
    "second-begin-during-request.bin": begin(1) + rec(PARAMS, 1, NORMAL) + begin(2)
    + rec(PARAMS, 1) + rec(STDIN, 1, b"body") + rec(STDIN, 1),
    "abort-during-stdin.bin": begin(1) + rec(PARAMS, 1, NORMAL) + rec(PARAMS, 1)
    + rec(STDIN, 1, b"partial") + rec(ABORT, 1),
    "stray-stdin-before-begin.bin": rec(STDIN, 1) + rec(STDIN, 3) + request(),
    "truncated-record.bin": begin() + struct.pack(">BBHHBB", 1, PARAMS, 1, 100, 0, 0) + b"0123456789",
    "truncated-header.bin": begin() + rec(PARAMS, 1, NORMAL)[:4],
    "params-too-many.bin": begin() + b"".join(
        rec(PARAMS, 1, params(*[(b"K%d" % (i * 1000 + j), b"v") for j in range(1000)])) for i in range(5)
    ) + rec(PARAMS, 1) + rec(STDIN, 1),
    "params-split-lengths.bin": begin() + b"".join(
        rec(PARAMS, 1, bytes([b])) for b in pair(b"N" * 200, b"V" * 3)) + rec(PARAMS, 1) + rec(STDIN, 1),
    "odd-padding.bin": begin() + rec(PARAMS, 1, NORMAL, pad=255) + rec(PARAMS, 1, pad=3) + rec(STDIN, 1, b"x", pad=0)
    + rec(STDIN, 1),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in sorted(FILES.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
