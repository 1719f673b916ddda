"""Data sources: playground generators, images, your own files, splitting. Plain numpy arrays for any backend."""
