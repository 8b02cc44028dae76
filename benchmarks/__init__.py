"""Latency and throughput harnesses, each printing a JSON report."""
