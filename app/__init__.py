"""wengang (稳岗): village employment assistance against poverty relapse."""
