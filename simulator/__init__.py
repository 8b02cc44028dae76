"""SimPy model of remote virtual windows for cross-province demand."""
