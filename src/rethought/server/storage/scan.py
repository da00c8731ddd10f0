"""Lazy range reads over LMDB that never hold a transaction between chunks.

Each chunk is read inside its own short read transaction; the next chunk starts a new one and
resumes just after the last key seen. A stream consumed over many CONTINUEs therefore pins no
LMDB snapshot across event-loop turns, and writes in between are fine (rows written ahead of
the cursor show up, rows behind it do not: the same guarantee RethinkDB gives). Rows are handed
out after the chunk's transaction is closed, with a ``suspend.checkpoint`` before each, so a
long scan shares the event loop with other queries.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

import lmdb
import orjson

from ...datum.keys import INDEX_VALUE_CAP, encode_key
from ..runtime.suspend import checkpoint

loads = orjson.loads
FIRST_CHUNK = 32  # small first chunk: many queries stop early (limit, get_all of one key)
MAX_CHUNK = 1024

# Index entry value: truncated flag (1 byte), offset of the primary key in the LMDB key
# (2 bytes), then the index value as JSON.
ENTRY_HEAD = struct.Struct(">BH")
# Flag bit in that first byte: the key ends with a TAG after the primary key (a repeated
# value of a multi index), so the primary key is ``key[offset:-TAG.size]``.
TAGGED = 2
TAG = struct.Struct(">I")
SEEK_LIMIT = 500  # LMDB rejects longer keys, even for a seek


def _positioned(cur: lmdb.Cursor, seek: bytes, reverse: bool) -> bool:
    """Put ``cur`` on the first key >= seek (forward) or the last key < seek (reverse)."""
    if not reverse:
        return cur.set_range(seek)
    if cur.set_range(seek):
        return cur.prev()
    return cur.last()


def _resume(cur: lmdb.Cursor, last: bytes, reverse: bool) -> bool:
    """Put ``cur`` on the key just after ``last`` in scan direction."""
    if not reverse:
        if not cur.set_range(last):
            return False
        return cur.next() if cur.key() == last else True
    return _positioned(cur, last, True)


def scan_rows(
    env: lmdb.Environment,
    db: Any,
    prefix: bytes,
    lo: Any,
    hi: Any,
    lo_open: bool,
    hi_open: bool,
    reverse: bool,
    raw: bool = False,
) -> Iterator[Any]:
    """Rows whose primary key lies between ``lo`` and ``hi``, in key order, chunk by chunk;
    ``raw``: the stored JSON bytes themselves (rows are stored as ``orjson.dumps(row)``, so
    a client reading them whole gets the bytes decoding and encoding again would give)."""
    lo_key = prefix + encode_key(lo)
    hi_key = prefix + encode_key(hi)
    if reverse:
        # Just past hi and every key equal to it (stored keys are far below SEEK_LIMIT).
        seek = hi_key[:SEEK_LIMIT] + b"\xff"
    else:
        seek = lo_key[:SEEK_LIMIT]
    last: bytes | None = None
    size = FIRST_CHUNK
    while True:
        batch: list[bytes] = []
        done = True
        with env.begin(db=db) as txn:
            cur = txn.cursor()
            ok = _positioned(cur, seek, reverse) if last is None else _resume(cur, last, reverse)
            if ok:
                it = cur.iterprev() if reverse else cur.iternext()
                for key, val in it:
                    if reverse:
                        if key > hi_key or (hi_open and key == hi_key):
                            continue
                        if key < lo_key or (lo_open and key == lo_key):
                            break
                    else:
                        if key < lo_key or (lo_open and key == lo_key):
                            continue
                        if key > hi_key or (hi_open and key == hi_key):
                            break
                    batch.append(val)
                    if len(batch) >= size:
                        last = key
                        done = False
                        break
        # The read txn has ended, but the object would keep its LMDB reader slot while this
        # generator waits at a yield (a cursor between batches): 126 such and every read
        # failed with MDB_READERS_FULL (bench/soak.py found it). Drop it, cursor and all.
        txn = cur = it = None
        for val in batch:
            checkpoint()  # a long scan lets other queries run (and can be stopped)
            yield val if raw else loads(val)
        if done:
            return
        size = min(size * 2, MAX_CHUNK)


def _in_range(full: bytes, lo: bytes, hi: bytes, lo_open: bool, hi_open: bool) -> bool:
    if full < lo or (lo_open and full == lo):
        return False
    return not (full > hi or (hi_open and full == hi))


def scan_index(
    env: lmdb.Environment,
    index_db: Any,
    rows_db: Any,
    index_prefix: bytes,
    row_prefix: bytes,
    lo: Any,
    hi: Any,
    lo_open: bool,
    hi_open: bool,
    reverse: bool,
) -> Iterator[tuple[Any, dict]]:
    """``(index value, row)`` pairs with the value between ``lo`` and ``hi``, in index order
    and then primary-key order.

    Values longer than ``INDEX_VALUE_CAP`` encoded bytes are stored truncated, so the entries
    of values sharing that prefix come out of LMDB ordered by primary key instead of value.
    Such entries are always adjacent, so each run of them is read whole and sorted by the real
    value; bounds are checked against the real value too.
    """
    enc_lo, enc_hi = encode_key(lo), encode_key(hi)
    t_lo, t_hi = enc_lo[:INDEX_VALUE_CAP], enc_hi[:INDEX_VALUE_CAP]
    plen = len(index_prefix)
    seek = index_prefix + (t_hi + b"\xff" if reverse else t_lo)
    last: bytes | None = None
    size = FIRST_CHUNK
    while True:
        out: list[tuple[bytes, bytes, Any, dict, bool]] = []
        done = True
        with env.begin() as txn:
            cur = txn.cursor(db=index_db)
            ok = _positioned(cur, seek, reverse) if last is None else _resume(cur, last, reverse)
            prev_cut: bytes | None = None
            it = (cur.iterprev() if reverse else cur.iternext()) if ok else ()
            for key, data in it:
                if key[:plen] != index_prefix:
                    break
                flags, off = ENTRY_HEAD.unpack_from(data)
                cut = flags & 1
                pk = key[off : -TAG.size] if flags & TAGGED else key[off:]
                vpart = key[plen:off]
                if (vpart < t_lo) if reverse else (vpart > t_hi):
                    break
                if len(out) >= size and not (cut and vpart == prev_cut):
                    done = False
                    break  # chunk full, and not inside a run of truncated values
                last = key
                prev_cut = vpart if cut else None
                value = orjson.loads(data[ENTRY_HEAD.size :])
                full = encode_key(value) if cut else vpart
                if not _in_range(full, enc_lo, enc_hi, lo_open, hi_open):
                    continue
                raw = txn.get(row_prefix + pk, db=rows_db)
                if raw is not None:
                    out.append((full, pk, value, orjson.loads(raw), bool(cut)))
        txn = cur = it = None  # free the ended txn's reader slot before yielding (above)
        if any(entry[4] for entry in out):
            out = _sort_truncated_runs(out, reverse)
        for _full, _pk, value, row, _cut in out:
            checkpoint()
            yield value, row
        if done:
            return
        size = min(size * 2, MAX_CHUNK)


def _sort_truncated_runs(out: list, reverse: bool) -> list:
    """Re-sort each run of truncated entries by (real value, primary key)."""
    result: list = []
    i = 0
    while i < len(out):
        if not out[i][4]:
            result.append(out[i])
            i += 1
            continue
        j = i
        head = out[i][0][:INDEX_VALUE_CAP]
        while j < len(out) and out[j][4] and out[j][0][:INDEX_VALUE_CAP] == head:
            j += 1
        result.extend(sorted(out[i:j], key=lambda e: (e[0], e[1]), reverse=reverse))
        i = j
    return result
