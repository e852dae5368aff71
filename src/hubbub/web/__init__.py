"""The HTTP side of hubbub: the REST API v2, operations endpoints, and the app that hosts them."""
