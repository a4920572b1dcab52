"""The one compiled part of cotwatch: the counting kernel of cotwatch.analytics.terms.materialize.

Everything else is declared in pyproject.toml; setuptools reads both. The extension is plain
C99 against the Python headers (analytics/terms/_tokcount.c), built by `pip install -e .`.
"""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension("cotwatch.analytics.terms._tokcount", sources=["analytics/terms/_tokcount.c"], extra_compile_args=["-O3", "-std=c99"]),
])
