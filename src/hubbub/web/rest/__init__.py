"""Twilio's Chat REST API v2 and the account keys of its 2010-04-01 API, one module a resource."""
