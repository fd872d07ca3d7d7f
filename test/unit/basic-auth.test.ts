import { expect } from "chai";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { BasicAuth, type Authentication } from "../../src/transports/basic-auth.js";
import { basic, otherAccount, testAccount, testApiKey, testCredentials, testAuthorization } from "../support/rollcall.js";
import { LogCapture } from "../support/log-capture.js";

// HTTP Basic parsing, the verified-credentials cache and the limits on failed
// authentication, on BasicAuth itself (every transport asks it:
// test/integration/failed-auth.test.ts).

const generous = { perAddressPerMinute: 1_000_000, perAccountPerMinute: 1_000_000 };
const token = testAuthorization.slice("Basic ".length);
const ok: Authentication = { accountSid: testAccount.sid };

describe("BasicAuth", () => {
  it("accepts the scheme in any case, one space and the base64 token; refuses any other form as no credentials", () => {
    const auth = new BasicAuth(testCredentials, generous, new LogCapture().logger);
    for (const header of [testAuthorization, `basic ${token}`, `BASIC ${token}`, `Basic ${token.replace(/=+$/, "")}`]) {
      expect(auth.authenticate(header, "127.0.0.1"), header).to.deep.equal(ok);
    }
    expect(auth.authenticate(basic(testApiKey.sid, testApiKey.secret), "127.0.0.1")).to.deep.equal(ok);
    const refused = [
      `Basic  ${token}`,
      `Basic\t${token}`,
      ` Basic ${token}`,
      `Basic ${token} `,
      `Basic ${token}\t`,
      `Basic ${" ".repeat(50_000)}${token}`,
      `Basic ${token}${" ".repeat(50_000)}`,
      `Basic ${token},`,
      `Basic ${token}===`,
      `Basic ${token.slice(0, 8)} ${token.slice(8)}`,
      `Basic ${"A".repeat(5000)}`,
      "Basic",
      "Basic ",
    ];
    for (const header of refused)
      expect(auth.authenticate(header, "127.0.0.1"), JSON.stringify(header.slice(0, 80))).to.deep.equal({ refused: "credentials" });
  });

  it("caches one fixed-size entry per valid credentials, however many ways they are written or padded", () => {
    const auth = new BasicAuth(testCredentials, generous, new LogCapture().logger);
    expect(auth.cacheBytes).to.equal(0);
    auth.authenticate(testAuthorization, "127.0.0.1");
    const oneEntry = auth.cacheBytes;
    expect(oneEntry).to.be.within(1, 1024);
    for (let i = 0; i < 9_000; i++) {
      const pad = " ".repeat(50_000 + i);
      const header = [`Basic ${pad}${token}`, `Basic ${token}${pad}`, `basic ${token}`, `bAsIc ${token.replace(/=+$/, "")}`][i % 4]!;
      auth.authenticate(header, "127.0.0.1");
    }
    expect(auth.cacheBytes).to.equal(oneEntry);
    auth.authenticate(basic(otherAccount.sid, otherAccount.token), "127.0.0.1");
    expect(auth.cacheBytes).to.equal(2 * oneEntry);
  });

  it("valid credentials padded with 50 000 spaces, 9 000 times, do not grow the heap (after a forced GC)", async function () {
    this.timeout(60_000);
    const script = `
      const { BasicAuth } = await import("./src/transports/basic-auth.ts");
      const { testCredentials, testAuthorization } = await import("./test/support/rollcall.ts");
      const auth = new BasicAuth(testCredentials, { perAddressPerMinute: 1e6, perAccountPerMinute: 1e6 }, () => {});
      auth.authenticate(testAuthorization, "127.0.0.1");
      global.gc(); const before = process.memoryUsage().heapUsed;
      const token = testAuthorization.slice(6);
      for (let i = 0; i < 9000; i++) auth.authenticate("Basic " + " ".repeat(50000 + i) + token, "127.0.0.1");
      global.gc(); console.log(JSON.stringify({ grown: process.memoryUsage().heapUsed - before }));`;
    const { stdout } = await promisify(execFile)(process.execPath, ["--expose-gc", "--import", "tsx", "--input-type=module", "-e", script]);
    const { grown } = JSON.parse(stdout) as { grown: number };
    // The raw-header cache held 495 MB here.
    expect(grown).to.be.below(5 * 1024 * 1024);
  });

  it("refuses an address unchecked once it failed perAddressPerMinute times, forgiving failures at that rate, and says so once", () => {
    const capture = new LogCapture();
    const auth = new BasicAuth(testCredentials, { perAddressPerMinute: 60, perAccountPerMinute: 1_000_000 }, capture.logger);
    const wrong = basic(testAccount.sid, "wrong");
    let now = 1_000_000;
    for (let i = 0; i < 60; i++) expect(auth.authenticate(wrong, "10.0.0.1", now)).to.deep.equal({ refused: "credentials" });
    for (let i = 0; i < 1000; i++) {
      const refused = auth.authenticate(i % 2 ? wrong : testAuthorization, "10.0.0.1", now);
      expect(refused).to.deep.equal({ refused: "too_many_failures", retryAfterMs: 1000 });
    }
    expect(auth.authenticate(testAuthorization, "10.0.0.2", now)).to.deep.equal(ok);
    // One failure is forgiven a second (60 per minute).
    now += 1000;
    expect(auth.authenticate(testAuthorization, "10.0.0.1", now)).to.deep.equal(ok);
    expect(auth.authenticate(wrong, "10.0.0.1", now)).to.deep.equal({ refused: "credentials" });
    expect(auth.authenticate(wrong, "10.0.0.1", now)).to.deep.include({ refused: "too_many_failures" });
    expect(capture.messages().filter((line) => line.includes("10.0.0.1"))).to.have.length(1);
    expect(auth.counters).to.deep.equal({ failed: 61, throttled: 1001 });
    // A minute later the burst is over: the next one is logged again.
    now += 60_000;
    for (let i = 0; i < 61; i++) auth.authenticate(wrong, "10.0.0.1", now);
    expect(capture.messages().filter((line) => line.includes("10.0.0.1"))).to.have.length(2);
  });

  it("refuses guesses against a sid from new addresses once it failed perAccountPerMinute times; addresses it used, and other sids, still work", () => {
    const capture = new LogCapture();
    const auth = new BasicAuth(testCredentials, { perAddressPerMinute: 1_000_000, perAccountPerMinute: 30 }, capture.logger);
    const now = 1_000_000;
    expect(auth.authenticate(testAuthorization, "10.0.0.1", now)).to.deep.equal(ok);
    for (let i = 0; i < 30; i++) auth.authenticate(basic(testAccount.sid, `guess-${i}`), `10.1.0.${i}`, now);
    expect(auth.authenticate(basic(testAccount.sid, "guess"), "10.1.0.99", now)).to.deep.include({ refused: "too_many_failures" });
    // The account's own client, from an address it authenticated from before.
    expect(auth.authenticate(testAuthorization, "10.0.0.1", now)).to.deep.equal(ok);
    // Its right credentials from an address never used are refused until the burst ends (stated in docs/RELIABILITY.md).
    expect(auth.authenticate(testAuthorization, "10.0.0.2", now)).to.deep.include({ refused: "too_many_failures" });
    expect(auth.authenticate(basic(otherAccount.sid, otherAccount.token), "10.1.0.5", now)).to.deep.equal({
      accountSid: otherAccount.sid,
    });
    // Guesses with unknown usernames count only against their address.
    for (let i = 0; i < 100; i++) auth.authenticate(basic("AC" + "9".repeat(32), "x"), "10.2.0.1", now);
    expect(capture.messages()).to.have.length(1);
    expect(capture.messages()[0]).to.contain(testAccount.sid);
  });
});
