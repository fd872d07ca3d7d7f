import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { EventService, EventServiceWatchResponseSchema, type Event } from "../../gen/rollcall/v1/event_pb.js";
import type { EventOperations } from "../operations/events.js";
import type { ChangeEvent } from "../domain/records.js";
import { watchStreamsOpen } from "../observability/metrics.js";
import { accountOf } from "./account.js";
import { eventMessage } from "./messages.js";

export function eventService(events: EventOperations, draining: AbortSignal): ServiceImpl<typeof EventService> {
  // The watchers of one room receive the same event objects with the same
  // cursors (the store's reader shares them): each event becomes a message
  // once, not once per watcher.
  const messages = new WeakMap<ChangeEvent, { cursor: string; message: Event }>();
  const messageOf = (cursor: string, event: ChangeEvent): Event => {
    const known = messages.get(event);
    if (known?.cursor === cursor) return known.message;
    const message = eventMessage(cursor, event);
    messages.set(event, { cursor, message });
    return message;
  };
  return {
    // Ends when the client cancels, when a watched room ends, and when the
    // server starts draining: then with UNAVAILABLE, as the client should
    // watch again from its last cursor (on this server's successor).
    async *watch(req, ctx) {
      const stop = AbortSignal.any([ctx.signal, draining]);
      watchStreamsOpen.inc();
      try {
        for await (const batch of events.watch(accountOf(ctx), { room: req.room, after: req.after }, stop)) {
          yield create(EventServiceWatchResponseSchema, {
            events: batch.events.map(({ cursor, event }) => messageOf(cursor, event)),
            cursor: batch.cursor,
          });
        }
      } finally {
        watchStreamsOpen.dec();
      }
      if (ctx.signal.aborted) throw ConnectError.from(ctx.signal.reason, Code.Canceled);
      if (draining.aborted) {
        throw new ConnectError("the server is shutting down; watch again with after set to the last cursor received", Code.Unavailable);
      }
    },
  };
}
