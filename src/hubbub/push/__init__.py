"""Push notifications: one request to FCM, APNs or a Web Push service, and how it went.

Given one opened credential, one device address and one provider-neutral notification,
:class:`Pusher` sends the request and answers an :class:`Outcome`: delivered, worth another
try later (``retryable``), or the device is no more (``gone``, the binding should go). No store
access and no retries here: the caller (the courier, through the outbox) decides.

:func:`check_credential` checks a credential's material when it is created;
:func:`new_vapid_key` makes the key pair a Web Push credential needs.
"""

from hubbub.push.keys import check_credential, new_vapid_key
from hubbub.push.notification import CredentialType, Notification, Outcome, PushCredential
from hubbub.push.pusher import Pusher

__all__ = [
    "CredentialType",
    "Notification",
    "Outcome",
    "PushCredential",
    "Pusher",
    "check_credential",
    "new_vapid_key",
]
