import { Code, ConnectError } from "@connectrpc/connect";
import { expect } from "chai";
import { Redis } from "ioredis";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventService, EventType, type Event } from "../../gen/rollcall/v1/event_pb.js";
import { ParticipantService, ParticipantStatus } from "../../gen/rollcall/v1/participant_pb.js";
import { RoomService } from "../../gen/rollcall/v1/room_pb.js";
import { newSid } from "../../src/operations/sids.js";
import { RedisStore } from "../../src/store/redis/redis-store.js";
import { testLimits } from "../support/records.js";
import { connectBinaryHttp2, yielded } from "../support/clients.js";
import { startRedis, type TestRedis } from "../support/redis-server.js";
import { startRollcallProcess, stopProcess } from "../support/rollcall-process.js";
import { testAccount } from "../support/rollcall.js";
import { storedInvariantViolations } from "../support/stored-invariants.js";
import { waitFor } from "../support/wait.js";
import { watchUntil } from "../support/watch.js";

// rollcall in a process of its own, so that a test can SIGKILL it.
function rollcallProcess(redisUrl: string, credentialsFile: string, env: Record<string, string> = {}) {
  return startRollcallProcess({
    REDIS_URL: redisUrl,
    ROLLCALL_CREDENTIALS_FILE: credentialsFile,
    ROLLCALL_REDIS_TIMEOUT_MS: "1000",
    ...env,
  });
}

