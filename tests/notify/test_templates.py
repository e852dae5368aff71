"""Twilio's push templates, filled in: every variable, names that are missing, long text."""

from __future__ import annotations

from hubbub.notify.templates import (
    ADDED_TO_CHANNEL,
    INVITED_TO_CHANNEL,
    KINDS,
    MAX_TEXT,
    NEW_MESSAGE,
    REMOVED_FROM_CHANNEL,
    clip,
    render,
    variables,
)

CHANNEL = "CH" + "c" * 32


def _values(**changes: str | None) -> dict[str, str]:
    given: dict[str, str | None] = {
        "user_identity": "alice",
        "user_friendly_name": "Alice Liddell",
        "channel_sid": CHANNEL,
        "channel_unique_name": "general",
        "channel_friendly_name": "General chat",
        "message": "hello there",
    }
    given.update(changes)
    return variables(**given)  # type: ignore[arg-type]


def test_every_variable() -> None:
    template = "|".join(
        "${%s}" % name
        for name in (
            "USER",
            "USER_FRIENDLY_NAME",
            "USER_IDENTITY",
            "CHANNEL",
            "CHANNEL_FRIENDLY_NAME",
            "CHANNEL_UNIQUE_NAME",
            "CHANNEL_SID",
            "MESSAGE",
        )
    )
    assert render(template, _values()).split("|") == [
        "Alice Liddell",
        "Alice Liddell",
        "alice",
        "General chat",
        "General chat",
        "general",
        CHANNEL,
        "hello there",
    ]


def test_names_fall_back_as_twilio_says() -> None:
    # ${USER}: the friendly name, else the identity; ${CHANNEL}: friendly name, unique name, SID.
    values = _values(user_friendly_name=None, channel_friendly_name=None)
    assert render("${USER} in ${CHANNEL}", values) == "alice in general"
    values = _values(user_friendly_name=None, channel_friendly_name=None, channel_unique_name=None)
    assert render("${CHANNEL}", values) == CHANNEL
    # Missing names are empty, not "None".
    assert render("[${USER_FRIENDLY_NAME}][${CHANNEL_UNIQUE_NAME}]", values) == "[][]"
    # No user at all: the application's server acted over REST. The default templates read
    # without their "by ${USER}"; a service's own says "system" (Twilio's REST author).
    nobody = _values(user_identity=None, user_friendly_name=None)
    assert render("by ${USER}.", nobody) == "by system."
    assert render("[${USER_IDENTITY}]", nobody) == "[]"
    assert (
        render(ADDED_TO_CHANNEL.template, nobody) == "You have been added to channel General chat"
    )
    assert render(INVITED_TO_CHANNEL.template, nobody) == (
        "You have been invited to join the channel General chat"
    )
    assert render(REMOVED_FROM_CHANNEL.template, nobody) == (
        "You have been removed from the channel General chat"
    )


def test_the_default_templates() -> None:
    values = _values()
    assert render(NEW_MESSAGE.template, values) == "General chat;Alice Liddell: hello there"
    assert (
        render(ADDED_TO_CHANNEL.template, values)
        == "You have been added to channel General chat by Alice Liddell"
    )
    assert (
        render(INVITED_TO_CHANNEL.template, values)
        == "Alice Liddell has invited you to join the channel General chat"
    )
    assert (
        render(REMOVED_FROM_CHANNEL.template, values)
        == "Alice Liddell has removed you from the channel General chat"
    )
    assert {kind.message_type for kind in KINDS.values()} == {
        "twilio.channel.new_message",
        "twilio.channel.added_to_channel",
        "twilio.channel.invited_to_channel",
        "twilio.channel.removed_from_channel",
    }


def test_unknown_variables_stay_and_values_are_not_read_as_templates() -> None:
    values = _values(message="I typed ${USER_IDENTITY} and $USER")
    assert render("${NOPE} ${MESSAGE}", values) == "${NOPE} I typed ${USER_IDENTITY} and $USER"


def test_long_text_is_cut() -> None:
    long = "é" * (MAX_TEXT * 3)
    text = render("${USER}: ${MESSAGE}", _values(message=long))
    assert len(text) == MAX_TEXT
    assert text.startswith("Alice Liddell: éé")
    assert text.endswith("é…")
    assert clip("short") == "short"
    assert clip("x" * MAX_TEXT) == "x" * MAX_TEXT
    assert clip("abcdef", 4) == "abc…"
