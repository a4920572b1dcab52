"""The compiled parts of cotwatch, built by `pip install -e .` (plain C99 against the Python headers):

- the counting kernel of cotwatch.analytics.terms.materialize (analytics/terms/_tokcount.c);
- the JSONL line scanner of cotwatch.analytics.ingest (analytics/ingest/_jsonscan.c): line bounds,
  UTF-8, nesting depth and repeated keys checked before any JSON parser sees a line.

Everything else is declared in pyproject.toml; setuptools reads both.
"""

from setuptools import Extension, setup

FLAGS = ["-O3", "-std=c99"]

setup(ext_modules=[
    Extension("cotwatch.analytics.terms._tokcount", sources=["analytics/terms/_tokcount.c"], extra_compile_args=FLAGS),
    Extension("cotwatch.analytics.ingest._jsonscan", sources=["analytics/ingest/_jsonscan.c"], extra_compile_args=FLAGS),
])
