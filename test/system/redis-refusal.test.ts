import { Code, ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { expect } from "chai";
import { rmSync } from "node:fs";
import { Redis } from "ioredis";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { ParticipantService } from "../../gen/rollcall/v1/participant_pb.js";
import { RoomService } from "../../gen/rollcall/v1/room_pb.js";
import { connectBinaryHttp2, connectJsonHttp1, grpcJs, rejection } from "../support/clients.js";
import { startRedis, type TestRedis } from "../support/redis-server.js";
import { roomDirectoryViolations } from "../support/room-directory.js";
import { startRollcall, testAccount, testAuthorization } from "../support/rollcall.js";
import { storedInvariantViolations } from "../support/stored-invariants.js";
import type { ErrorJson } from "../support/twilio-json.js";
import { waitFor } from "../support/wait.js";

type Rollcall = Awaited<ReturnType<typeof startRollcall>>;

// Redis that answers but refuses writes: out of memory under noeviction, a
// read-only replica as REDIS_URL, a failed snapshot (MISCONF). Every protocol
// answers Unavailable (REST 503) naming the cause, the log says so once when
// it starts and once when it ends, readiness is NOT_SERVING meanwhile, and a
// refused room creation leaves nothing behind.

async function restCreate(server: Rollcall, name: string): Promise<{ status: number; body: ErrorJson }> {
  const res = await fetch(`${server.url}/v1/Rooms`, {
    method: "POST",
    headers: { authorization: testAuthorization, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ UniqueName: name }),
  });
  return { status: res.status, body: (await res.json()) as ErrorJson };
}

async function grpcFailure(call: Promise<unknown>): Promise<grpc.ServiceError> {
  return call.then(
    () => expect.fail("expected the call to fail"),
    (error: grpc.ServiceError) => error,
  );
}

function health(server: Rollcall): () => Promise<ServingStatus> {
  const client = connectJsonHttp1(Health, server.url, "");
  return async () => (await client.check({ service: "" })).status;
}

const refusing = (logs: string[]) => logs.filter((line) => line.startsWith("store: refusing writes"));
const accepting = (logs: string[]) => logs.filter((line) => line.startsWith("store: accepting writes again"));

// Every protocol answers a write with Unavailable naming the cause.
async function expectRefusedEverywhere(server: Rollcall, cause: string, name: string): Promise<void> {
  const rest = await restCreate(server, `${name}-rest`);
  expect(rest.status).to.equal(503);
  expect(rest.body).to.include({ code: 20500, status: 503 });
  expect(rest.body.message).to.include(cause);
  const connect = await rejection(connectJsonHttp1(ParticipantService, server.url).join({ room: `${name}-connect`, identity: "alice" }));
  expect(connect.code).to.equal(Code.Unavailable);
  expect(connect.rawMessage).to.include(cause);
  const client = grpcJs(RoomService, `127.0.0.1:${server.grpcPort}`);
  try {
    const error = await grpcFailure(client.create({ uniqueName: `${name}-grpc` }));
    expect(error.code).to.equal(grpc.status.UNAVAILABLE);
    expect(error.details).to.include(cause);
  } finally {
    client.close();
  }
}

