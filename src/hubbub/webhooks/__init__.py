"""Webhooks: what hubbub calls, when, signed as Twilio signs them."""
