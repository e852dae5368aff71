"""``create_messages``: several messages in one transaction, as the gateway's group commit."""

from __future__ import annotations

from hubbub.store import Message, NotFound, Service, Store


def test_a_batch_takes_consecutive_indexes_per_channel_in_order(
    store: Store, service: Service
) -> None:
    general = store.create_channel(service.sid, unique_name="general")
    random = store.create_channel(service.sid, unique_name="random")
    store.create_message(service.sid, general.sid, body="before", from_="alice")

    results = store.create_messages(
        [
            (service.sid, "general", "alice", "g1", "{}"),
            (service.sid, random.sid, "bob", "r1", '{"k": 1}'),
            (service.sid, general.sid, "bob", "g2", "{}"),
            (service.sid, "random", "alice", "r2", "{}"),
        ]
    )

    assert all(isinstance(result, Message) for result in results)
    made = [result for result in results if isinstance(result, Message)]
    assert [(m.channel_sid, m.index, m.body) for m in made] == [
        (general.sid, 1, "g1"),
        (random.sid, 0, "r1"),
        (general.sid, 2, "g2"),
        (random.sid, 1, "r2"),
    ]
    # What the batch answered is what was stored, and the channels' counters moved with it.
    for message in made:
        assert store.get_message(service.sid, message.channel_sid, message.sid) == message
    stored = store.list_messages(service.sid, "general").items
    assert [(m.index, m.from_, m.body) for m in stored] == [
        (0, "alice", "before"),
        (1, "alice", "g1"),
        (2, "bob", "g2"),
    ]
    assert store.get_channel(service.sid, "general").next_message_index == 3
    assert store.get_channel(service.sid, "random").messages_count == 2
    assert store.create_message(service.sid, "random", body="after").index == 2


def test_a_missing_channel_fails_only_its_own_messages(store: Store, service: Service) -> None:
    store.create_channel(service.sid, unique_name="general")
    other = store.create_service(service.account_sid, friendly_name="other")
    elsewhere = store.create_channel(other.sid, unique_name="elsewhere")

    results = store.create_messages(
        [
            (service.sid, "nowhere", "alice", "lost", "{}"),
            (service.sid, "general", "alice", "kept", "{}"),
            (service.sid, elsewhere.sid, "alice", "not yours", "{}"),
        ]
    )

    assert isinstance(results[0], NotFound)
    assert isinstance(results[1], Message)
    assert (results[1].index, results[1].body) == (0, "kept")
    assert isinstance(results[2], NotFound)
    assert not store.list_messages(other.sid, elsewhere.sid).items


def test_an_empty_batch_stores_nothing(store: Store, service: Service) -> None:
    assert store.create_messages([]) == []
