import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { expect } from "chai";
import { Redis } from "ioredis";
import { ParticipantService, ParticipantStatus } from "../../gen/rollcall/v1/participant_pb.js";
import { RoomService, RoomStatus } from "../../gen/rollcall/v1/room_pb.js";
import { roomKeys } from "../../src/store/redis/keys.js";
import { connectBinaryHttp2 } from "../support/clients.js";
import { startRedis, type TestRedis } from "../support/redis-server.js";
import { startRollcall } from "../support/rollcall.js";
import { storedInvariantViolations } from "../support/stored-invariants.js";
import { waitFor } from "../support/wait.js";

// With appendonly yes and appendfsync always, Redis writes every change to
// its append-only file before answering, so a crash loses nothing rollcall
// acknowledged; and each change is one script, so a crash never leaves half
// of one behind.
describe("durability and atomicity across a Redis crash (appendfsync always)", function () {
  this.timeout(60_000);
  let redis: TestRedis;
  let server: Awaited<ReturnType<typeof startRollcall>>;
  let participants: Client<typeof ParticipantService>;
  let rooms: Client<typeof RoomService>;

  beforeEach(async () => {
    redis = await startRedis(["--appendonly", "yes", "--appendfsync", "always"]);
    server = await startRollcall({ redisUrl: redis.url, redisCommandTimeoutMs: 1000 });
    participants = connectBinaryHttp2(ParticipantService, server.url);
    rooms = connectBinaryHttp2(RoomService, server.url);
  });
  afterEach(async () => {
    await server.close();
    await redis.stop();
  });

  async function violationsAfterRestart(): Promise<string[]> {
    const direct = new Redis(redis.url);
    try {
      return await storedInvariantViolations(direct);
    } finally {
      direct.disconnect();
    }
  }

  it("a SIGKILLed Redis restarted from its append-only file has every acknowledged join, kick and completion", async () => {
    const roomSids: string[] = [];
    for (let r = 0; r < 4; r++) roomSids.push((await rooms.create({ uniqueName: `aof-${r}`, maxParticipants: 50 })).room!.sid);
    const expected = new Map<string, { roomSid: string; status: ParticipantStatus }>();
    const joins = await Promise.all(
      Array.from({ length: 160 }, (_, i) => participants.join({ room: roomSids[i % 4]!, identity: `user-${i}` })),
    );
    for (const { participant } of joins)
      expected.set(participant!.sid, { roomSid: participant!.roomSid, status: ParticipantStatus.CONNECTED });
    const kicked = joins.filter((_, i) => i % 5 === 0).map((j) => j.participant!);
    await Promise.all(
      kicked.map((p) => participants.update({ room: p.roomSid, participant: p.sid, status: ParticipantStatus.DISCONNECTED })),
    );
    for (const p of kicked) expected.get(p.sid)!.status = ParticipantStatus.DISCONNECTED;
    await rooms.update({ room: roomSids[3]!, status: RoomStatus.COMPLETED });
    for (const [, p] of expected) if (p.roomSid === roomSids[3]) p.status = ParticipantStatus.DISCONNECTED;

    await redis.halt("SIGKILL");
    await redis.restart();

    for (const [sid, { roomSid, status }] of expected) {
      const stored = await retryWhileUnavailable(() => participants.get({ room: roomSid, participant: sid }));
      expect(stored.participant!.status, sid).to.equal(status);
    }
    expect((await rooms.get({ room: roomSids[3]! })).room!.status).to.equal(RoomStatus.COMPLETED);
    expect(await violationsAfterRestart()).to.deep.equal([]);
  });

  it("the invariant check sees a change applied halfway", async () => {
    const joined = (await participants.join({ room: "half", identity: "ann" })).participant!;
    expect(await violationsAfterRestart()).to.deep.equal([]);
    const direct = new Redis(redis.url);
    try {
      // The hash says disconnected; the indexes and present map still say connected.
      await direct.hset(
        roomKeys(joined.accountSid, joined.roomSid).participant(joined.sid),
        "status",
        "disconnected",
        "end_time",
        "9999999999999",
      );
    } finally {
      direct.disconnect();
    }
    const violations = await violationsAfterRestart();
    expect(violations.join("\n")).to.contain("missing from by-start:disconnected").and.to.contain("still in present");
  });

  it("a crash in the middle of joins, kicks and completions leaves no change half applied", async () => {
    const names = ["crash-a", "crash-b", "crash-c"];
    let running = true;
    let acknowledged = 0;
    let unavailable = 0;
    const worker = async (w: number) => {
      for (let i = 0; running; i++) {
        const room = names[(w + i) % names.length]!;
        const identity = `id-${(w * 7 + i) % 12}`;
        const step = i % 9;
        try {
          if (step === 8) await rooms.update({ room, status: RoomStatus.COMPLETED });
          else if (step % 3 === 2) await participants.update({ room, participant: identity, status: ParticipantStatus.DISCONNECTED });
          else await participants.join({ room, identity });
          acknowledged++;
        } catch (error) {
          const code = ConnectError.from(error).code;
          if (code === Code.Unavailable) unavailable++;
          // Unavailable while Redis is down; the rest are the domain's answers.
          expect([Code.Unavailable, Code.NotFound, Code.ResourceExhausted, Code.FailedPrecondition], String(error)).to.include(code);
        }
      }
    };
    const workers = Array.from({ length: 8 }, (_, w) => worker(w));
    await waitFor(() => acknowledged >= 60, { what: "the workers to have 60 changes acknowledged" });
    await redis.halt("SIGKILL");
    await waitFor(() => unavailable > 0, { what: "a worker to see Redis gone (Unavailable)" });
    await redis.restart();
    const atRestart = acknowledged;
    await waitFor(() => acknowledged >= atRestart + 30, {
      what: "the workers to have 30 more changes acknowledged after the restart",
      timeoutMs: 15_000,
    });
    running = false;
    await Promise.all(workers);
    expect(acknowledged).to.be.greaterThan(50);
    expect(await violationsAfterRestart()).to.deep.equal([]);
  });
});

// Calls right after a restart may still find the connection re-establishing.
async function retryWhileUnavailable<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (ConnectError.from(error).code !== Code.Unavailable || attempt >= 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
