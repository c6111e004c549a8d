"""The optimizer core, under every optimizer class: parameters parsed and flattened
(``params``), plans and their address tables (``plan``), the base class that checks a step
and commits it (``optimizer``), each kernel's interface (``kernel``), and the compiled half
of the core (``_native``: per-step checks, the one-call commit, threads)."""
