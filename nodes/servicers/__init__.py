"""Thin gRPC servicers: convert the request, call federation/, convert the answer."""