describe("the change log across crashes, instances and slow consumers", function () {
  this.timeout(120_000);
  let redis: TestRedis;
  let scratch: string;
  let credentialsFile: string;
  const children: ChildProcess[] = [];

  beforeEach(async () => {
    redis = await startRedis(["--appendonly", "yes", "--appendfsync", "always"]);
    scratch = mkdtempSync(join(tmpdir(), "rollcall-log-"));
    credentialsFile = join(scratch, "credentials.json");
    writeFileSync(credentialsFile, JSON.stringify({ accounts: [{ sid: testAccount.sid, auth_token: testAccount.token }] }));
  });
  afterEach(async () => {
    for (const child of children.splice(0)) await stopProcess(child);
    await redis.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("SIGKILL of Redis (append-only, fsync always) and rollcall mid-load: log and state agree, and a resumed watcher sees every acknowledged change once", async () => {
    const first = await rollcallProcess(redis.url, credentialsFile);
    children.push(first.child);
    const rooms = connectBinaryHttp2(RoomService, first.url);
    const participants = connectBinaryHttp2(ParticipantService, first.url);
    const roomSids: string[] = [];
    for (let r = 0; r < 3; r++) roomSids.push((await rooms.create({ uniqueName: `crash-${r}`, maxParticipants: 50 })).room!.sid);

    // An account-wide watcher, keeping what it saw and its last cursor.
    const seen: Event[] = [];
    let cursor = (await watchUntil(connectBinaryHttp2(EventService, first.url), {}, () => true)).cursor;
    const watching = new AbortController();
    const watcher = (async () => {
      try {
        for await (const message of connectBinaryHttp2(EventService, first.url).watch({ after: cursor }, { signal: watching.signal })) {
          seen.push(...message.events);
          cursor = message.cursor;
        }
      } catch {
        // The server was killed: the watcher resumes from its cursor later.
      }
    })();

    // Acknowledged changes: a participant and the status it was left in.
    const acknowledged = new Map<string, { roomSid: string; status: ParticipantStatus }>();
    let running = true;
    const worker = async (w: number) => {
      for (let i = 0; running; i++) {
        const roomSid = roomSids[(w + i) % roomSids.length]!;
        try {
          if (i % 3 === 2) {
            const { participant } = await participants.update({
              room: roomSid,
              participant: `id-${(w * 5 + i) % 10}`,
              status: ParticipantStatus.DISCONNECTED,
            });
            acknowledged.set(participant!.sid, { roomSid, status: ParticipantStatus.DISCONNECTED });
          } else {
            const { participant, displaced } = await participants.join({ room: roomSid, identity: `id-${(w * 5 + i) % 10}` });
            acknowledged.set(participant!.sid, { roomSid, status: ParticipantStatus.CONNECTED });
            if (displaced) acknowledged.set(displaced.sid, { roomSid, status: ParticipantStatus.DISCONNECTED });
          }
        } catch (error) {
          // Not present: nothing to kick. Anything else: the crash.
          if (ConnectError.from(error).code === Code.NotFound) continue;
          return;
        }
      }
    };
    const workers = Array.from({ length: 6 }, (_, w) => worker(w));
    await waitFor(() => acknowledged.size >= 150, { timeoutMs: 30_000, what: "150 acknowledged changes" });
    await Promise.all([redis.halt("SIGKILL"), stopProcess(first.child)]);
    running = false;
    await Promise.all(workers);
    watching.abort();
    await watcher;

    await redis.restart();
    const direct = new Redis(redis.url);
    try {
      expect(await storedInvariantViolations(direct)).to.deep.equal([]);
    } finally {
      direct.disconnect();
    }

    const second = await rollcallProcess(redis.url, credentialsFile);
    children.push(second.child);
    const logLength = new Map<string, number>();
    const direct2 = new Redis(redis.url);
    try {
      for (const roomSid of roomSids) {
        const [key] = await direct2.keys(`rc:{${testAccount.sid}:*}:${roomSid}:room`);
        logLength.set(roomSid, Number(await direct2.hget(key!, "log_sequence")));
      }
    } finally {
      direct2.disconnect();
    }
    const lastSeen = (roomSid: string, events: Event[]) =>
      Math.max(0, ...events.filter((e) => e.roomSid === roomSid).map((e) => Number(e.sequence)));
    const resumed = await watchUntil(connectBinaryHttp2(EventService, second.url), { after: cursor }, (received) =>
      roomSids.every((roomSid) => lastSeen(roomSid, [...seen, ...received]) === logLength.get(roomSid)),
    );
    const all = [...seen, ...resumed.received];
    for (const roomSid of roomSids) {
      const sequences = all.filter((e) => e.roomSid === roomSid).map((e) => Number(e.sequence));
      // The room's creation came before the watch began.
      expect(sequences, roomSid).to.deep.equal(Array.from({ length: logLength.get(roomSid)! - 1 }, (_, i) => i + 2));
    }
    const lastStatus = new Map<string, ParticipantStatus>();
    for (const event of all) {
      if (event.participant !== undefined) lastStatus.set(event.participant.sid, event.participant.status);
    }
    for (const [sid, { status }] of acknowledged) {
      expect(lastStatus.has(sid), `${sid} acknowledged but never seen`).to.equal(true);
      if (status === ParticipantStatus.DISCONNECTED) expect(lastStatus.get(sid), sid).to.equal(ParticipantStatus.DISCONNECTED);
    }
  });

  it("a watcher that stops reading while 100 000 events are written holds the server's memory, then resumes without a gap", async () => {
    const server = await rollcallProcess(redis.url, credentialsFile, {
      ROLLCALL_MAX_PARTICIPANTS: "200000",
      NODE_OPTIONS: "--max-old-space-size=160",
    });
    children.push(server.child);
    const writer = await RedisStore.connect(redis.url, { commandTimeoutMs: 5000, ...testLimits });
    try {
      const room = (await connectBinaryHttp2(RoomService, server.url).create({ uniqueName: "slow", maxParticipants: 200_000 })).room!.sid;
      const stream = connectBinaryHttp2(EventService, server.url).watch({ room })[Symbol.asyncIterator]();
      expect(yielded(await stream.next()).events).to.deep.equal([]);

      const rssBefore = rssOf(server.child.pid!);
      const total = 100_000;
      for (let batch = 0; batch < total; batch += 1000) {
        await Promise.all(Array.from({ length: 1000 }, (_, i) => writer.join(testAccount.sid, room, newSid("PA"), `slow-${batch + i}`)));
      }
      // The stalled stream holds an HTTP/2 window and a batch, not the 100 000
      // events (about 50 MB encoded, several times that as objects): the
      // server runs with a 160 MB heap, which holding them would exhaust, and
      // its resident set stays within 200 MB of where it was (the garbage of
      // the shared reader decoding every event as it passes comes and goes
      // with the collector: 50 to 100 MB on this machine).
      const growth = rssOf(server.child.pid!) - rssBefore;
      expect(growth, `the server's RSS grew by ${Math.round(growth / 1e6)} MB`).to.be.below(200e6);

      let next = 2;
      while (next <= total + 1) {
        const result = await stream.next();
        if (result.done) break;
        for (const event of result.value.events) {
          expect(Number(event.sequence)).to.equal(next);
          expect(event.type).to.equal(EventType.PARTICIPANT_CONNECTED);
          next++;
        }
      }
      expect(next).to.equal(total + 2);
      await stream.return?.();
    } finally {
      await writer.close();
    }
  });
});

// A process's resident set, in bytes.
function rssOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmRSS:"));
  return Number(/(\d+)/.exec(line ?? "")?.[1]) * 1024;
}
