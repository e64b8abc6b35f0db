"""pigen.service: the command line, HTTP API, campaigns and experiments."""
