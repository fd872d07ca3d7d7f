import { Code, ConnectError } from "@connectrpc/connect";
import { expect } from "chai";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { ParticipantService } from "../../gen/rollcall/v1/participant_pb.js";
import { RoomService } from "../../gen/rollcall/v1/room_pb.js";
import { connectBinaryHttp2, connectJsonHttp1 } from "../support/clients.js";
import { startRedis, type TestRedis } from "../support/redis-server.js";
import { startRollcall, testAuthorization } from "../support/rollcall.js";
import { waitFor } from "../support/wait.js";

describe("store faults (redis store)", () => {
  let redis: TestRedis;
  beforeEach(async () => {
    redis = await startRedis();
  });
  afterEach(async () => redis.stop());

  it("a hung Redis fails calls with Unavailable within the command timeout, and service resumes when it answers", async () => {
    const server = await startRollcall({ redisUrl: redis.url, redisCommandTimeoutMs: 300 });
    try {
      const client = connectJsonHttp1(ParticipantService, server.url);
      const room = "faulty";
      await client.join({ room, identity: "before" });
      redis.signal("SIGSTOP");
      const started = Date.now();
      const err = await client.get({ room, participant: "before" }).catch((e: unknown) => ConnectError.from(e));
      expect((err as ConnectError).code).to.equal(Code.Unavailable);
      expect(Date.now() - started, "fails within a bound, not after an unbounded wait").to.be.below(3000);
      redis.signal("SIGCONT");
      expect((await client.get({ room, participant: "before" })).participant!.identity).to.equal("before");
    } finally {
      redis.signal("SIGCONT");
      await server.close();
    }
  });

  it("with Redis hung under load, every call ends within ROLLCALL_REDIS_TIMEOUT_MS of its start, plus 200 ms and however late the process's timers run", async () => {
    const timeoutMs = 500;
    const server = await startRollcall({ redisUrl: redis.url, redisCommandTimeoutMs: timeoutMs, callbacksEnabled: false });
    const participants = connectBinaryHttp2(ParticipantService, server.url);
    const rooms = connectBinaryHttp2(RoomService, server.url);
    const calls: { name: string; ms: number; code: Code | undefined; at: number }[] = [];
    try {
      await participants.join({ room: "hung", identity: "first" });
      // Calls of one command (Get by sid), of several in sequence (Join by
      // name reads the name, then joins) and of one script (Create).
      const kinds: [string, (i: number) => Promise<unknown>][] = [
        ["get", () => rooms.get({ room: "hung" })],
        ["join", (i) => participants.join({ room: "hung", identity: `u${i % 20}` })],
        ["create", (i) => rooms.create({ uniqueName: `hung-${i}-${Date.now()}` })],
      ];
      let running = true;
      const load = Array.from({ length: 12 }, async (_, worker) => {
        for (let i = 0; running; i++) {
          const [name, call] = kinds[(worker + i) % kinds.length]!;
          const at = Date.now();
          const code = await call(i).then(
            () => undefined,
            (error: unknown) => ConnectError.from(error).code,
          );
          calls.push({ name, ms: Date.now() - at, code, at });
        }
      });
      await waitFor(() => calls.length >= 100, { what: "the load to make 100 calls" });
      // How late this process's own timers run (it hosts the callers too):
      // on a starved machine every answer is that much later, whatever rollcall does.
      const lag = monitorEventLoopDelay({ resolution: 10 });
      lag.enable();
      redis.signal("SIGSTOP");
      const stoppedAt = Date.now();
      await waitFor(() => calls.filter((c) => c.at >= stoppedAt + timeoutMs).length >= 60, {
        what: "60 calls started a whole timeout after Redis hung",
        timeoutMs: 15_000,
      });
      redis.signal("SIGCONT");
      const continuedAt = Date.now();
      lag.disable();
      const lateMs = lag.max / 1e6;
      running = false;
      await Promise.all(load);

      const hung = calls.filter((c) => c.at + c.ms > stoppedAt);
      const answered = hung.filter((c) => c.at >= stoppedAt && c.at + c.ms < continuedAt && c.code !== Code.Unavailable);
      expect(answered, "calls that ended while Redis was hung without Unavailable").to.deep.equal([]);
      const slowest = Math.max(...hung.map((c) => c.ms));
      console.log(
        "slowest",
        slowest,
        hung.length,
        JSON.stringify(
          hung
            .map((c) => c.ms)
            .sort((a, b) => b - a)
            .slice(0, 10),
        ),
      );
      expect(
        slowest,
        `the slowest call of ${hung.length} that met the hung Redis, timers up to ${lateMs.toFixed(0)} ms late`,
      ).to.be.at.most(timeoutMs + 200 + lateMs);
      expect(new Set(hung.map((c) => c.name))).to.have.length(kinds.length);
    } finally {
      redis.signal("SIGCONT");
      await server.close();
    }
  });

  it("a stopped Redis fails calls fast with Unavailable", async () => {
    const server = await startRollcall({ redisUrl: redis.url, redisCommandTimeoutMs: 300 });
    try {
      const client = connectJsonHttp1(ParticipantService, server.url);
      await redis.stop();
      const started = Date.now();
      const err = await client.join({ room: "gone", identity: "x" }).catch((e: unknown) => ConnectError.from(e));
      expect((err as ConnectError).code).to.equal(Code.Unavailable);
      expect(Date.now() - started).to.be.below(3000);
    } finally {
      await server.close();
    }
  });

  it("a call's deadline is honoured while the store hangs", async () => {
    const server = await startRollcall({ redisUrl: redis.url, redisCommandTimeoutMs: 10_000 });
    try {
      redis.signal("SIGSTOP");
      const started = Date.now();
      const res = await fetch(`${server.url}/rollcall.v1.ParticipantService/Get`, {
        method: "POST",
        headers: { "content-type": "application/json", "connect-timeout-ms": "200", authorization: testAuthorization },
        body: JSON.stringify({ room: "slow", participant: "x" }),
      });
      expect(((await res.json()) as { code: string }).code).to.equal("deadline_exceeded");
      expect(Date.now() - started).to.be.below(2000);
    } finally {
      redis.signal("SIGCONT");
      await server.close();
    }
  });
});

