"""TLS for the driver port and the web console, with RethinkDB's options and checks
(``command_line.cc``: ``initialize_tls_ctx``, ``configure_driver_tls``, ``configure_web_tls``).

``--driver-tls-key`` / ``--driver-tls-cert`` serve the driver port over TLS only (a plaintext
client's handshake fails and the connection closes); ``--driver-tls-ca`` also requires every
client to present a certificate signed by that CA. ``--http-tls-key`` / ``--http-tls-cert`` do
the same for the web console. Shared by both: ``--tls-min-protocol`` (TLSv1, TLSv1.1 or TLSv1.2,
the default), ``--tls-ciphers`` (OpenSSL list, default ``EECDH+AESGCM``; TLS 1.3 suites are
OpenSSL's own), ``--tls-ecdh-curve`` (default ``prime256v1``), ``--tls-dhparams`` (a PEM file,
needed for DHE suites).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

_PROTOCOLS = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
}


class TlsConfigError(ValueError):
    """A TLS option that cannot work; the message is RethinkDB's (or OpenSSL's) reason."""


@dataclass(frozen=True)
class TlsOptions:
    """The TLS command-line options of ``rethought serve``."""

    driver_key: str | None = None
    driver_cert: str | None = None
    driver_ca: str | None = None
    http_key: str | None = None
    http_cert: str | None = None
    min_protocol: str | None = None
    ciphers: str | None = None
    ecdh_curve: str | None = None
    dhparams: str | None = None


def _base_context(opts: TlsOptions) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    name = opts.min_protocol or "TLSv1.2"
    if name not in _PROTOCOLS:
        raise TlsConfigError(f"Unrecognized TLS protocol version '{name}'.")
    ctx.minimum_version = _PROTOCOLS[name]
    ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_SINGLE_DH_USE
    ctx.options |= ssl.OP_SINGLE_ECDH_USE
    try:
        ctx.set_ciphers(opts.ciphers or "EECDH+AESGCM")
    except ssl.SSLError:
        raise TlsConfigError("No secure cipher suites available.") from None
    curve = opts.ecdh_curve or "prime256v1"
    try:
        ctx.set_ecdh_curve(curve)
    except (ValueError, ssl.SSLError):
        raise TlsConfigError(f"No elliptic curve found corresponding to name '{curve}'.") from None
    if opts.dhparams:
        try:
            ctx.load_dh_params(opts.dhparams)
        except (OSError, ssl.SSLError) as e:
            raise TlsConfigError(
                f"Unable to read DH parameters from '{opts.dhparams}': {e}"
            ) from None
    return ctx


def _load(ctx: ssl.SSLContext, key: str, cert: str) -> None:
    try:
        ctx.load_cert_chain(certfile=cert, keyfile=key)
    except ssl.SSLError as e:
        if "KEY_VALUES_MISMATCH" in str(e) or "key values mismatch" in str(e):
            raise TlsConfigError("The private key and certificate do not match.") from None
        raise TlsConfigError(f"Cannot load the TLS key {key} and certificate {cert}: {e}") from None
    except OSError as e:
        raise TlsConfigError(f"Cannot read {e.filename or cert}: {e.strerror}") from None


def driver_context(opts: TlsOptions) -> ssl.SSLContext | None:
    """The driver port's TLS context, or None when it is plaintext."""
    key, cert, ca = opts.driver_key, opts.driver_cert, opts.driver_ca
    if not (key or cert or ca):
        return None
    if not (key and cert):
        if key or cert:
            raise TlsConfigError(
                "--driver-tls-key and --driver-tls-cert must be specified together."
            )
        raise TlsConfigError(
            "--driver-tls-key and --driver-tls-cert must be specified if --driver-tls-ca is "
            "specified."
        )
    ctx = _base_context(opts)
    _load(ctx, key, cert)
    if ca:
        try:
            ctx.load_verify_locations(cafile=ca)
        except (OSError, ssl.SSLError) as e:
            raise TlsConfigError(f"Cannot load the TLS CA {ca}: {e}") from None
        ctx.verify_mode = ssl.CERT_REQUIRED  # mutual authentication
    return ctx


def http_context(opts: TlsOptions) -> ssl.SSLContext | None:
    """The web console's TLS context, or None when it is plaintext."""
    if not (opts.http_key or opts.http_cert):
        return None
    if not (opts.http_key and opts.http_cert):
        raise TlsConfigError("--http-tls-key and --http-tls-cert must be specified together.")
    ctx = _base_context(opts)
    _load(ctx, opts.http_key, opts.http_cert)
    return ctx
