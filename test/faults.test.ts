import { Code, ConnectError } from "@connectrpc/connect";
import { expect } from "chai";
import { ParticipantService } from "../gen/rollcall/v1/participant_pb.js";
import { connectJsonHttp1 } from "./support/clients.js";
import { startRedis, type TestRedis } from "./support/redis-server.js";
import { startRollcall, testAuthorization } from "./support/rollcall.js";

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
