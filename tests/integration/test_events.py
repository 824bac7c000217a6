"""Progress events reach live subscribers and the replay stream with the same id."""

from __future__ import annotations

import redis

from shared.events import (
    Complete,
    Item,
    ItemProgress,
    Publisher,
    parse_event,
    split_channel_message,
)
from shared.keys import Keys
from shared.settings import Settings


def test_a_published_event_is_live_and_replayable(
    settings: Settings, redis_client: redis.Redis
) -> None:
    keys = Keys(settings.redis_prefix)
    pubsub = redis_client.pubsub()
    pubsub.subscribe(keys.progress_channel)
    assert pubsub.get_message(timeout=2)["type"] == "subscribe"  # type: ignore[index]
    publisher = Publisher(redis_client, keys)

    # When a worker publishes an item event
    event = ItemProgress(
        run_id="run-7", phase="virtual_machines",
        item=Item(name="vm-100", item_type="virtual_machine", netbox_id=3), operation="created",
    )  # fmt: skip
    entry_id = publisher.publish(event)

    # Then a live subscriber gets it, with the stream id
    message = pubsub.get_message(timeout=2)
    assert message is not None
    run_id, live_id, payload = split_channel_message(message["data"])
    assert (run_id, live_id) == ("run-7", entry_id)
    assert parse_event(payload) == event
    # And the run's stream replays the same event under the same id
    [(stream_id, fields)] = redis_client.xrange(keys.run_events("run-7"))
    assert stream_id.decode() == entry_id
    assert parse_event(fields[b"e"]) == event
    pubsub.close()


def test_events_round_trip_by_name() -> None:
    done = Complete(run_id="r", ok=False, status="failed", message="x", errors=[{"detail": "d"}])
    assert parse_event(done.model_dump_json()) == done
