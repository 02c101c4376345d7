"""Detection rules: pure functions over typed readings and explicit per-resident state.

Nothing here does I/O or reads a clock; `now` is always a parameter. (The rules themselves
arrive with the streaming detector; this package holds their shared shape.)
"""
