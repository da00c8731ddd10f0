"""The query layer: compile, evaluation context, sequences, profile and the term walker; the term
families in ``terms/``; ``engine`` prepares and executes one query (docs/architecture.md)."""
