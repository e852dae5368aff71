"""Twilio's own JavaScript SDKs (twilio-chat, @twilio/conversations) driven against hubbub."""
