"""Chat domain rules shared by the REST API and the real-time gateway."""
