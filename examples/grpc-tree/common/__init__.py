"""Shared modules of the gRPC tree example."""
