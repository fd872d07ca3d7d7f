import { Code, ConnectError, type Client } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { expect } from "chai";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { DisconnectReason, EventService, EventType, type Event, type EventServiceWatchResponse } from "../../gen/rollcall/v1/event_pb.js";
import { ParticipantService, ParticipantStatus } from "../../gen/rollcall/v1/participant_pb.js";
import { RoomService, RoomStatus } from "../../gen/rollcall/v1/room_pb.js";
import { configFromEnv } from "../../src/config.js";
import { RollcallError } from "../../src/domain/errors.js";
import { encodeEventCursor } from "../../src/operations/event-cursor.js";
import { EventOperations } from "../../src/operations/events.js";
import { RoomOperations } from "../../src/operations/rooms.js";
import { newSid } from "../../src/operations/sids.js";
import { MemoryStore } from "../../src/store/memory/memory-store.js";
import type { Store } from "../../src/store/store.js";
import { openStore, startServer } from "../../src/server.js";
import { connectErrorOf } from "../../src/transports/call-policy.js";
import { eachBackend } from "../support/backends.js";
import { connectBinaryHttp2, connectJsonHttp1, grpcJs, type GrpcJsClient, grpcWebHttp1, rejection, yielded } from "../support/clients.js";
import { otherAuthorization, startRollcall, testAccount, testAuthorization, testCredentials } from "../support/rollcall.js";
import { LogCapture } from "../support/log-capture.js";

const run = promisify(execFile);

// Reads a stream as the test asks for it, each read with a deadline.
class Reader<T> {
  private readonly queue: T[] = [];
  private done = false;
  private failure: unknown;
  private wake: (() => void) | undefined;

  constructor(source: AsyncIterable<T>) {
    void (async () => {
      try {
        for await (const message of source) {
          this.queue.push(message);
          this.wake?.();
        }
      } catch (error) {
        this.failure = error;
      } finally {
        this.done = true;
        this.wake?.();
      }
    })();
  }

  // The next message; fails at the deadline or when the stream ended.
  async next(timeoutMs = 5000): Promise<T> {
    await this.until(() => this.queue.length > 0 || this.done, timeoutMs, "a message");
    if (this.queue.length === 0) throw new Error(`the stream ended instead: ${String(this.failure)}`);
    return this.queue.shift()!;
  }

  // How the stream ended: undefined when cleanly, else its error.
  async end(timeoutMs = 5000): Promise<ConnectError | undefined> {
    await this.until(() => this.done, timeoutMs, "the end of the stream");
    if (this.failure === undefined) return undefined;
    // grpc-js fails a call with its status: the same codes as Connect's.
    const status = this.failure as { code?: unknown; details?: unknown };
    if (!(this.failure instanceof ConnectError) && typeof status.code === "number" && typeof status.details === "string") {
      return new ConnectError(status.details, status.code);
    }
    return ConnectError.from(this.failure);
  }

  get messages(): readonly T[] {
    return this.queue;
  }

  private async until(ready: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ready()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }
}

// Reads the events of a Watch, message by message.
class Watcher {
  readonly reader: Reader<EventServiceWatchResponse>;
  readonly received: Event[] = [];
  lastCursor = "";

  constructor(source: AsyncIterable<EventServiceWatchResponse>) {
    this.reader = new Reader(source);
  }

  // The first message: no events, the starting cursor.
  async start(): Promise<string> {
    const first = await this.reader.next();
    expect(first.events).to.have.length(0);
    expect(first.cursor).to.not.equal("");
    this.lastCursor = first.cursor;
    return first.cursor;
  }

  // Reads until `count` more events arrived (keep-alives are skipped).
  async events(count: number, timeoutMs = 5000): Promise<Event[]> {
    const from = this.received.length;
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < from + count) {
      const message = await this.reader.next(Math.max(1, deadline - Date.now()));
      this.received.push(...message.events);
      this.lastCursor = message.cursor;
      if (message.events.length > 0) expect(message.cursor).to.equal(message.events.at(-1)!.cursor);
    }
    expect(this.received.length, "more events than asked for").to.equal(from + count);
    return this.received.slice(from);
  }
}

