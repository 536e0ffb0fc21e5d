"""Generated gRPC stubs for diagnostics.v1 (scripts/generate_stubs.py writes them)."""
