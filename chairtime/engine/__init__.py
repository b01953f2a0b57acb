"""Pure scheduling maths: no Django here (an import-linter contract enforces it).

Frozen dataclasses in, values out, `now` always passed in. The appointment book builds
on this package.
"""
