"""The memory-traffic twin: the reads and writes of an optimizer with k state buffers,
with trivial math (p += g; s += g for each state buffer in use)."""


def twin(p, g, s0, s1, s2, gscale, k):
    for s in (s0, s1, s2):
        if s is not None:
            s += g
    p += g


def twin_stored(p, g, stored, absmax):
    """The twin on state stored in bfloat16 bits or 8-bit codes: p += g, each stored value
    + 1 (wrapping), each 8-bit block's absmax + 1."""
    for s in stored:
        if s is not None:
            s += 1
    for a in absmax:
        if a is not None:
            a += 1
    p += g
