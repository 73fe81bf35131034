"""The runtime benchmark's parts; ``scripts/bench_runtime.py`` drives them and documents the method.

Importable as ``runtime_bench`` once the repository root and ``scripts/`` are on ``sys.path``
(the driver puts them there, as ``scripts/bench_streams.py`` is imported).
"""
