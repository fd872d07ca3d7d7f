import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { EventService, EventServiceWatchResponseSchema } from "../../../gen/rollcall/v1/event_pb.js";
import type { EventOperations } from "../../operations/events.js";
import { accountOf } from "./account.js";
import { eventMessage } from "./messages.js";

export function eventService(events: EventOperations, draining: AbortSignal): ServiceImpl<typeof EventService> {
  return {
    // Ends when the client cancels, when a watched room ends, and when the
    // server starts draining: then with UNAVAILABLE, as the client should
    // watch again from its last cursor (on this server's successor).
    async *watch(req, ctx) {
      const stop = AbortSignal.any([ctx.signal, draining]);
      for await (const batch of events.watch(accountOf(ctx), { room: req.room, after: req.after }, stop)) {
        yield create(EventServiceWatchResponseSchema, {
          events: batch.events.map(({ cursor, event }) => eventMessage(cursor, event)),
          cursor: batch.cursor,
        });
      }
      if (ctx.signal.aborted) throw ConnectError.from(ctx.signal.reason, Code.Canceled);
      if (draining.aborted) {
        throw new ConnectError("the server is shutting down; watch again with after set to the last cursor received", Code.Unavailable);
      }
    },
  };
}
