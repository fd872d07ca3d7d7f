import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { expect } from "chai";
import http from "node:http";
import { RoomService } from "../../gen/rollcall/v1/room_pb.js";
import { authFailures } from "../../src/observability/metrics.js";
import { grpcJs } from "../support/clients.js";
import { basic, startRollcall, testAccount, testAuthorization } from "../support/rollcall.js";

// Failed authentication is limited per client address and per account sid
// on every transport (BasicAuth's rules: test/unit/basic-auth.test.ts). The
// clients bind loopback addresses of their own (127.0.0.2, ...) to be
// different clients.

const wrong = basic(testAccount.sid, "a-guessed-token");

function restFrom(localAddress: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16, localAddress });
  const get = (url: string, authorization: string) =>
    new Promise<{ status: number; retryAfter: string | undefined; body: { code: number; status: number } }>((resolve, reject) => {
      http
        .get(url, { agent, headers: { authorization } }, (answer) => {
          let text = "";
          answer.setEncoding("utf8");
          answer.on("data", (chunk: string) => (text += chunk));
          answer.on("end", () =>
            resolve({ status: answer.statusCode!, retryAfter: answer.headers["retry-after"], body: JSON.parse(text) as never }),
          );
        })
        .on("error", reject);
    });
  return { get, close: () => agent.destroy() };
}

async function authFailuresByOutcome(): Promise<{ credentials: number; throttled: number }> {
  const { values } = await authFailures.get();
  const of = (outcome: string) => values.find((value) => value.labels.outcome === outcome)?.value ?? 0;
  return { credentials: of("credentials"), throttled: of("throttled") };
}

describe("failed authentication limits", () => {
  it("9 000 guesses from one client: 429 with Retry-After and code 20429 after the limit, one log line; the right client still works", async function () {
    this.timeout(120_000);
    const server = await startRollcall();
    const attacker = restFrom("127.0.0.2");
    const client = restFrom("127.0.0.1");
    try {
      const url = `${server.url}/v1/Rooms`;
      expect((await client.get(url, testAuthorization)).status).to.equal(200);
      // The registry is the process's: this test reads differences.
      const refusedBefore = await authFailuresByOutcome();
      const statuses = new Map<number, number>();
      let last: Awaited<ReturnType<typeof attacker.get>> | undefined;
      for (let batch = 0; batch < 9_000 / 50; batch++) {
        const answers = await Promise.all(Array.from({ length: 50 }, () => attacker.get(url, wrong)));
        for (const answer of answers) statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        last = answers.at(-1);
        if (batch % 20 === 0) expect((await client.get(url, testAuthorization)).status, "the right client during the attack").to.equal(200);
      }
      // 600 failures a minute by default, forgiven at 10 a second while the attack runs.
      expect(statuses.get(401)).to.be.within(600, 600 + 10 * 60);
      expect(statuses.get(429)).to.be.above(9_000 - 600 - 10 * 60);
      expect([...statuses.keys()].sort()).to.deep.equal([401, 429]);
      expect(last).to.deep.include({ status: 429, retryAfter: "1" });
      expect(last!.body).to.include({ code: 20429, status: 429 });
      // The attacker's address is refused even with the right credentials.
      expect((await attacker.get(url, testAuthorization)).status).to.equal(429);
      expect((await client.get(url, testAuthorization)).status).to.equal(200);
      expect(server.logs.filter((line) => line.includes("127.0.0.2"))).to.have.length(1);
      expect(server.auth.counters.failed).to.equal(statuses.get(401));
      expect(server.auth.counters.throttled).to.equal(statuses.get(429)! + 1);
      const refusedAfter = await authFailuresByOutcome();
      expect(refusedAfter.credentials - refusedBefore.credentials, "rollcall_auth_failures_total{outcome=credentials}").to.equal(
        statuses.get(401),
      );
      expect(refusedAfter.throttled - refusedBefore.throttled, "rollcall_auth_failures_total{outcome=throttled}").to.equal(
        statuses.get(429)! + 1,
      );
    } finally {
      attacker.close();
      client.close();
      await server.close();
    }
  });

  it("guesses against one account from many addresses: that account's known client and other accounts still work", async function () {
    this.timeout(60_000);
    const server = await startRollcall({ authFailuresPerAccountPerMinute: 100 });
    const clients = Array.from({ length: 25 }, (_, i) => restFrom(`127.0.1.${i + 1}`));
    const known = restFrom("127.0.0.1");
    const newcomer = restFrom("127.0.2.1");
    try {
      const url = `${server.url}/v1/Rooms`;
      expect((await known.get(url, testAuthorization)).status).to.equal(200);
      // 25 addresses, 8 guesses each: 200 guesses, each address far under its own limit.
      const answers = await Promise.all(clients.flatMap((c) => Array.from({ length: 8 }, () => c.get(url, wrong))));
      // 100 failures, plus the few forgiven (100 a minute) while the guesses ran.
      const failed = answers.filter((a) => a.status === 401).length;
      expect(failed).to.be.within(100, 120);
      expect(answers.filter((a) => a.status === 429)).to.have.length(200 - failed);
      expect((await known.get(url, testAuthorization)).status).to.equal(200);
      expect((await newcomer.get(url, basic("AC" + "2".repeat(32), "token-of-account-two"))).status).to.equal(200);
      // The account's right credentials from an address it never used wait out the burst (docs/RELIABILITY.md).
      expect((await newcomer.get(url, testAuthorization)).status).to.equal(429);
      expect(server.logs.filter((line) => line.includes(testAccount.sid))).to.have.length(1);
    } finally {
      for (const c of [...clients, known, newcomer]) c.close();
      await server.close();
    }
  });

  it("over Connect, gRPC on the main port and grpc-js: unauthenticated, then resource exhausted with a RetryInfo detail", async function () {
    this.timeout(60_000);
    const server = await startRollcall({ authFailuresPerAddressPerMinute: 5 });
    try {
      const retryInfo = (error: ConnectError) => error.details.find((d) => "type" in d && d.type === "google.rpc.RetryInfo");
      for (const [label, transport] of [
        ["Connect JSON/HTTP1.1", createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" })],
        ["gRPC/HTTP2 on the main port", createGrpcTransport({ baseUrl: server.url })],
      ] as const) {
        const client = createClient(RoomService, transport);
        const call = () =>
          client.get({ room: "nothing" }, { headers: { authorization: wrong } }).then(
            () => expect.fail("authenticated"),
            (error: unknown) => ConnectError.from(error),
          );
        const first = await call();
        expect(first.code, label).to.be.oneOf([Code.Unauthenticated, Code.ResourceExhausted]);
        for (let i = 0; i < 5; i++) await call();
        const refused = await call();
        expect(refused.code, label).to.equal(Code.ResourceExhausted);
        expect(refused.rawMessage, label).to.match(/too many failed authentications; retry after \d+ s/);
        expect(retryInfo(refused), label).to.not.equal(undefined);
      }
      const client = grpcJs(RoomService, `127.0.0.1:${server.grpcPort}`, wrong);
      try {
        const refused = (await client.get({ room: "nothing" }).catch((error: unknown) => error)) as grpc.ServiceError;
        expect(refused.code).to.equal(grpc.status.RESOURCE_EXHAUSTED);
        expect(refused.details).to.match(/too many failed authentications; retry after \d+ s/);
        expect(refused.metadata.get("grpc-status-details-bin")).to.have.length(1);
      } finally {
        client.close();
      }
      expect(server.logs.filter((line) => line.includes("127.0.0.1"))).to.have.length(1);
    } finally {
      await server.close();
    }
  });
});
