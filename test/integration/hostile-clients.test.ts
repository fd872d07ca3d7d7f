import { expect } from "chai";
import { readdirSync, readFileSync } from "node:fs";
import { configFromEnv } from "../../src/config.js";
import { rawConnection, type RawConnection } from "../support/raw-connection.js";
import { http1Head, http1Statuses } from "../support/raw-http1.js";
import {
  errorCode,
  frameType,
  frames,
  preface,
  requestHeaders,
  rstStream,
  settings,
  settingsAck,
  settingsValues,
} from "../support/raw-http2.js";
import { startRollcallProcess, stopProcess, type RollcallProcess } from "../support/rollcall-process.js";
import { loopbackRates, startRollcall, testAuthorization } from "../support/rollcall.js";
import { waitFor } from "../support/wait.js";

// Clients that hold connections without using them, or open and cancel
// streams as fast as they can: every port closes what does nothing useful in
// time, and no socket outlives its client (docs/RELIABILITY.md, "Hostile
// clients"). The limits are made short so that the tests run fast.
const limits = {
  ...configFromEnv({}).connections,
  ...loopbackRates,
  headersTimeoutMs: 300,
  requestTimeoutMs: 600,
  idleTimeoutMs: 500,
  maxConcurrentStreams: 100,
};
const getPath = "/rollcall.v1.ParticipantService/Get";
const closedWithin = (connection: RawConnection, ms: number, what: string) =>
  waitFor(() => connection.isClosed(), { what: `the server to close ${what}`, timeoutMs: ms });

describe("hostile clients: connection deadlines", () => {
  let server: Awaited<ReturnType<typeof startRollcall>>;
  let ports: { name: string; port: number }[];
  before(async () => {
    server = await startRollcall({ connections: limits });
    ports = [
      { name: "the main port", port: server.port },
      { name: "GRPC_PORT", port: server.grpcPort! },
    ];
  });
  after(() => server.close());

  it("closes a TCP connection that sends nothing, on every port", async () => {
    for (const { name, port } of ports) {
      const silent = await rawConnection(port);
      await closedWithin(silent, 3000, `a silent connection on ${name}`);
    }
  });

  it("answers HTTP/1.1 headers that never end with 408 and closes", async () => {
    const partial = await rawConnection(server.port);
    partial.send("GET /v1/Rooms HTTP/1.1\r\nhost: 127.0.0.1\r\nx-slow: ");
    await closedWithin(partial, 3000, "a connection whose headers never end");
    expect(http1Statuses(partial.received())).to.deep.equal([408]);
  });

  it("answers an HTTP/1.1 body that never ends with 408 and closes", async () => {
    const partial = await rawConnection(server.port);
    partial.send(
      http1Head("POST", "/v1/Rooms", {
        "content-type": "application/x-www-form-urlencoded",
        "content-length": "100",
        authorization: testAuthorization,
      }) + "Type=go",
    );
    await closedWithin(partial, 3000, "a connection whose body never ends");
    expect(http1Statuses(partial.received())).to.deep.equal([408]);
  });

  it("closes an idle HTTP/1.1 keep-alive connection", async () => {
    const idle = await rawConnection(server.port);
    idle.send(http1Head("GET", "/healthz-none"));
    await waitFor(() => http1Statuses(idle.received()).length === 1, { what: "the response" });
    // Node adds a second to keepAliveTimeout before it closes.
    await closedWithin(idle, 4000, "an idle keep-alive connection");
  });

  it("closes an HTTP/2 connection that opens no stream, on every port", async () => {
    for (const { name, port } of ports) {
      const prefaceOnly = await rawConnection(port);
      prefaceOnly.send(Buffer.concat([preface, settings()]));
      await closedWithin(prefaceOnly, 3000, `a connection with a preface and no stream on ${name}`);
    }
  });

  it("resets a stream whose request never ends, and closes the HTTP/2 connection once idle, on every port", async () => {
    for (const contentType of ["application/grpc", "application/proto"]) {
      for (const { name, port } of ports) {
        const connection = await rawConnection(port);
        connection.send(Buffer.concat([preface, settings(), settingsAck(), requestHeaders(1, getPath, contentType)]));
        const reset = () => frames(connection.received()).find((f) => f.type === frameType.rstStream && f.streamId === 1);
        await waitFor(() => reset() !== undefined || connection.isClosed(), { what: `a reset on ${name}`, timeoutMs: 3000 });
        if (name === "GRPC_PORT" && contentType !== "application/grpc") {
          // grpc-js answers what is not gRPC with 415 before the request ends.
          expect(frames(connection.received()).some((f) => f.type === frameType.headers && f.streamId === 1)).to.equal(true);
        } else {
          expect(reset()?.payload.readUInt32BE(0), `${contentType} on ${name}`).to.equal(errorCode.cancel);
        }
        await closedWithin(connection, 3000, `an idle HTTP/2 connection on ${name}`);
      }
    }
  });

  it("advertises SETTINGS_MAX_CONCURRENT_STREAMS on every HTTP/2 connection, grpc-js's and connect-node's", async () => {
    for (const contentType of ["application/grpc", "application/proto"]) {
      for (const { name, port } of ports) {
        const connection = await rawConnection(port);
        connection.send(Buffer.concat([preface, settings(), settingsAck(), requestHeaders(1, getPath, contentType, { endStream: true })]));
        await waitFor(() => settingsValues(connection.received()).has(3), { what: `MAX_CONCURRENT_STREAMS on ${name}` });
        expect(settingsValues(connection.received()).get(3), `${contentType} on ${name}`).to.equal(100);
        connection.socket.destroy();
      }
    }
  });

  it("closes new connections of an address past its bucket at once", async () => {
    const strict = await startRollcall({ connections: { ...limits, connectionsPerSecond: 1, connectionBurst: 5 } });
    try {
      const connections = await Promise.all(Array.from({ length: 8 }, () => rawConnection(strict.port)));
      await waitFor(() => connections.filter((c) => c.isClosed()).length >= 3, { what: "the connections past the burst to close" });
      expect(connections.slice(0, 5).every((c) => !c.isClosed())).to.equal(true);
      for (const connection of connections) connection.socket.destroy();
    } finally {
      await strict.close();
    }
  });
});

