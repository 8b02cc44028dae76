"""Generated protobuf and gRPC code for yrd.federation.v1 (never edited by hand)."""
