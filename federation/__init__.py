"""Pure domain core of the Yangtze River Delta federation: no gRPC, protobuf or database drivers."""