describe("Redis stopped and restarted in the middle of a load", () => {
  it("calls fail fast with Unavailable (REST: 503, code 20500) and health is NOT_SERVING while it is down; service resumes with no restart", async function () {
    this.timeout(30_000);
    // With an append-only file, the data is still there when Redis returns.
    const redis = await startRedis(["--appendonly", "yes"]);
    const server = await startRollcall({ redisUrl: redis.url, redisCommandTimeoutMs: 300 });
    const client = connectJsonHttp1(ParticipantService, server.url);
    const health = connectJsonHttp1(Health, server.url, "");
    try {
      await client.join({ room: "steady", identity: "first" });
      let running = true;
      const outcomes: { ok: boolean; code?: Code; ms: number; at: number }[] = [];
      const load = (async () => {
        for (let i = 0; running; i++) {
          const started = Date.now();
          try {
            await (i % 2 === 0
              ? client.join({ room: "steady", identity: `u${i % 40}` })
              : client.get({ room: "steady", participant: "first" }));
            outcomes.push({ ok: true, ms: Date.now() - started, at: started });
          } catch (error) {
            outcomes.push({ ok: false, code: ConnectError.from(error).code, ms: Date.now() - started, at: started });
          }
        }
      })();
      await waitFor(() => outcomes.filter((o) => o.ok).length >= 20, { what: "the load to make 20 calls while Redis is up" });
      await redis.halt("SIGTERM");
      const downSince = Date.now();
      const notServing = async () => (await health.check({ service: "" })).status === HealthCheckResponse_ServingStatus.NOT_SERVING;
      await waitFor(notServing, { what: "health to report NOT_SERVING once Redis is down" });
      const rest = await fetch(`${server.url}/v1/Rooms/steady/Participants/first`, { headers: { authorization: testAuthorization } });
      expect(rest.status).to.equal(503);
      expect(await rest.json()).to.include({ code: 20500, status: 503 });
      const downCalls = () => outcomes.filter((o) => o.at >= downSince + 100).length;
      await waitFor(() => downCalls() > 5, { what: "the load to make more than 5 calls while Redis is down" });
      // Redis may answer before restart() has seen it answer: the outage ends here.
      const upSince = Date.now();
      await redis.restart();
      // Service resumes with no restart of rollcall: the first call that
      // succeeds after Redis is back marks it, and every call after it succeeds.
      let resumedAt: number | undefined;
      await waitFor(
        () => {
          resumedAt = outcomes.find((o) => o.ok && o.at >= upSince)?.at;
          return resumedAt !== undefined;
        },
        { what: "a call to succeed after Redis returned", timeoutMs: 10_000 },
      );
      await waitFor(() => outcomes.filter((o) => o.at > resumedAt!).length >= 20, {
        what: "the load to make 20 calls after service resumed",
      });
      running = false;
      await load;

      const during = outcomes.filter((o) => o.at >= downSince + 100 && o.at < upSince);
      expect(during.length, "calls were made while Redis was down").to.be.greaterThan(5);
      expect(
        during.every((o) => !o.ok && o.code === Code.Unavailable),
        "every call failed with Unavailable",
      ).to.equal(true);
      expect(Math.max(...during.map((o) => o.ms)), "each failed fast").to.be.below(1500);
      const after = outcomes.filter((o) => o.at > resumedAt!);
      expect(after.length, "calls after service resumed").to.be.greaterThan(5);
      expect(
        after.filter((o) => !o.ok),
        "service resumed",
      ).to.deep.equal([]);
      expect((await health.check({ service: "" })).status).to.equal(HealthCheckResponse_ServingStatus.SERVING);
    } finally {
      await server.close();
      await redis.stop();
    }
  });
});
