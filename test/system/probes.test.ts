import { expect } from "chai";
import http from "node:http";
import http2 from "node:http2";
import type net from "node:net";
import { probesHandler } from "../../src/transports/http/probes.js";
import { startRedis, type TestRedis } from "../support/redis-server.js";
import { startRollcall } from "../support/rollcall.js";
import { waitFor } from "../support/wait.js";

// GET /healthz and /readyz on the main port: public plain HTTP probes beside
// grpc.health.v1, with readiness following the store.
describe("the /healthz and /readyz probes", function () {
  // Waits for Redis to hang, die and come back.
  this.timeout(60_000);
  let redis: TestRedis;
  let server: Awaited<ReturnType<typeof startRollcall>>;
  before(async () => {
    redis = await startRedis();
    server = await startRollcall({ redisUrl: redis.url });
  });
  after(async () => {
    redis.signal("SIGCONT");
    await server?.close().catch(() => undefined);
    await redis?.stop();
  });

  async function probe(path: string, method = "GET") {
    const res = await fetch(`${server.url}${path}`, { method });
    return { status: res.status, type: res.headers.get("content-type"), body: method === "HEAD" ? "" : await res.text() };
  }
  const json = (text: string) => JSON.parse(text) as unknown;

  it("answer without credentials while the store answers: live and ready", async () => {
    const live = await probe("/healthz");
    expect(live).to.include({ status: 200, type: "application/json" });
    expect(json(live.body)).to.deep.equal({ status: "ok" });
    const ready = await probe("/readyz");
    expect(ready.status).to.equal(200);
    expect(json(ready.body)).to.deep.equal({ status: "ready", checks: { store: "ok" } });
  });

  it("answer over HTTP/2 on the same port", async () => {
    const session = http2.connect(server.url);
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const stream = session.request({ ":path": "/readyz" });
        stream.on("response", (headers) => resolve(Number(headers[":status"])));
        stream.on("error", reject);
        stream.resume();
      });
      expect(status).to.equal(200);
    } finally {
      session.close();
    }
  });

  it("answer HEAD without a body, and other methods with 405", async () => {
    expect(await probe("/readyz", "HEAD")).to.deep.include({ status: 200, body: "" });
    const post = await fetch(`${server.url}/healthz`, { method: "POST" });
    expect(post.status).to.equal(405);
    expect(post.headers.get("allow")).to.equal("GET, HEAD");
  });

  it("a hung store: not ready within the probe's timeout, still live; ready again once it answers", async () => {
    redis.signal("SIGSTOP");
    try {
      const started = Date.now();
      const ready = await probe("/readyz");
      expect(Date.now() - started).to.be.below(5000);
      expect(ready.status).to.equal(503);
      expect(json(ready.body)).to.deep.equal({ status: "not ready", checks: { store: "no answer within 1000 ms" } });
      expect((await probe("/healthz")).status).to.equal(200);
    } finally {
      redis.signal("SIGCONT");
    }
    await waitFor(async () => (await probe("/readyz")).status === 200, { what: "/readyz to be ready again", timeoutMs: 10_000 });
  });

  it("a store that is down: not ready, without the error's text (it names internal hosts)", async () => {
    await redis.halt("SIGKILL");
    try {
      await waitFor(async () => (await probe("/readyz")).status === 503, { what: "/readyz to fail", timeoutMs: 10_000 });
      const ready = await probe("/readyz");
      const body = json(ready.body) as { status: string; checks: { store: string } };
      expect(body.status).to.equal("not ready");
      expect(body.checks.store).to.be.oneOf(["failing", "no answer within 1000 ms"]);
      expect(ready.body).to.not.contain(String(redis.port));
    } finally {
      await redis.restart();
    }
    await waitFor(async () => (await probe("/readyz")).status === 200, { what: "/readyz to be ready again", timeoutMs: 15_000 });
  });
});

describe("the /readyz probe once shutdown begins", () => {
  it("is not ready (draining), whatever its checks say", async () => {
    const draining = new AbortController();
    const probes = probesHandler({ readiness: [{ name: "store", check: async () => {} }], draining: draining.signal, timeoutMs: 1000 });
    const server = http.createServer(probes);
    const port = await new Promise<number>((resolve) =>
      server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port)),
    );
    try {
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).to.equal(200);
      draining.abort();
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(res.status).to.equal(503);
      expect(await res.json()).to.deep.equal({ status: "draining" });
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).to.equal(200);
    } finally {
      server.close();
    }
  });
});