function watchConnect(client: Client<typeof EventService>, room: string, after = "", signal?: AbortSignal): Watcher {
  return new Watcher(client.watch({ room, after }, { signal }));
}

// A grpc-js client's Watch as an async iterable, and the call to cancel.
function watchGrpcJs(
  client: GrpcJsClient<typeof EventService>,
  room: string,
  after = "",
): { watcher: Watcher; call: grpc.ClientReadableStream<EventServiceWatchResponse> } {
  const call = client.raw.watch({ room, after }, client.metadata());
  return { watcher: new Watcher(call as AsyncIterable<EventServiceWatchResponse>), call };
}

// What a test checks of an event.
function summary(e: Event): string {
  const who = e.participant ? ` ${e.participant.identity}` : "";
  const reason = e.reason === DisconnectReason.UNSPECIFIED ? "" : ` ${DisconnectReason[e.reason]}`;
  return `${e.sequence} ${EventType[e.type]}${who}${reason}`;
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

// A room taken through every kind of change (see lifecycleWithRoomWatch).
const lifecycleEvents = [
  "1 ROOM_CREATED",
  "2 PARTICIPANT_CONNECTED alice",
  "3 PARTICIPANT_CONNECTED bob",
  "4 PARTICIPANT_DISCONNECTED alice REPLACED",
  "5 PARTICIPANT_CONNECTED alice",
  "6 PARTICIPANT_DISCONNECTED bob KICKED",
  "7 PARTICIPANT_DISCONNECTED alice LEFT",
  "8 PARTICIPANT_CONNECTED carol",
  "9 PARTICIPANT_CONNECTED dave",
  "10 PARTICIPANT_DISCONNECTED carol ROOM_COMPLETED",
  "11 PARTICIPANT_DISCONNECTED dave ROOM_COMPLETED",
  "12 ROOM_ENDED",
];

eachBackend((backend) =>
  describe(`Watch: every change is an event (${backend.name})`, () => {
    let server: Awaited<ReturnType<typeof startRollcall>>;
    let events: Client<typeof EventService>;
    let participants: Client<typeof ParticipantService>;
    let rooms: Client<typeof RoomService>;
    let count = 0;
    const freshName = () => `watch-${++count}-${Date.now()}`;

    before(async () => {
      server = await startRollcall({ ...backend.settings, watchKeepAliveMs: 300 });
      events = connectBinaryHttp2(EventService, server.url);
      participants = connectBinaryHttp2(ParticipantService, server.url);
      rooms = connectBinaryHttp2(RoomService, server.url);
    });
    after(async () => server.close());

    describe("a room's watch", () => {
      let roomSid: string;
      let roomEvents: Event[];

      it("sees every change of the room in order, then ends after ROOM_ENDED", async () => {
        const name = freshName();
        // The account's watch starts before the room exists, so it sees the creation.
        const account = watchConnect(events, "");
        await account.start();
        await rooms.create({ uniqueName: `${name}-other` });
        const result = await lifecycleWithRoomWatch(name);
        roomSid = result.roomSid;
        roomEvents = result.roomEvents;
        expect(roomEvents.map(summary)).to.deep.equal(result.expected.slice(1));

        // The account watch saw the creation too, and the same events in the same order.
        const seen = await account.events(1 + result.expected.length);
        const ofRoom = seen.filter((e) => e.roomSid === roomSid);
        expect(ofRoom.map(summary)).to.deep.equal(result.expected);
        for (const e of ofRoom) {
          expect(e.accountSid).to.equal(testAccount.sid);
          expect(e.room!.sid).to.equal(roomSid);
          expect(e.time).to.not.equal(undefined);
        }
        const ended = ofRoom.at(-1)!;
        expect(ended.room!.status).to.equal(RoomStatus.COMPLETED);
        expect(ended.participant).to.equal(undefined);
        const replaced = ofRoom[3]!;
        expect(replaced.participant!.status).to.equal(ParticipantStatus.DISCONNECTED);
        expect(replaced.participant!.endTime).to.not.equal(undefined);
      });

      // Starts a room watch right after the creation, then runs the lifecycle.
      async function lifecycleWithRoomWatch(name: string): Promise<{ roomSid: string; roomEvents: Event[]; expected: string[] }> {
        const roomSid = (await rooms.create({ uniqueName: name })).room!.sid;
        const watcher = watchConnect(events, name);
        await watcher.start();
        await participants.join({ room: name, identity: "alice" });
        await participants.join({ room: name, identity: "bob" });
        await participants.join({ room: name, identity: "alice" });
        await participants.update({ room: name, participant: "bob", status: ParticipantStatus.DISCONNECTED });
        await participants.leave({ room: name, participant: "alice" });
        await participants.join({ room: name, identity: "carol" });
        await participants.join({ room: name, identity: "dave" });
        await rooms.update({ room: name, status: RoomStatus.COMPLETED });
        const roomEvents = await watcher.events(11);
        expect(await watcher.reader.end()).to.equal(undefined);
        return { roomSid, roomEvents, expected: lifecycleEvents };
      }

      it("resumed from any event's cursor gives exactly the rest, then ends", async () => {
        for (let i = 0; i < roomEvents.length; i++) {
          const watcher = watchConnect(events, roomSid, roomEvents[i]!.cursor);
          expect(await watcher.start()).to.equal(roomEvents[i]!.cursor);
          const rest = roomEvents.length - i - 1;
          if (rest > 0) expect((await watcher.events(rest)).map(summary)).to.deep.equal(roomEvents.slice(i + 1).map(summary));
          expect(await watcher.reader.end()).to.equal(undefined);
          expect(watcher.reader.messages).to.have.length(0);
        }
      });

      it("a completed room watched from now ends after its first message", async () => {
        const watcher = watchConnect(events, roomSid);
        await watcher.start();
        expect(await watcher.reader.end()).to.equal(undefined);
      });

      it("over Connect JSON on HTTP/1.1 and gRPC-Web, resumes the same", async () => {
        for (const client of [connectJsonHttp1(EventService, server.url), grpcWebHttp1(EventService, server.url)]) {
          const watcher = watchConnect(client, roomSid, roomEvents[5]!.cursor);
          await watcher.start();
          const rest = await watcher.events(roomEvents.length - 6);
          expect(rest.map(summary)).to.deep.equal(roomEvents.slice(6).map(summary));
          expect(rest.at(-1)!.cursor).to.equal(roomEvents.at(-1)!.cursor);
          expect(await watcher.reader.end()).to.equal(undefined);
        }
      });
    });

    it("List's watch_cursor, then Watch: continues exactly after the state the listing saw", async () => {
      const name = freshName();
      await participants.join({ room: name, identity: "alice" });
      await participants.join({ room: name, identity: "bob" });
      const pages = [];
      for await (const page of participants.list({ room: name })) pages.push(page);
      expect(pages).to.have.length(1);
      expect(pages[0]!.participants.map((p) => p.identity)).to.deep.equal(["alice", "bob"]);
      const listedAt = pages[0]!.watchCursor;
      expect(listedAt).to.not.equal("");
      // Changes between the listing and the watch are not lost.
      await participants.join({ room: name, identity: "carol" });
      const watcher = watchConnect(events, name, listedAt);
      expect(await watcher.start()).to.equal(listedAt);
      await participants.update({ room: name, participant: "alice", status: ParticipantStatus.DISCONNECTED });
      expect((await watcher.events(2)).map(summary)).to.deep.equal([
        "4 PARTICIPANT_CONNECTED carol",
        "5 PARTICIPANT_DISCONNECTED alice KICKED",
      ]);
    });

    it("Leave disconnects with reason LEFT and returns a left participant unchanged", async () => {
      const name = freshName();
      const joined = (await participants.join({ room: name, identity: "erin" })).participant!;
      const left = (await participants.leave({ room: name, participant: "erin" })).participant!;
      expect(left.sid).to.equal(joined.sid);
      expect(left.status).to.equal(ParticipantStatus.DISCONNECTED);
      // The ad-hoc room ended with its last participant: its sid still names it.
      const room = joined.roomSid;
      expect((await participants.leave({ room, participant: joined.sid })).participant).to.deep.equal(left);
      const missing = await rejection(participants.leave({ room, participant: "erin" }));
      expect(missing.code).to.equal(Code.NotFound);
    });

    it("an account's watch sees the events of several rooms, each room in order and without gaps", async () => {
      const watcher = watchConnect(events, "");
      const start = await watcher.start();
      const names = Array.from({ length: 6 }, freshName);
      // Interleaved changes of six rooms (spread over the log's shards by their sids).
      for (const name of names) await participants.join({ room: name, identity: "a" });
      for (const name of names) await participants.join({ room: name, identity: "b" });
      for (const name of names) await participants.join({ room: name, identity: "a" });
      for (const name of names.slice(0, 3)) await rooms.update({ room: name, status: RoomStatus.COMPLETED });
      // Per room: created, a, b, a replaced, a again; per completed room: a and b, then ended.
      const total = 6 * 5 + 3 * 3;
      const seen = await watcher.events(total);
      const byRoom = new Map<string, Event[]>();
      for (const e of seen) byRoom.set(e.room!.uniqueName, [...(byRoom.get(e.room!.uniqueName) ?? []), e]);
      expect([...byRoom.keys()].sort()).to.deep.equal([...names].sort());
      for (const [, ofRoom] of byRoom) {
        expect(ofRoom.map((e) => Number(e.sequence))).to.deep.equal(Array.from({ length: ofRoom.length }, (_, i) => i + 1));
      }
      // Resuming from any event's cursor gives exactly the events after it,
      // each room's in order (rooms of different shards may interleave
      // differently); from the start cursor, all of them.
      const key = (e: Event) => `${e.roomSid} ${summary(e)}`;
      const inRoomOrder = (list: Event[]) =>
        [...list].sort((a, b) => a.roomSid.localeCompare(b.roomSid) || Number(a.sequence - b.sequence)).map(key);
      for (const [after, from] of [
        [seen[0]!.cursor, 1],
        [seen[7]!.cursor, 8],
        [seen[total - 2]!.cursor, total - 1],
        [start, 0],
      ] as const) {
        const resumed = watchConnect(events, "", after);
        await resumed.start();
        const rest = await resumed.events(total - from);
        expect(inRoomOrder(rest)).to.deep.equal(inRoomOrder(seen.slice(from)));
        for (const room of byRoom.keys()) {
          const ofRoom = rest.filter((e) => e.room!.uniqueName === room).map((e) => Number(e.sequence));
          expect(ofRoom).to.deep.equal([...ofRoom].sort((a, b) => a - b));
        }
      }
    });

    it("an idle watch receives an empty message every keep-alive interval", async () => {
      const name = freshName();
      await participants.join({ room: name, identity: "idle" });
      for (const room of [name, ""]) {
        const watcher = watchConnect(events, room);
        const cursor = await watcher.start();
        const started = Date.now();
        const keepAlive = await watcher.reader.next(3000);
        expect(keepAlive.events).to.have.length(0);
        expect(keepAlive.cursor).to.equal(cursor);
        expect(Date.now() - started).to.be.at.least(200);
      }
    });

    describe("tenancy and bad cursors", () => {
      let roomSid: string;
      let roomCursor: string;
      let accountCursor: string;
      let otherAccountCursor: string;

      before(async () => {
        const name = freshName();
        roomSid = (await participants.join({ room: name, identity: "t" })).participant!.roomSid;
        roomCursor = await watchConnect(events, roomSid).start();
        accountCursor = await watchConnect(events, "").start();
        otherAccountCursor = await watchConnect(connectBinaryHttp2(EventService, server.url, otherAuthorization), "").start();
      });

      async function watchError(room: string, after: string, client = events): Promise<ConnectError> {
        const error = await watchConnect(client, room, after).reader.end();
        expect(error, "the watch should fail").to.be.instanceOf(ConnectError);
        return error!;
      }

      it("another account's room is not found, with or without a cursor", async () => {
        const other = connectBinaryHttp2(EventService, server.url, otherAuthorization);
        expect((await watchError(roomSid, "", other)).code).to.equal(Code.NotFound);
        expect((await watchError(roomSid, roomCursor, other)).code).to.equal(Code.NotFound);
      });

      it("another account's cursor is an invalid argument", async () => {
        const error = await watchError("", otherAccountCursor);
        expect(error.code).to.equal(Code.InvalidArgument);
        expect(error.rawMessage).to.match(/^after .*another account/);
      });

      it("garbage, altered, cut, other room's and other kind's cursors are invalid arguments naming after", async () => {
        const text = Buffer.from(roomCursor, "base64url").toString("latin1");
        const altered = Buffer.from(text.replace(/\.(\d)/, (_, d: string) => `.${(Number(d) + 1) % 10}`)).toString("base64url");
        expect(altered).to.not.equal(roomCursor);
        const otherRoom = await watchConnect(
          events,
          (await participants.join({ room: freshName(), identity: "o" })).participant!.roomSid,
        ).start();
        const cases: Array<[string, string]> = [
          [roomSid, "garbage"],
          [roomSid, "%%%"],
          [roomSid, altered],
          [roomSid, roomCursor.slice(0, -4)],
          [roomSid, otherRoom],
          [roomSid, accountCursor],
          ["", roomCursor],
          // Well formed, but a position the log never held.
          [roomSid, encodeEventCursor({ accountSid: testAccount.sid, roomSid, logIds: ["99999-99999"] })],
        ];
        for (const [room, after] of cases) {
          const error = await watchError(room, after);
          expect(error.code, `${room || "account"} after ${after}`).to.equal(Code.InvalidArgument);
          expect(error.rawMessage).to.match(/^after /);
        }
      });
    });

    it("buf curl streams a room's Watch from a cursor to the room's end", async () => {
      const name = freshName();
      const roomSid = (await participants.join({ room: name, identity: "curl" })).participant!.roomSid;
      const watcher = watchConnect(events, roomSid);
      const from = await watcher.start();
      await rooms.update({ room: name, status: RoomStatus.COMPLETED });
      const common = [
        "curl",
        "--schema",
        "proto",
        "--protocol",
        "grpc",
        "--http2-prior-knowledge",
        "-H",
        `Authorization: ${testAuthorization}`,
      ];
      // The stream ends after ROOM_ENDED, so buf curl exits.
      const out = await run("node_modules/.bin/buf", [
        ...common,
        "-d",
        JSON.stringify({ room: roomSid, after: from }),
        `${server.url}/rollcall.v1.EventService/Watch`,
      ]);
      expect(out.stdout).to.contain("DISCONNECT_REASON_ROOM_COMPLETED");
      expect(out.stdout).to.contain("EVENT_TYPE_ROOM_ENDED");
      expect(out.stdout.indexOf("ROOM_COMPLETED")).to.be.below(out.stdout.indexOf("EVENT_TYPE_ROOM_ENDED"));
    });
  }),
);

describe("Watch: the stream's life on the server", () => {
  // A server on a memory store that counts the log followers open (of
  // watches only: its status callback relay, which follows shard logs too, is off).
  async function countingServer(grace = 2000) {
    const config = {
      ...configFromEnv({}),
      port: 0,
      grpcPort: 0,
      shutdownGraceMs: grace,
      watchKeepAliveMs: 60_000,
      callbacksEnabled: false,
    };
    const store = await openStore(config);
    let open = 0;
    const counting: Store = Object.assign(Object.create(store) as Store, {
      followLog(...args: Parameters<Store["followLog"]>) {
        const batches = store.followLog(...args);
        return (async function* () {
          open++;
          try {
            yield* batches;
          } finally {
            open--;
          }
        })();
      },
    });
    const server = await startServer(config, counting, testCredentials, new LogCapture().logger);
    return { server, open: () => open };
  }

  it("over grpc-js on GRPC_PORT: events arrive, and a cancel releases every follower", async () => {
    const { server, open } = await countingServer();
    try {
      const client = grpcJs(EventService, `127.0.0.1:${server.grpcPort}`);
      const participants = grpcJs(ParticipantService, `127.0.0.1:${server.grpcPort}`);
      const name = `grpc-${Date.now()}`;
      const roomSid = (await participants.join({ room: name, identity: "g" })).participant!.roomSid;
      const room = watchGrpcJs(client, roomSid);
      const account = watchGrpcJs(client, "");
      await room.watcher.start();
      await account.watcher.start();
      expect(open()).to.equal(1 + 16);
      await participants.join({ room: name, identity: "h" });
      expect((await room.watcher.events(1)).map(summary)).to.deep.equal(["3 PARTICIPANT_CONNECTED h"]);
      expect((await account.watcher.events(1)).map(summary)).to.deep.equal(["3 PARTICIPANT_CONNECTED h"]);
      room.call.cancel();
      account.call.cancel();
      expect((await room.watcher.reader.end())!.code).to.equal(Code.Canceled);
      expect((await account.watcher.reader.end())!.code).to.equal(Code.Canceled);
      await waitFor(() => open() === 0, "followers released after cancel");
      client.close();
      participants.close();
    } finally {
      await server.close();
    }
  });

  it("over Connect: a cancel (abort) releases every follower", async () => {
    const { server, open } = await countingServer();
    try {
      for (const client of [connectBinaryHttp2(EventService, server.url), connectJsonHttp1(EventService, server.url)]) {
        const abort = new AbortController();
        const watcher = watchConnect(client, "", "", abort.signal);
        await watcher.start();
        await waitFor(() => open() === 16, "the account watch follows 16 shards");
        abort.abort();
        expect((await watcher.reader.end())!.code).to.equal(Code.Canceled);
        await waitFor(() => open() === 0, "followers released after cancel");
      }
    } finally {
      await server.close();
    }
  });

  it("on shutdown, a Watch ends at once with Unavailable, over Connect and grpc-js", async () => {
    // A long grace: the watches must end on their own, not by the deadline.
    const { server, open } = await countingServer(20_000);
    const grpcClient = grpcJs(EventService, `127.0.0.1:${server.grpcPort}`);
    const watchers = [watchConnect(connectBinaryHttp2(EventService, server.url), ""), watchGrpcJs(grpcClient, "").watcher];
    for (const watcher of watchers) await watcher.start();
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).to.be.below(5000);
    for (const watcher of watchers) {
      const error = await watcher.reader.end();
      expect(error!.code).to.equal(Code.Unavailable);
      expect(error!.rawMessage).to.match(/last cursor/);
    }
    expect(open()).to.equal(0);
    grpcClient.close();
  });
});

