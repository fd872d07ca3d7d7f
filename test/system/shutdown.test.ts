import { Code, ConnectError } from "@connectrpc/connect";
import { expect } from "chai";
import { spawn } from "node:child_process";
import { once } from "node:events";
import net from "node:net";
import { ParticipantService, type ParticipantServiceListResponse } from "../../gen/rollcall/v1/participant_pb.js";
import { RoomService } from "../../gen/rollcall/v1/room_pb.js";
import type { Store } from "../../src/store/store.js";
import { newSid } from "../../src/operations/sids.js";
import { connectBinaryHttp2, connectJsonHttp1 } from "../support/clients.js";
import { startRedis } from "../support/redis-server.js";
import { basic, startRollcall, testAccount } from "../support/rollcall.js";
import { waitFor } from "../support/wait.js";

describe("graceful shutdown", () => {
  it("ends a List stream after its current page with Unavailable and a token to resume from", async () => {
    const server = await startRollcall({ maxParticipants: 5000 });
    const room = (await connectJsonHttp1(RoomService, server.url).create({ maxParticipants: 5000 })).room!;
    for (let i = 0; i < 3000; i++) await server.store.join(testAccount.sid, room.sid, newSid("PA"), `p${i}`);
    const client = connectBinaryHttp2(ParticipantService, server.url);
    const pages: ParticipantServiceListResponse[] = [];
    let closing: Promise<void> | undefined;
    const error = await (async () => {
      for await (const page of client.list({ room: room.sid, pageSize: 100 })) {
        pages.push(page);
        closing ??= server.close();
        // Reads at a client's pace (not a synchronisation): the server must
        // not need the client to drain the stream quickly to end it.
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })().catch((e: unknown) => ConnectError.from(e));
    await closing;
    expect(error).to.be.instanceOf(ConnectError);
    expect((error as ConnectError).code).to.equal(Code.Unavailable);
    expect(pages.length).to.be.within(1, 29);
    expect(pages.at(-1)!.nextPageToken).to.not.equal("");
    const sids = pages.flatMap((p) => p.participants.map((x) => x.sid));
    expect(new Set(sids).size).to.equal(pages.length * 100);
  });

  it("lets a unary call in flight finish before the server closes", async () => {
    const redis = await startRedis();
    try {
      const server = await startRollcall({ redisUrl: redis.url, redisCommandTimeoutMs: 5000 });
      const client = connectJsonHttp1(ParticipantService, server.url);
      await client.join({ room: "inflight", identity: "warm" });
      const storeCalls = countCalls(server.store);
      redis.signal("SIGSTOP");
      const join = client.join({ room: "inflight", identity: "late" });
      await waitFor(() => storeCalls() > 0, { what: "the join to reach the store" });
      const closed = server.close();
      await waitFor(() => refusesConnections(server.port), { what: "the closing server to stop accepting connections" });
      redis.signal("SIGCONT");
      const joined = await join;
      expect(joined.participant!.identity).to.equal("late");
      await closed;
    } finally {
      await redis.stop();
    }
  });

  it("under load: every unary call in flight completes, every stream ends with Unavailable, and closing takes a bounded time", async () => {
    const redis = await startRedis();
    try {
      const server = await startRollcall({
        redisUrl: redis.url,
        redisCommandTimeoutMs: 5000,
        maxParticipants: 5000,
        shutdownGraceMs: 3000,
      });
      const rooms = connectJsonHttp1(RoomService, server.url);
      const room = (await rooms.create({ maxParticipants: 5000 })).room!;
      for (let i = 0; i < 2000; i++) await server.store.join(testAccount.sid, room.sid, newSid("PA"), `p${i}`);
      const streaming = connectBinaryHttp2(ParticipantService, server.url);
      const pagesRead = [0, 0, 0];
      const streams = pagesRead.map(async (_, s) => {
        try {
          for await (const page of streaming.list({ room: room.sid, pageSize: 50 })) {
            expect(page.participants).to.have.length(50);
            pagesRead[s]!++;
            // A client's pace, not a synchronisation.
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
          return undefined;
        } catch (error) {
          return ConnectError.from(error).code;
        }
      });
      await waitFor(() => pagesRead.every((n) => n > 0), { what: "every stream to read a page" });
      redis.signal("SIGSTOP");
      // A join by room sid reads the room first; nothing else reads a room here
      // (the streams list, the timers and callbacks use their own reads).
      const storeCalls = countCalls(server.store, (name) => name === "getRoom");
      const unary = connectBinaryHttp2(ParticipantService, server.url);
      const calls = Array.from({ length: 100 }, (_, i) => unary.join({ room: room.sid, identity: `late-${i}` }));
      await waitFor(() => storeCalls() >= 100, { what: "the 100 joins to reach the store" });
      const started = Date.now();
      const closed = server.close();
      await waitFor(() => refusesConnections(server.port), { what: "the closing server to stop accepting connections" });
      redis.signal("SIGCONT");
      const outcomes = await Promise.allSettled(calls);
      await closed;
      expect(outcomes.filter((o) => o.status === "rejected")).to.deep.equal([]);
      expect(await Promise.all(streams)).to.deep.equal([Code.Unavailable, Code.Unavailable, Code.Unavailable]);
      expect(Date.now() - started).to.be.below(3000 + 1000);
    } finally {
      await redis.stop();
    }
  });

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`the process exits cleanly on ${signal}`, async () => {
      const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
        env: { ...process.env, PORT: "0", GRPC_PORT: "0", REDIS_URL: "", ROLLCALL_CREDENTIALS_FILE: "" },
        stdio: ["ignore", "pipe", "inherit"],
      });
      let output = "";
      const serving = new Promise<string>((resolve) => {
        child.stdout.on("data", (chunk: Buffer) => {
          output += chunk.toString();
          const match = /serving .* on (http:\/\/[^\s"]+)/.exec(output);
          if (match) resolve(match[1]!);
        });
      });
      const url = await serving;
      expect((JSON.parse(output.split("\n")[0]!) as { msg: string }).msg).to.match(/^store: in-memory store/);
      const [, account, token] = /account (AC[0-9a-f]{32}) auth token ([^\s"]+)/.exec(output)!;
      const joined = await connectJsonHttp1(ParticipantService, url, basic(account!, token!)).join({ room: "r", identity: "a" });
      expect(joined.participant!.identity).to.equal("a");
      child.kill(signal);
      const [code] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
      expect(code).to.equal(0);
      expect(output).to.contain(`${signal}: finishing calls in flight`);
    });
  }
});

// Counts the calls made from now on to the store's methods that `counted`
// names (every one by default).
function countCalls(store: Store, counted: (name: string) => boolean = () => true): () => number {
  let calls = 0;
  const methods = store as unknown as Record<string, unknown>;
  for (
    let proto = Object.getPrototypeOf(store) as object | null;
    proto !== null && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto) as object | null
  ) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const method = methods[name];
      if (name === "constructor" || !counted(name) || typeof method !== "function" || Object.hasOwn(store, name)) continue;
      methods[name] = function (this: unknown, ...args: unknown[]) {
        calls++;
        return (method as (...a: unknown[]) => unknown).apply(this, args);
      };
    }
  }
  return () => calls;
}

// Whether nothing listens on this port of 127.0.0.1 any more.
function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(true));
  });
}
