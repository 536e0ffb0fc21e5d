"""Generated gRPC stubs for diagnostics.v1 (see scripts/generate_stubs.py); not edited by hand."""
