"""Twilio's client protocol (twilsock) at ``/v3/wsconnect``, for Twilio's own JS SDKs."""
