"""Network edge: gRPC servers, servicers, clients, node config and the yrd command."""
