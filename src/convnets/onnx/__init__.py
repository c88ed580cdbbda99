"""ONNX: export with parity checks, int8 quantization, and the metadata contract predict reads.

This package and `metadata` import no torch; the modules that export do.
"""
