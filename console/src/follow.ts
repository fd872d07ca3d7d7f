import { Code, ConnectError } from "@connectrpc/connect";
import type { EventServiceWatchResponse } from "../../gen/rollcall/v1/event_pb.js";
import type { Clients } from "./clients.js";

export type LinkState = "live" | "reconnecting" | "resyncing";

export interface FollowHandlers {
  // Loads the state to mirror (a listing) and returns the cursor to watch
  // after: "" watches from now, null watches nothing (a completed room). Called first, and again whenever the cursor
  // can no longer be resumed (OUT_OF_RANGE: its events are no longer kept;
  // INVALID_ARGUMENT: this server did not issue it, e.g. its store was reset).
  load(): Promise<string | null>;
  // One Watch message; `first` for the opening message of each Watch call.
  message(response: EventServiceWatchResponse, first: boolean): void;
  // The link to the server changed: `detail` says why, for the banner.
  state(state: LinkState, detail: string): void;
  // The watch ended by itself (a room's watch after its ROOM_ENDED).
  ended(): void;
  // An error retrying cannot fix (credentials refused, room not found).
  fatal(error: ConnectError): void;
}

export interface FollowOptions {
  // Sid of the room, or "" for every room of the account.
  room: string;
  // A Watch that sends nothing for this long is dropped and resumed (the
  // server sends a keep-alive message every 15 s by default).
  idleMs?: number;
  retryMaxMs?: number;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}

// Mirrors a room or an account: load, then Watch from the load's cursor; on a
// lost stream, Watch again from the last cursor received (nothing missed or
// repeated); on a cursor that is too old, load again and watch from the new
// cursor. Runs until `signal` aborts.
export async function follow(clients: Clients, options: FollowOptions, handlers: FollowHandlers, signal: AbortSignal): Promise<void> {
  const idleMs = options.idleMs ?? 45_000;
  const retryMaxMs = options.retryMaxMs ?? 2_000;
  let cursor: string | undefined;
  let failures = 0;
  let linkDown = false;

  const retryLater = async (state: LinkState, detail: string) => {
    linkDown = true;
    handlers.state(state, detail);
    failures += 1;
    await sleep(Math.min(retryMaxMs, 200 * 2 ** Math.min(failures, 8)), signal);
  };

  while (!signal.aborted) {
    if (cursor === undefined) {
      try {
        const loaded = await handlers.load();
        if (loaded === null) {
          if (linkDown) handlers.state("live", "");
          return;
        }
        cursor = loaded;
      } catch (error) {
        if (signal.aborted) return;
        const failure = ConnectError.from(error);
        if (failure.code === Code.Unauthenticated || failure.code === Code.NotFound) return handlers.fatal(failure);
        await retryLater(linkDown ? "reconnecting" : "resyncing", failure.rawMessage);
        continue;
      }
    }
    const attempt = new AbortController();
    const abortAttempt = () => attempt.abort();
    signal.addEventListener("abort", abortAttempt);
    let idle = setTimeout(abortAttempt, idleMs);
    try {
      let first = true;
      for await (const response of clients.events.watch({ room: options.room, after: cursor }, { signal: attempt.signal })) {
        clearTimeout(idle);
        idle = setTimeout(abortAttempt, idleMs);
        if (first && linkDown) {
          linkDown = false;
          failures = 0;
          handlers.state("live", "");
        }
        handlers.message(response, first);
        first = false;
        if (response.cursor !== "") cursor = response.cursor;
      }
      handlers.ended();
      return;
    } catch (error) {
      if (signal.aborted) return;
      const failure = ConnectError.from(error);
      switch (failure.code) {
        case Code.OutOfRange:
        case Code.InvalidArgument:
          cursor = undefined;
          await retryLater("resyncing", failure.rawMessage);
          break;
        case Code.Unauthenticated:
        case Code.NotFound:
          handlers.fatal(failure);
          return;
        default:
          await retryLater("reconnecting", failure.rawMessage);
      }
    } finally {
      clearTimeout(idle);
      signal.removeEventListener("abort", abortAttempt);
    }
  }
}
