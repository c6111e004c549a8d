"""The memory-traffic twin: the reads and writes of an optimizer with k state buffers,
with trivial math (p += g; s += g for each state buffer in use)."""


def twin(p, g, s0, s1, s2, gscale, k):
    for s in (s0, s1, s2):
        if s is not None:
            s += g
    p += g
