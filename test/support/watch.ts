import type { Client } from "@connectrpc/connect";
import type { EventService, Event } from "../../gen/rollcall/v1/event_pb.js";
import type { ChangeEvent } from "../../src/domain/records.js";
import type { Store } from "../../src/store/store.js";

// Reads a Watch until `enough` says so or the deadline passes, then cancels
// it; returns what arrived and the last cursor seen.
export async function watchUntil(
  events: Client<typeof EventService>,
  request: { room?: string; after?: string },
  enough: (received: Event[]) => boolean,
  timeoutMs = 15_000,
): Promise<{ received: Event[]; cursor: string }> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error(`the watch did not get what it waited for in ${timeoutMs} ms`)), timeoutMs);
  const received: Event[] = [];
  let cursor = request.after ?? "";
  try {
    for await (const message of events.watch(request, { signal: abort.signal })) {
      received.push(...message.events);
      cursor = message.cursor;
      if (enough(received)) break;
    }
  } catch (error) {
    if (abort.signal.aborted) throw abort.signal.reason;
    throw error;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return { received, cursor };
}

// "sequence type" of each event of one room, for comparing logs.
export function sequencesOf(events: Event[], roomSid: string): number[] {
  return events.filter((event) => event.roomSid === roomSid).map((event) => Number(event.sequence));
}

// Every event of a room's log, read from the store up to its end now.
export async function roomLog(store: Store, accountSid: string, roomSid: string): Promise<ChangeEvent[]> {
  const end = (await store.listParticipants(accountSid, roomSid, { status: "connected", limit: 1 })).logId;
  const events: ChangeEvent[] = [];
  if (end === "0-0") return events;
  const stop = new AbortController();
  try {
    for await (const batch of store.followLog({ accountSid, roomSid }, "0-0", { signal: stop.signal, keepAliveMs: 5000 })) {
      events.push(...batch.events.map(({ event }) => event));
      if (batch.lastId === end) break;
    }
  } finally {
    stop.abort();
  }
  return events;
}
