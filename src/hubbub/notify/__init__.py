"""Push notifications of chat events: which events notify whom, and their way out.

An action that should notify (a message sent, a user added, removed or invited, with the
service's setting for it on) queues one ``NOTIFY`` row in the outbox, in its own transaction
(``notify.notifier``). The courier expands that row off the hot path into one ``PUSH`` row per
binding of the recipients who are not connected (``notify.expand``), and sends each through
``hubbub.push`` (``notify.deliver``); ``notify.dispatch`` routes the courier's rows by kind.
"""
