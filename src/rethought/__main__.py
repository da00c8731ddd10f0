"""``python -m rethought ...`` is the ``rethought`` command."""

from .cli import main

main()
