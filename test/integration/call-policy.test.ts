import { create, fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { ConnectError, createClient, type CallOptions, type Interceptor, type Transport as ConnectTransport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { expect } from "chai";
import {
  ParticipantService,
  ParticipantServiceGetRequestSchema,
  ParticipantServiceGetResponseSchema,
  ParticipantServiceListRequestSchema,
  ParticipantServiceListResponseSchema,
} from "../../gen/rollcall/v1/participant_pb.js";
import { requestDuration } from "../../src/observability/metrics.js";
import { codeNames } from "../../src/transports/call-policy.js";
import { emptySharedRedis } from "../support/fixtures.js";
import type { LogRecord } from "../support/log-capture.js";
import { scrape, sampleOf, valueOf } from "../support/metrics.js";
import { basic, startRollcall, testAccount, testAuthorization } from "../support/rollcall.js";
import { waitFor } from "../support/wait.js";

type Server = Awaited<ReturnType<typeof startRollcall>>;
type Rpc = "Get" | "List";

// What a call told its caller: the x-request-id it got back, and its code.
interface Answer {
  requestId: string | null;
  code: string;
}

// One way in: how a Get and a List are made over it, and the labels its
// access lines and metrics carry.
interface Way {
  name: string;
  transport: string;
  protocol: string;
  method(rpc: Rpc): string;
  code(code: "ok" | "unauthenticated" | "not_found"): string;
  call(
    server: Server,
    rpc: Rpc,
    request: { room: string; participant: string },
    authorization: string,
    requestId?: string,
  ): Promise<Answer>;
}

const rpcMethod = (rpc: Rpc) => `rollcall.v1.ParticipantService/${rpc}`;
const sameCode = (code: string) => code;

function authorizing(authorization: string): Interceptor {
  return (next) => (req) => {
    req.header.set("authorization", authorization);
    return next(req);
  };
}

// A Get or List through a connect-es client of the given transport.
function connectWay(
  name: string,
  protocol: string,
  transportOf: (server: Server, authorization: string) => ConnectTransport,
  // The server that takes the connection: the one port hands gRPC connections to grpc-js.
  transport = "connect-node",
): Way {
  return {
    name,
    transport,
    protocol,
    method: rpcMethod,
    code: sameCode,
    async call(server, rpc, request, authorization, requestId) {
      const client = createClient(ParticipantService, transportOf(server, authorization));
      let got: string | null = null;
      const options: CallOptions = {
        headers: requestId === undefined ? {} : { "x-request-id": requestId },
        onHeader: (headers) => (got = headers.get("x-request-id")),
      };
      try {
        if (rpc === "Get") await client.get(request, options);
        else for await (const page of client.list({ room: request.room, pageSize: 1 }, options)) void page;
        return { requestId: got, code: "ok" };
      } catch (error) {
        const connectError = ConnectError.from(error);
        return { requestId: got ?? connectError.metadata.get("x-request-id"), code: codeName(connectError.code) };
      }
    },
  };
}

const codeName = (code: number) => codeNames[code] ?? String(code);

// @grpc/grpc-js on GRPC_PORT, reading the response metadata.
const grpcJsWay: Way = {
  name: "gRPC on GRPC_PORT (@grpc/grpc-js)",
  transport: "grpc-js",
  protocol: "grpc",
  method: rpcMethod,
  code: sameCode,
  call(server, rpc, request, authorization, requestId) {
    const client = new grpc.Client(`127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure());
    const metadata = new grpc.Metadata();
    metadata.set("authorization", authorization);
    if (requestId !== undefined) metadata.set("x-request-id", requestId);
    const serialize =
      <T extends DescMessage>(schema: T) =>
      (message: MessageShape<T>) =>
        Buffer.from(toBinary(schema, message));
    const deserialize =
      <T extends DescMessage>(schema: T) =>
      (bytes: Buffer) =>
        fromBinary(schema, bytes);
    return new Promise<Answer>((resolve) => {
      let got: string | null = null;
      const settle = (error: grpc.ServiceError | null) => {
        client.close();
        // An error's request id comes in its trailers.
        const trailed = error?.metadata.get("x-request-id")[0]?.toString() ?? null;
        resolve({ requestId: got ?? trailed, code: error === null ? "ok" : codeName(error.code) });
      };
      const call =
        rpc === "Get"
          ? client.makeUnaryRequest(
              "/" + rpcMethod("Get"),
              serialize(ParticipantServiceGetRequestSchema),
              deserialize(ParticipantServiceGetResponseSchema),
              create(ParticipantServiceGetRequestSchema, request),
              metadata,
              (error) => settle(error),
            )
          : client.makeServerStreamRequest(
              "/" + rpcMethod("List"),
              serialize(ParticipantServiceListRequestSchema),
              deserialize(ParticipantServiceListResponseSchema),
              create(ParticipantServiceListRequestSchema, { room: request.room, pageSize: 1 }),
              metadata,
            );
      call.on("metadata", (received: grpc.Metadata) => (got = received.get("x-request-id")[0]?.toString() ?? null));
      if (rpc === "List") {
        call.on("data", () => undefined);
        call.on("error", (error: grpc.ServiceError) => settle(error));
        call.on("end", () => settle(null));
      }
    });
  },
};

const restWay: Way = {
  name: "Twilio REST",
  transport: "http",
  protocol: "rest",
  method: (rpc) => (rpc === "Get" ? "GET /v1/Rooms/{room}/Participants/{participant}" : "GET /v1/Rooms/{room}/Participants"),
  code: (code) => ({ ok: "200", unauthenticated: "401", not_found: "404" })[code],
  async call(server, rpc, request, authorization, requestId) {
    const path = rpc === "Get" ? `/v1/Rooms/${request.room}/Participants/${request.participant}` : `/v1/Rooms/${request.room}/Participants`;
    const response = await fetch(server.url + path, {
      headers: { authorization, ...(requestId === undefined ? {} : { "x-request-id": requestId }) },
    });
    await response.arrayBuffer();
    return { requestId: response.headers.get("x-request-id"), code: String(response.status) };
  },
};

const ways: Way[] = [
  grpcJsWay,
  connectWay(
    "gRPC on the main port",
    "grpc",
    (server, authorization) => createGrpcTransport({ baseUrl: server.url, interceptors: [authorizing(authorization)] }),
    "grpc-js",
  ),
  connectWay("gRPC-Web on the main port", "grpc-web", (server, authorization) =>
    createGrpcWebTransport({ baseUrl: server.url, httpVersion: "1.1", interceptors: [authorizing(authorization)] }),
  ),
  connectWay("Connect JSON on the main port", "connect", (server, authorization) =>
    createConnectTransport({ baseUrl: server.url, httpVersion: "1.1", interceptors: [authorizing(authorization)] }),
  ),
  connectWay("Connect binary over HTTP/2 on the main port", "connect", (server, authorization) =>
    createConnectTransport({ baseUrl: server.url, httpVersion: "2", useBinaryFormat: true, interceptors: [authorizing(authorization)] }),
  ),
  restWay,
];

// How many calls rollcall_request_duration_seconds has observed with these labels.
async function durationCount(labels: Record<string, string>): Promise<number> {
  const { values } = await requestDuration.get();
  const count = values.find(
    (value) =>
      value.metricName === "rollcall_request_duration_seconds_count" &&
      Object.entries(labels).every(([key, v]) => (value.labels as Record<string, unknown>)[key] === v),
  );
  return count?.value ?? 0;
}

const accessFields = ["requestId", "transport", "protocol", "method", "account", "code", "durationMs", "bytesIn", "bytesOut"];

describe("one call policy on every transport: access lines and metrics", () => {
  let server: Server;
  const room = `policy-${process.pid}`;
  let requests = 0;

  before(async () => {
    server = await startRollcall();
    const joined = await createClient(
      ParticipantService,
      createConnectTransport({ baseUrl: server.url, httpVersion: "1.1", interceptors: [authorizing(testAuthorization)] }),
    ).join({ room, identity: "alice" });
    expect(joined.participant!.identity).to.equal("alice");
  });
  after(() => server.close());

  async function accessLinesOf(requestId: string, count = 1): Promise<LogRecord[]> {
    const lines = () => server.capture.access().filter((line) => line.requestId === requestId);
    await waitFor(() => lines().length >= count, { what: `the access line of ${requestId}` });
    return lines();
  }

  for (const way of ways) {
    describe(way.name, () => {
      const labels = (rpc: Rpc, code: string) => ({ transport: way.transport, protocol: way.protocol, method: way.method(rpc), code });

      for (const [title, authorization, participant, code] of [
        ["a Get", testAuthorization, "alice", "ok"],
        ["a Get without valid credentials", basic(testAccount.sid, "wrong"), "alice", "unauthenticated"],
        ["a Get of a participant who does not exist", testAuthorization, "nobody", "not_found"],
      ] as const) {
        it(`${title}: returns the request id, logs one access line with every field, counts one request`, async () => {
          const requestId = `test-${way.transport}-${way.protocol}-${++requests}`;
          const expectedCode = way.code(code);
          const before = await scrape(`${server.url}/metrics`);
          const durationsBefore = await durationCount(labels("Get", expectedCode));
          const answer = await way.call(server, "Get", { room, participant }, authorization, requestId);
          expect(answer).to.deep.equal({ requestId, code: way.code(code) === "200" ? "200" : expectedCode });
          const [line, ...more] = await accessLinesOf(requestId);
          expect(more).to.deep.equal([]);
          const expectedFields = code === "unauthenticated" ? accessFields.filter((field) => field !== "account") : accessFields;
          expect(Object.keys(line!).filter((key) => accessFields.includes(key))).to.have.members(expectedFields);
          expect(line).to.include({
            component: "access",
            requestId,
            transport: way.transport,
            protocol: way.protocol,
            method: way.method("Get"),
            code: expectedCode,
          });
          if (code !== "unauthenticated") expect(line!.account).to.equal(testAccount.sid);
          expect(line!.durationMs).to.be.a("number").that.is.at.least(0);
          expect(line!.bytesOut).to.be.a("number");
          if (code === "ok") expect(line!.bytesOut).to.be.above(0);
          await waitFor(
            async () =>
              valueOf(await scrape(`${server.url}/metrics`), "rollcall_requests_total", labels("Get", expectedCode)) ===
              valueOf(before, "rollcall_requests_total", labels("Get", expectedCode)) + 1,
            { what: "rollcall_requests_total to count the call" },
          );
          // The text parser folds a histogram's label sets into one; its count is read from prom-client itself.
          expect(await durationCount(labels("Get", expectedCode))).to.equal(durationsBefore + 1);
        });
      }

      it("a List logs one access line when it ends, and makes a request id when the caller sent none", async () => {
        const before = server.capture.access().length;
        const answer = await way.call(server, "List", { room, participant: "" }, testAuthorization);
        expect(answer.code).to.equal(way.code("ok"));
        expect(answer.requestId).to.be.a("string").and.not.equal("");
        const lines = await accessLinesOf(answer.requestId!);
        expect(lines).to.have.length(1);
        expect(lines[0]).to.include({ method: way.method("List"), code: way.code("ok"), account: testAccount.sid });
        expect(server.capture.access().length).to.be.at.least(before + 1);
      });
    });
  }

  it("every transport gives its access lines the same fields", () => {
    const shapes = new Set(
      server.capture
        .access()
        .filter((line) => line.code === "ok" || line.code === "200")
        .map((line) => JSON.stringify(Object.keys(line).filter((key) => accessFields.includes(key)))),
    );
    expect([...shapes]).to.have.length(1);
  });
});

describe("/metrics", () => {
  it("parses as Prometheus text: request, store, worker and Node process metrics", async () => {
    const server = await startRollcall();
    try {
      await fetch(`${server.url}/v1/Rooms`, { headers: { authorization: testAuthorization } });
      const response = await fetch(`${server.url}/metrics`);
      expect(response.status).to.equal(200);
      expect(response.headers.get("content-type")).to.match(/^text\/plain; version=0\.0\.4/);
      const families = await scrape(`${server.url}/metrics`);
      const types = new Map(families.map((family) => [family.name, family.type]));
      expect(
        Object.fromEntries([...types].filter(([name]) => !name.startsWith("rollcall_nodejs") && !name.startsWith("rollcall_process"))),
      ).to.include({
        rollcall_requests_total: "COUNTER",
        rollcall_request_duration_seconds: "HISTOGRAM",
        rollcall_requests_in_flight: "GAUGE",
        rollcall_streams_open: "GAUGE",
        rollcall_store_operation_duration_seconds: "HISTOGRAM",
        rollcall_store_errors_total: "COUNTER",
        rollcall_store_connected: "GAUGE",
        rollcall_callbacks_delivered_total: "COUNTER",
        rollcall_callbacks_failed_total: "COUNTER",
        rollcall_callback_lag_seconds: "HISTOGRAM",
        rollcall_timers_fired_total: "COUNTER",
        rollcall_timer_lag_seconds: "HISTOGRAM",
        rollcall_watch_streams_open: "GAUGE",
        rollcall_livekit_failures_total: "COUNTER",
      });
      expect(types.get("rollcall_process_cpu_seconds_total")).to.equal("COUNTER");
      expect(types.get("rollcall_nodejs_eventloop_lag_seconds")).to.equal("GAUGE");
      expect(valueOf(families, "rollcall_store_connected")).to.equal(1);
      expect(sampleOf(families, "rollcall_requests_total", { transport: "http", method: "GET /v1/Rooms" })).to.not.equal(undefined);
      // Every name follows the conventions: the prefix, and counters end in _total.
      for (const family of families) {
        expect(family.name).to.match(/^rollcall_[a-z0-9_]+$/);
        if (family.type === "COUNTER") expect(family.name).to.match(/_total$/);
      }
    } finally {
      await server.close();
    }
  });

  it("times the Redis store's operations and shows its connection", async () => {
    const server = await startRollcall({ redisUrl: (await emptySharedRedis()).url });
    try {
      const before = valueOf(await scrape(`${server.url}/metrics`), "rollcall_store_operation_duration_seconds");
      await fetch(`${server.url}/v1/Rooms`, { headers: { authorization: testAuthorization } });
      const families = await scrape(`${server.url}/metrics`);
      expect(valueOf(families, "rollcall_store_operation_duration_seconds")).to.be.above(before);
      expect(valueOf(families, "rollcall_store_connected")).to.equal(1);
    } finally {
      await server.close();
    }
  });

  it("ROLLCALL_METRICS_PORT serves it on a port of its own instead of the main one", async () => {
    const server = await startRollcall({ metricsPort: 0 });
    try {
      expect(server.metricsPort).to.be.a("number");
      expect((await fetch(`${server.url}/metrics`)).status).to.equal(404);
      const families = await scrape(`http://127.0.0.1:${server.metricsPort}/metrics`);
      expect(families.map((family) => family.name)).to.include("rollcall_requests_total");
    } finally {
      await server.close();
    }
  });

  it("ROLLCALL_METRICS=off serves none", async () => {
    const server = await startRollcall({ metricsEnabled: false });
    try {
      expect((await fetch(`${server.url}/metrics`)).status).to.equal(404);
    } finally {
      await server.close();
    }
  });
});
