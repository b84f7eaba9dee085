"""Report: everything nimgen says to people: diagnostics, plan/check differences, out/<env>/README.md, explain."""
