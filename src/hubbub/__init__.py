"""hubbub: a self-hosted Programmable Chat service."""

__version__ = "0.1.0"
