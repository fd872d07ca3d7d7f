import { create, toBinary } from "@bufbuild/protobuf";
import { expect } from "chai";
import { Redis } from "ioredis";
import http2 from "node:http2";
import { ParticipantServiceJoinRequestSchema } from "../../gen/rollcall/v1/participant_pb.js";
import { startRedis, type TestRedis } from "../support/redis-server.js";
import { startRollcall, testAuthorization } from "../support/rollcall.js";
import { frame } from "../support/wire/envelopes.js";

// A stream the client resets right after its request (HEADERS, DATA,
// RST_STREAM back to back: a rapid reset) does no work: no Redis command
// starts for it. Counted with Redis' own INFO commandstats.

const perSession = 200;
const sessions = 10;

async function commandsRun(redis: Redis): Promise<number> {
  const stats = await redis.info("commandstats");
  let calls = 0;
  for (const match of stats.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) if (match[1] !== "info") calls += Number(match[2]);
  return calls;
}

// Sends `perSession` requests on each of `sessions` connections, each reset
// at once, and waits until the server closed every stream.
async function rapidReset(port: number, headers: http2.OutgoingHttpHeaders, body: Buffer | undefined): Promise<void> {
  await Promise.all(
    Array.from({ length: sessions }, async () => {
      const session = http2.connect(`http://127.0.0.1:${port}`);
      session.on("error", () => {});
      const closed: Promise<void>[] = [];
      for (let i = 0; i < perSession; i++) {
        const stream = session.request(headers, { endStream: body === undefined });
        stream.on("error", () => {});
        if (body !== undefined) stream.end(body);
        stream.close(http2.constants.NGHTTP2_CANCEL);
        closed.push(new Promise((resolve) => stream.on("close", resolve)));
      }
      await Promise.all(closed);
      await new Promise<void>((resolve) => session.close(resolve));
    }),
  );
}

describe("cancelled calls", function () {
  this.timeout(120_000);
  let redis: TestRedis;
  let client: Redis;
  let server: Awaited<ReturnType<typeof startRollcall>>;

  before(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
    server = await startRollcall({ redisUrl: redis.url, timersEnabled: false, callbacksEnabled: false });
  });
  after(async () => {
    await server?.close();
    client?.disconnect();
    await redis?.stop();
  });

  const join = frame(
    0,
    Buffer.from(
      toBinary(ParticipantServiceJoinRequestSchema, create(ParticipantServiceJoinRequestSchema, { room: "reset", identity: "x" })),
    ),
  );
  const grpc = (path: string) => ({
    ":method": "POST",
    ":path": path,
    "content-type": "application/grpc",
    te: "trailers",
    authorization: testAuthorization,
  });

  for (const [name, port, headers, body] of [
    [
      "REST GET over HTTP/2",
      "main",
      { ":method": "GET", ":path": "/v1/Rooms/reset/Participants/x", authorization: testAuthorization },
      undefined,
    ],
    ["gRPC Join on the main port", "main", grpc("/rollcall.v1.ParticipantService/Join"), join],
    ["gRPC Join on GRPC_PORT", "grpc", grpc("/rollcall.v1.ParticipantService/Join"), join],
  ] as const) {
    it(`${name}: ${sessions * perSession} requests reset at once start ~no Redis command`, async () => {
      const before = await commandsRun(client);
      await rapidReset(port === "main" ? server.port : server.grpcPort!, headers, body);
      const ran = (await commandsRun(client)) - before;
      console.log(`      ${name}: ${ran} Redis commands for ${sessions * perSession} reset requests`);
      expect(ran).to.be.at.most((sessions * perSession) / 100);
    });
  }
});
