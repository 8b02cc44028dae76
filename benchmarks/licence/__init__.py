"""The licence benchmark's parts: options, fixtures, call targets, phases and report."""
