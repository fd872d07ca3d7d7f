import { expect } from "chai";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventService, EventType, RoomEndReason, type Event } from "../../gen/rollcall/v1/event_pb.js";
import { RoomService, type Room } from "../../gen/rollcall/v1/room_pb.js";
import { connectBinaryHttp2 } from "../support/clients.js";
import { t0 } from "../support/records.js";
import { startRedis, type TestRedis } from "../support/redis-server.js";
import { startRollcallProcess, stopProcess } from "../support/rollcall-process.js";
import { startRollcall, testAccount } from "../support/rollcall.js";
import { waitFor } from "../support/wait.js";
import { roomLog } from "../support/watch.js";

// Timers fire once however many instances sweep, after a restart of all of
// them, and on a real clock within a second of their deadline.
describe("timers across instances, restarts and real time", function () {
  this.timeout(180_000);
  let redis: TestRedis;

  beforeEach(async () => {
    redis = await startRedis(["--appendonly", "yes"]);
  });
  afterEach(async () => redis.stop());

  async function roomEnds(store: Awaited<ReturnType<typeof startRollcall>>["store"], sids: string[]): Promise<number[]> {
    return Promise.all(sids.map(async (sid) => (await roomLog(store, testAccount.sid, sid)).filter((e) => e.type === "room-ended").length));
  }

  it("three instances sweeping the same due timers at once end each room once", async () => {
    const clock = { now: t0 };
    const servers = await Promise.all(
      [1, 2, 3].map(() => startRollcall({ redisUrl: redis.url, timersEnabled: false }, { now: () => clock.now })),
    );
    try {
      const rooms = connectBinaryHttp2(RoomService, servers[0]!.url);
      const sids: string[] = [];
      for (let i = 0; i < 40; i++) sids.push((await rooms.create({ uniqueName: `race-${i}`, unusedRoomTimeout: 1 })).room!.sid);
      clock.now = t0 + 60_000;
      await Promise.all(servers.flatMap((server) => [server.timers.sweep(), server.timers.sweep()]));
      expect(await roomEnds(servers[0]!.store, sids)).to.deep.equal(sids.map(() => 1));
      const fired = servers.reduce((sum, server) => sum + server.timers.stats.fired, 0);
      expect(fired).to.equal(sids.length);
    } finally {
      await Promise.all(servers.map((server) => server.close()));
    }
  });

  it("after every instance was stopped past the deadlines, the next ones end the overdue rooms at once, each once", async () => {
    const clock = { now: t0 };
    const first = await startRollcall({ redisUrl: redis.url, timersEnabled: false }, { now: () => clock.now });
    const rooms = connectBinaryHttp2(RoomService, first.url);
    const sids: string[] = [];
    for (let i = 0; i < 20; i++) sids.push((await rooms.create({ uniqueName: `restart-${i}`, unusedRoomTimeout: 1 + (i % 3) })).room!.sid);
    await first.close();
    clock.now = t0 + 10 * 60_000;
    const next = await Promise.all(
      [1, 2].map(() => startRollcall({ redisUrl: redis.url, timersEnabled: false }, { now: () => clock.now })),
    );
    try {
      await Promise.all(next.map((server) => server.timers.sweep()));
      expect(await roomEnds(next[0]!.store, sids)).to.deep.equal(sids.map(() => 1));
    } finally {
      await Promise.all(next.map((server) => server.close()));
    }
  });

  it("on a real clock: rooms unused for 1 minute end within a second of their deadline, once, with one of three instances killed on the way", async () => {
    const scratch = mkdtempSync(join(tmpdir(), "rollcall-timers-"));
    const credentials = join(scratch, "credentials.json");
    writeFileSync(credentials, JSON.stringify({ accounts: [{ sid: testAccount.sid, auth_token: testAccount.token }] }));
    const children: ChildProcess[] = [];
    try {
      const urls: string[] = [];
      for (let i = 0; i < 3; i++) {
        const started = await startRollcallProcess({
          REDIS_URL: redis.url,
          ROLLCALL_CREDENTIALS_FILE: credentials,
          ROLLCALL_CALLBACKS: "off",
        });
        children.push(started.child);
        urls.push(started.url);
      }
      const rooms = connectBinaryHttp2(RoomService, urls[0]!);
      const created: Room[] = [];
      for (let i = 0; i < 10; i++) created.push((await rooms.create({ uniqueName: `real-${i}`, unusedRoomTimeout: 1 })).room!);
      // An account-wide watch on the second instance collects the ends.
      const ended: Event[] = [];
      const watching = new AbortController();
      const watch = (async () => {
        try {
          for await (const message of connectBinaryHttp2(EventService, urls[1]!).watch({}, { signal: watching.signal })) {
            ended.push(...message.events.filter((e) => e.type === EventType.ROOM_ENDED));
          }
        } catch {
          // Aborted at the end of the test.
        }
      })();
      // The third instance dies a little before the deadlines.
      const deadline =
        Math.max(...created.map((room) => Number(room.dateCreated!.seconds) * 1000 + room.dateCreated!.nanos / 1e6)) + 60_000;
      await waitFor(() => Date.now() >= deadline - 200, { timeoutMs: 70_000, intervalMs: 50, what: "the deadlines to draw near" });
      children[2]!.kill("SIGKILL");
      await waitFor(() => ended.length >= created.length, { timeoutMs: 15_000, what: "every room to end" });
      watching.abort();
      await watch;
      expect(ended.map((e) => e.roomSid).sort()).to.deep.equal(created.map((room) => room.sid).sort());
      expect(ended.every((e) => e.roomEndReason === RoomEndReason.UNUSED_TIMEOUT)).to.equal(true);
      const lags = ended.map((e) => {
        const room = created.find((r) => r.sid === e.roomSid)!;
        const due = Number(room.dateCreated!.seconds) * 1000 + room.dateCreated!.nanos / 1e6 + 60_000;
        return Number(e.time!.seconds) * 1000 + e.time!.nanos / 1e6 - due;
      });
      expect(Math.max(...lags), `lags ${lags.join(", ")} ms`).to.be.below(1000);
      expect(Math.min(...lags)).to.be.at.least(0);
    } finally {
      for (const child of children) await stopProcess(child, "SIGTERM");
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});
