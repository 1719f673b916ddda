"""The training loop (Session) and the network view's data, over any backend and any data source."""