describe("EventOperations on a memory store", () => {
  it("a cursor whose events are no longer retained is cursor_expired, OutOfRange over RPC", async () => {
    let clock = 1_000_000;
    const store = new MemoryStore({ retentionMs: 10, retentionPerRoom: 1, maxRoomMs: 86_400_000, now: () => clock });
    const rooms = new RoomOperations(store, { maxParticipants: 50 });
    const operations = new EventOperations(store, rooms, { keepAliveMs: 50 });
    const room = await rooms.create(testAccount.sid, {});
    const signal = new AbortController();
    const first = operations.watch(testAccount.sid, { room: room.sid, after: "" }, signal.signal)[Symbol.asyncIterator]();
    const start = yielded(await first.next()).cursor;
    await first.return!();
    for (let i = 0; i < 3; i++) {
      clock += 100;
      await store.join(testAccount.sid, room.sid, newSid("PA"), `p${i}`);
    }
    let error: unknown;
    try {
      for await (const batch of operations.watch(testAccount.sid, { room: room.sid, after: start }, signal.signal)) void batch;
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(RollcallError);
    expect((error as RollcallError).reason).to.equal("cursor_expired");
    expect((error as RollcallError).message).to.match(/^after .*watch_cursor/);
    expect(connectErrorOf(error)?.code).to.equal(Code.OutOfRange);
    signal.abort();
  });

  it("an idle account watch yields one keep-alive per interval, not one per shard", async () => {
    const store = new MemoryStore({ retentionMs: 3_600_000, retentionPerRoom: 100, maxRoomMs: 86_400_000 });
    const operations = new EventOperations(store, new RoomOperations(store, { maxParticipants: 50 }), { keepAliveMs: 100 });
    const stop = new AbortController();
    const batches = operations.watch(testAccount.sid, { room: "", after: "" }, stop.signal)[Symbol.asyncIterator]();
    const started = Date.now();
    const first = yielded(await batches.next());
    for (let i = 0; i < 3; i++) {
      const keepAlive = yielded(await batches.next());
      expect(keepAlive.events).to.have.length(0);
      expect(keepAlive.cursor).to.equal(first.cursor);
    }
    expect(Date.now() - started).to.be.at.least(280);
    stop.abort();
    expect((await batches.next()).done).to.equal(true);
  });
});
