"""Generated gRPC stubs for the diagnostics protobuf package."""
