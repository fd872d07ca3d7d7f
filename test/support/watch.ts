import type { Client } from "@connectrpc/connect";
import type { EventService, Event } from "../../gen/rollcall/v1/event_pb.js";

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
