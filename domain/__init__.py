"""Pure domain rules of the Order Center: no I/O, no framework imports."""
