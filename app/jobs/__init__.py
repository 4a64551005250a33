"""Job openings, pushes of jobs to labourers (rounds), and matching."""
