"""The Sync objects Twilio's client SDKs read: a projection of the chat, kept by a journal."""
