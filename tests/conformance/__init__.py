"""Conformance runner for RethinkDB's polyglot ReQL tests (see README.md in this folder)."""
