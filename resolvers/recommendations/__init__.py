"""Recommendations from behaviour: a pure engine, bulk loading and storing, a background refresher.

``engine`` scores on numpy/scipy arrays and does no I/O; ``data`` and ``store`` talk
to the database; ``batch`` recomputes everyone (``ordercenter recommend``) and
``evaluate`` measures the engine against a popularity baseline offline.
"""
