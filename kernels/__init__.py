"""Triton kernels for paged (sparse) decode attention, with torch references (see chapter 4)."""
