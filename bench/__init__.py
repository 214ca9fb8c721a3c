"""qcc benchmarks (``qcc bench`` / ``python -m qcc.bench``).

Timing, memory and accuracy targets live here, never in unit tests.  Each
benchmark prints a table and writes JSON (and the suite an HTML report).
"""
