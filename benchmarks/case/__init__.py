"""The case benchmark's parts: options, applicants, case inputs, the timed case, phases, report."""
