"""The package's version, in a module of its own so the server can name it without importing the
driver (``rethought/__init__`` imports the whole client)."""

__version__ = "0.1.0"
