"""The lowest server layer: values beyond datums, the greenlet bridge (suspend), stats counters
and pure helpers the layers above share (docs/architecture.md)."""