// The rapid reset of CVE-2023-44487, per connection: the preface, 1 100
// HEADERS each followed by its RST_STREAM, then the client leaves.
function rapidReset(streams: number): Buffer {
  const parts = [preface, settings(), settingsAck()];
  for (let i = 0; i < streams; i++) parts.push(requestHeaders(1 + 2 * i, getPath, "application/grpc"), rstStream(1 + 2 * i));
  return Buffer.concat(parts);
}

const openFds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
const residentBytes = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024;

describe("hostile clients: no socket outlives its client", function () {
  this.timeout(60_000);
  let rollcall: RollcallProcess | undefined;
  afterEach(async () => {
    if (rollcall !== undefined) await stopProcess(rollcall.child);
    rollcall = undefined;
  });

  for (const [what, env] of [
    ["the address's reset bucket ends the session", { ROLLCALL_RESET_BURST: "500" }],
    ["nghttp2's own GOAWAY, found by a PING", { ROLLCALL_RESET_BURST: "1000000" }],
  ] as const) {
    it(`closes every socket of clients that sent 1 100 HEADERS+RST_STREAM and left (${what})`, async () => {
      rollcall = await startRollcallProcess({ ROLLCALL_CONNECTIONS_PER_SECOND: "1000", ROLLCALL_CONNECTION_BURST: "1000", ...env });
      const pid = rollcall.child.pid!;
      const port = Number(new URL(rollcall.url).port);
      const before = openFds(pid);
      const attackers = await Promise.all(Array.from({ length: 20 }, () => rawConnection(port)));
      for (const attacker of attackers) attacker.send(rapidReset(1100));
      await waitFor(() => attackers.every((a) => frames(a.received()).some((f) => f.type === frameType.goaway) || a.isClosed()), {
        what: "a GOAWAY or a close for every attacker",
        timeoutMs: 20_000,
      });
      for (const attacker of attackers) attacker.socket.end();
      await waitFor(() => openFds(pid) <= before, { what: `the server's fds to come back to ${before}`, timeoutMs: 5000 });
    });
  }

  it("holds 10 000 streams that never send a body to a bounded memory", async () => {
    rollcall = await startRollcallProcess({ ROLLCALL_CONNECTIONS_PER_SECOND: "1000", ROLLCALL_CONNECTION_BURST: "1000" });
    const pid = rollcall.child.pid!;
    const port = Number(new URL(rollcall.url).port);
    const before = residentBytes(pid);
    const connections = await Promise.all(Array.from({ length: 4 }, () => rawConnection(port)));
    for (const connection of connections) {
      const parts = [preface, settings(), settingsAck()];
      for (let i = 0; i < 2500; i++) parts.push(requestHeaders(1 + 2 * i, getPath, "application/proto"));
      connection.send(Buffer.concat(parts));
    }
    // Past 100 streams a connection's are refused; Node ends a session that keeps opening them.
    await waitFor(
      () =>
        connections.every(
          (c) =>
            c.isClosed() ||
            frames(c.received()).some(
              (f) =>
                f.type === frameType.goaway || (f.type === frameType.rstStream && f.payload.readUInt32BE(0) === errorCode.refusedStream),
            ),
        ),
      { what: "every connection's streams past the limit to be refused", timeoutMs: 20_000 },
    );
    expect(residentBytes(pid) - before).to.be.below(100 * 1024 * 1024);
    for (const connection of connections) connection.socket.destroy();
  });
});
