"""Doubles printed digit for digit as RethinkDB 2.4 prints them.

RethinkDB writes every non-integral number with its bundled rapidjson's ``internal::dtoa``:
Florian Loitsch's Grisu2 (``DigitGen`` + ``GrisuRound``) laid out by ``Prettify``. Grisu2
always round-trips but is not always the shortest or the closest digit string, so Python's
``repr`` differs from it for about one double in twenty (``0.1 + 0.2`` is
``0.30000000000000007``, ``2.5146486499067597`` is ``2.5146486499067599``; see
``_POW10_READ``). This module is a port of that code with 64-bit arithmetic done on Python
ints (``& MASK`` where C++ wraps).
"""

from __future__ import annotations

import struct

MASK = (1 << 64) - 1
_HIDDEN = 1 << 52
_SIG_MASK = _HIDDEN - 1
_EXP_BIAS = 0x3FF + 52
_POW10 = [10**i for i in range(10)]


def _cached_power(k: int) -> tuple[int, int]:
    """10**k as a normalized 64-bit significand and binary exponent, rounded to nearest.

    These are rapidjson's ``kCachedPowers_F`` / ``kCachedPowers_E`` (10^-348 ... 10^340
    step 8), computed exactly instead of copied.
    """
    if k >= 0:
        num, den = 10**k, 1
    else:
        num, den = 1, 10**-k
    # e such that 2**63 <= num / den / 2**e < 2**64
    e = num.bit_length() - den.bit_length() - 64
    while True:
        if e >= 0:
            n, d = num, den << e
        else:
            n, d = num << -e, den
        if n < d << 63:
            e -= 1
        elif n >= d << 64:
            e += 1
        else:
            break
    f, rem = divmod(n, d)
    if 2 * rem >= d:
        f += 1
    return f, e


_CACHED = [_cached_power(-348 + 8 * i) for i in range(87)]


def _cached_e(i: int) -> int:
    """``kCachedPowers_E[i]``: the binary exponent of 10**(-348 + 8i), as a uint16."""
    return _CACHED[i][1] & 0xFFFF


# DigitGen's fraction loop ends with ``wp_w.f * kPow10[-kappa]``, and ``kPow10`` has only
# 10 entries (uint32). For a double whose digits run 10 or more places past the binary
# point (``0.1 + 0.2``: 17) the index runs past the array and reads what the compiler put
# after it. gcc puts the function-local statics of dtoa.h in their own 32-byte aligned
# .rodata sections in emission order: kPow10 (40 bytes), 24 bytes of zero padding, then
# ``kCachedPowers_E`` (int16). That memory, read as uint32, is this table; a compiled
# RethinkDB 2.4.4 rapidjson (tests/test_numbers_print.py) prints what it gives.
_POW10_READ = _POW10 + [0] * 6 + [_cached_e(2 * j) | _cached_e(2 * j + 1) << 16 for j in range(40)]


def _mul(af: int, ae: int, bf: int, be: int) -> tuple[int, int]:
    p = af * bf
    h = p >> 64
    if p & (1 << 63):  # rounding
        h += 1
    return h & MASK, ae + be + 64


def _grisu2(value: float) -> tuple[str, int]:
    """Digits and decimal exponent K of a positive finite double (``Grisu2``)."""
    (u,) = struct.unpack("<Q", struct.pack("<d", value))
    biased_e = (u >> 52) & 0x7FF
    sig = u & _SIG_MASK
    if biased_e:
        f, e = sig + _HIDDEN, biased_e - _EXP_BIAS
    else:
        f, e = sig, -_EXP_BIAS + 1
    # NormalizedBoundaries
    pf, pe = (f << 1) + 1, e - 1
    while not pf & (_HIDDEN << 1):
        pf <<= 1
        pe -= 1
    pf <<= 64 - 52 - 2
    pe -= 64 - 52 - 2
    if f == _HIDDEN:
        mf, me = (f << 2) - 1, e - 2
    else:
        mf, me = (f << 1) - 1, e - 1
    mf <<= me - pe
    # GetCachedPower(w_p.e)
    dk = (-61 - pe) * 0.30102999566398114 + 347
    k = int(dk)
    if k != dk:
        k += 1
    index = (k >> 3) + 1
    K = -(-348 + (index << 3))
    cf, ce = _CACHED[index]
    # v.Normalize()
    s = 64 - f.bit_length()
    W = _mul(f << s, e - s, cf, ce)
    wpf, wpe = _mul(pf, pe, cf, ce)
    wmf, _ = _mul(mf, pe, cf, ce)
    wmf += 1
    wpf -= 1
    return _digit_gen(W[0], wpf, wpe, wpf - wmf, K)


def _digit_gen(wf: int, mpf: int, mpe: int, delta: int, K: int) -> tuple[str, int]:
    shift = -mpe
    one_f = 1 << shift
    wp_w = mpf - wf
    p1 = mpf >> shift
    p2 = mpf & (one_f - 1)
    kappa = len(str(p1)) if p1 else 1
    buf: list[int] = []
    while kappa > 0:
        div = _POW10[kappa - 1]
        d, p1 = divmod(p1, div)
        if d or buf:
            buf.append(d)
        kappa -= 1
        tmp = (p1 << shift) + p2
        if tmp <= delta:
            K += kappa
            _round(buf, delta, tmp, _POW10[kappa] << shift, wp_w)
            return "".join(map(str, buf)), K
    while True:
        p2 = (p2 * 10) & MASK
        delta = (delta * 10) & MASK
        d = p2 >> shift
        if d or buf:
            buf.append(d)
        p2 &= one_f - 1
        kappa -= 1
        if p2 < delta:
            K += kappa
            _round(buf, delta, p2, one_f, (wp_w * _POW10_READ[-kappa]) & MASK)
            return "".join(map(str, buf)), K


def _round(buf: list[int], delta: int, rest: int, ten_kappa: int, wp_w: int) -> None:
    while (
        rest < wp_w
        and delta - rest >= ten_kappa
        and (rest + ten_kappa < wp_w or wp_w - rest > rest + ten_kappa - wp_w)
    ):
        buf[-1] -= 1
        rest += ten_kappa


def _exponent(k: int) -> str:
    return ("-" if k < 0 else "") + str(abs(k))


def dtoa(value: float) -> str:
    """``value`` as rapidjson's ``internal::dtoa`` writes it (``Writer::Double``)."""
    if value == 0:
        return "-0.0" if struct.pack("<d", value)[7] & 0x80 else "0.0"
    sign = ""
    if value < 0:
        sign = "-"
        value = -value
    digits, k = _grisu2(value)
    length = len(digits)
    kk = length + k  # 10**(kk-1) <= v < 10**kk
    if length <= kk <= 21:
        body = digits + "0" * (kk - length) + ".0"
    elif 0 < kk <= 21:
        body = digits[:kk] + "." + digits[kk:]
    elif -6 < kk <= 0:
        body = "0." + "0" * -kk + digits
    elif length == 1:
        body = digits + "e" + _exponent(kk - 1)
    else:
        body = digits[0] + "." + digits[1:] + "e" + _exponent(kk - 1)
    return sign + body