describe("Redis refusing writes", function () {
  this.timeout(60_000);
  let redis: TestRedis;
  let server: Rollcall | undefined;
  let direct: Redis;
  const stops: (() => Promise<void>)[] = [];

  afterEach(async () => {
    await server?.close();
    server = undefined;
    direct?.disconnect();
    while (stops.length > 0) await stops.pop()!();
  });

  async function started(args: string[] = []): Promise<TestRedis> {
    const made = await startRedis(args);
    stops.push(() => made.stop());
    return made;
  }

  it("out of memory (maxmemory 1mb, noeviction): 503 naming the cause on every protocol, logged once, NOT_SERVING, no orphan rooms", async () => {
    redis = await started(["--maxmemory", "1mb", "--maxmemory-policy", "noeviction"]);
    direct = new Redis(redis.url);
    // The callback relay's blocking readers (a connection each) would take the 1 MB by themselves.
    server = await startRollcall({ redisUrl: redis.url, callbacksEnabled: false, timersEnabled: false });
    const status = health(server);
    const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await direct.info("memory"))![1]);

    // Well over the limit, so that it stays over whatever the connections' buffers do.
    await direct.config("SET", "maxmemory", "0");
    await direct.set("ballast", "x".repeat(200_000));
    await direct.config("SET", "maxmemory", "1mb");
    expect(await usedMemory()).to.be.above(1024 * 1024);

    for (let i = 0; i < 20; i++)
      await expectRefusedEverywhere(server, "Redis is out of memory (maxmemory reached with noeviction)", `oom-${i}`);
    expect(refusing(server.logs), "logged once, not per call").to.have.length(1);
    expect(server.logs.filter((line) => line.includes("internal error"))).to.deep.equal([]);
    expect(await status()).to.equal(ServingStatus.NOT_SERVING);
    expect(String(await server.store.ping().catch((error: Error) => error))).to.include("out of memory");

    // On the edge of the limit: after each refused creation, a few bytes
    // (0 to 4 000, varied) above what Redis uses, so that some creations
    // find room for their first write but not for the rest.
    await direct.del("ballast");
    const outcomes = new Map<number, number>();
    for (let i = 0; i < 420; i++) {
      const { status: code } = await restCreate(server, `edge-${i}`);
      outcomes.set(code, (outcomes.get(code) ?? 0) + 1);
      if (code === 503) await direct.config("SET", "maxmemory", String((await usedMemory()) + ((i * 137) % 4000)));
    }
    expect(
      [...outcomes.keys()].every((code) => code === 201 || code === 503),
      `outcomes ${JSON.stringify([...outcomes])}`,
    ).to.equal(true);
    expect(outcomes.get(201), "creations made on the edge").to.be.greaterThan(0);
    expect(outcomes.get(503), "creations refused on the edge").to.be.greaterThan(0);

    await direct.config("SET", "maxmemory", "0");
    await waitFor(async () => (await status()) === ServingStatus.SERVING, { what: "readiness once Redis accepts writes" });
    await waitFor(() => accepting(server!.logs).length > 0, { what: "the log line saying writes are accepted again" });
    expect((await restCreate(server, "after")).status).to.equal(201);

    expect(await roomDirectoryViolations(direct, testAccount.sid)).to.deep.equal([]);
    expect(await storedInvariantViolations(direct)).to.deep.equal([]);
  });

  it("REDIS_URL naming a read-only replica: 503 naming the cause on every protocol, logged once, NOT_SERVING until it is promoted", async () => {
    // Without the default 5 s wait before a diskless sync.
    const primary = await started(["--repl-diskless-sync-delay", "0"]);
    redis = await started(["--replicaof", "127.0.0.1", String(primary.port)]);
    direct = new Redis(redis.url);
    await waitFor(async () => (await direct.info("replication")).includes("master_link_status:up"), {
      what: "the replica to follow its primary",
    });
    server = await startRollcall({ redisUrl: redis.url });
    const status = health(server);
    await waitFor(() => refusing(server!.logs).length === 1, { what: "the refusal to be logged at start, before any call" });

    for (let i = 0; i < 20; i++) await expectRefusedEverywhere(server, "Redis is a read-only replica", `ro-${i}`);
    expect(refusing(server.logs), "logged once, not per call").to.have.length(1);
    expect(await status()).to.equal(ServingStatus.NOT_SERVING);

    await direct.replicaof("NO", "ONE");
    await waitFor(async () => (await status()) === ServingStatus.SERVING, { what: "readiness once the replica is promoted" });
    await waitFor(() => accepting(server!.logs).length === 1, { what: "the log line saying writes are accepted again" });
    expect((await restCreate(server, "after")).status).to.equal(201);
    expect(refusing(server.logs)).to.have.length(1);
    expect(await roomDirectoryViolations(direct, testAccount.sid)).to.deep.equal([]);
  });

  it("a failed snapshot (MISCONF): 503 naming the cause on every protocol, logged once, NOT_SERVING until writes are allowed again", async () => {
    redis = await started();
    direct = new Redis(redis.url);
    server = await startRollcall({ redisUrl: redis.url });
    const status = health(server);
    expect((await restCreate(server, "before")).status).to.equal(201);

    // Snapshots on, and Redis' directory removed: the next BGSAVE fails.
    await direct.config("SET", "save", "3600 1");
    rmSync(redis.dir, { recursive: true });
    await direct.bgsave();
    await waitFor(async () => (await direct.info("persistence")).includes("rdb_last_bgsave_status:err"), { what: "the snapshot to fail" });

    for (let i = 0; i < 20; i++) await expectRefusedEverywhere(server, "Redis cannot persist to disk", `misconf-${i}`);
    expect(refusing(server.logs), "logged once, not per call").to.have.length(1);
    expect(server.logs.filter((line) => line.includes("internal error"))).to.deep.equal([]);
    expect(await status()).to.equal(ServingStatus.NOT_SERVING);

    await direct.config("SET", "stop-writes-on-bgsave-error", "no");
    await waitFor(async () => (await status()) === ServingStatus.SERVING, { what: "readiness once writes are allowed again" });
    await waitFor(() => accepting(server!.logs).length === 1, { what: "the log line saying writes are accepted again" });
    expect((await restCreate(server, "after")).status).to.equal(201);
    expect(await roomDirectoryViolations(direct, testAccount.sid)).to.deep.equal([]);
    // Else Redis would refuse to shut down, unable to save.
    await direct.config("SET", "save", "");
  });

  it("a NOSCRIPT storm (SCRIPT FLUSH in a loop): calls repeat their scripts and succeed, or answer Unavailable naming the cause; never internal", async () => {
    redis = await started();
    direct = new Redis(redis.url);
    server = await startRollcall({ redisUrl: redis.url, callbacksEnabled: false });
    const participants = connectBinaryHttp2(ParticipantService, server.url);
    let flushing = true;
    let flushes = 0;
    const flusher = (async () => {
      for (; flushing; flushes++) await direct.script("FLUSH");
    })();
    const outcomes = new Map<string, number>();
    try {
      await Promise.all(
        Array.from({ length: 16 }, async (_, worker) => {
          for (let i = 0; i < 200; i++) {
            const outcome = await participants.join({ room: `storm-${worker}`, identity: `u${i % 10}` }).then(
              () => "ok",
              (error: unknown) => `${Code[ConnectError.from(error).code]}: ${ConnectError.from(error).rawMessage}`,
            );
            outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
          }
        }),
      );
    } finally {
      flushing = false;
      await flusher;
    }
    expect(flushes, "scripts flushed during the load").to.be.greaterThan(100);
    const failures = [...outcomes.keys()].filter((outcome) => outcome !== "ok");
    expect(failures.filter((outcome) => !outcome.startsWith("Unavailable: Redis keeps losing"))).to.deep.equal([]);
    expect(server.logs.filter((line) => line.includes("internal error"))).to.deep.equal([]);
    expect(refusing(server.logs).length, "at most one line per refused call's state change").to.be.at.most(failures.length === 0 ? 0 : 3);
  });
});
