"""Runs as folders: the store, the writer, the training process and its socket, comparisons and studies."""
