"""Defaults that more than one module needs, each written once. No imports: the command line
reads them before it loads anything heavy."""

#: The database ``hubbub`` commands use unless told otherwise.
DB = "sqlite:///hubbub.db"
#: The file holding the master key that seals API key secrets and auth tokens, in the SQLite
#: database's directory (or the data directory, for PostgreSQL): see ``hubbub.masterkey``.
MASTER_KEY_FILE = "hubbub-master.key"
#: The final stretch of a token's life, in seconds, in which clients are told to renew it.
TOKEN_WARNING = 180.0


class CommandError(Exception):
    """A command cannot go on; the message says why in one line."""


#: The push providers' base URLs (``hubbub serve --push-fcm-url`` ...).
PUSH_FCM_URL = "https://fcm.googleapis.com"
PUSH_APNS_URL = "https://api.push.apple.com"
PUSH_APNS_SANDBOX_URL = "https://api.sandbox.push.apple.com"
