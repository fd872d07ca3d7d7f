import { expect } from "chai";
import http from "node:http";
import net from "node:net";
import { settings } from "../../src/config.js";
import { freePort, startRedis, type TestRedis } from "../support/redis-server.js";
import { startRollcallProcess, stopProcess } from "../support/rollcall-process.js";
import { runRollcallOnce } from "../support/start-once.js";

// A first start that cannot work ends at once, with exit code 1 and a last line
// on stderr that names the setting to change and the real cause, and prints
// no development secret.
describe("a start that cannot work", function () {
  // Each test starts a process of its own.
  this.timeout(60_000);
  const password = "hunter2-not-printed";
  let guarded: TestRedis;
  let open: TestRedis;
  let notRedis: http.Server;
  let notRedisPort: number;

  before(async () => {
    [guarded, open] = await Promise.all([startRedis(["--requirepass", password]), startRedis(["--databases", "4"])]);
    notRedis = http.createServer((_req, res) => res.end("hello"));
    notRedisPort = await new Promise<number>((resolve) =>
      notRedis.listen(0, "127.0.0.1", () => resolve((notRedis.address() as net.AddressInfo).port)),
    );
  });
  after(async () => {
    notRedis?.close();
    await Promise.all([guarded?.stop(), open?.stop()]);
  });

  async function refused(env: Record<string, string>): Promise<string> {
    const ended = await runRollcallOnce([], { PORT: "0", ...env });
    expect(ended.code, ended.stderr).to.equal(1);
    expect(ended.stdout, "the development secrets").to.not.match(/auth token|secret/);
    expect(ended.stderr).to.not.contain(password);
    // The last line; before it only what a library logs itself (@grpc/grpc-js: "No address added").
    return ended.stderr.trim().split("\n").at(-1)!;
  }

  describe("REDIS_URL", () => {
    it("nothing listening: names the URL and that the connection was refused", async () => {
      const port = await freePort();
      expect(await refused({ REDIS_URL: `redis://127.0.0.1:${port}/0` })).to.equal(
        `rollcall: cannot start: cannot connect to REDIS_URL redis://127.0.0.1:${port}/0: connect ECONNREFUSED 127.0.0.1:${port} (nothing listens at that host and port)`,
      );
    });

    it("another scheme: names the variable and the shape it must have", async () => {
      expect(await refused({ REDIS_URL: `http://127.0.0.1:${open.port}` })).to.match(
        /^rollcall: cannot start: REDIS_URL must be redis:\/\/\[\[user\]:password@\]host\[:port\]\[\/db\] or rediss:\/\/\.\.\. for TLS, got "http:\/\/127\.0\.0\.1:\d+\/"$/,
      );
    });

    it("no password where one is required: says so", async () => {
      expect(await refused({ REDIS_URL: `redis://127.0.0.1:${guarded.port}` })).to.match(
        new RegExp(
          `^rollcall: cannot start: cannot connect to REDIS_URL redis://127\\.0\\.0\\.1:${guarded.port}: NOAUTH .*\\(the server requires a password, and REDIS_URL has none \\(redis://:password@host:port\\)\\)$`,
        ),
      );
    });

    it("a wrong password: names the URL without the password, and that it was refused", async () => {
      expect(await refused({ REDIS_URL: `redis://:${password}-wrong@127.0.0.1:${guarded.port}/0` })).to.match(
        new RegExp(
          `^rollcall: cannot start: cannot connect to REDIS_URL redis://:\\*\\*\\*@127\\.0\\.0\\.1:${guarded.port}/0: WRONGPASS .*\\(the server refused the user name or password in REDIS_URL\\)$`,
        ),
      );
    });

    it("a server that is not Redis: says it does not speak the Redis protocol, or closed the connection", async () => {
      // An HTTP server answers 400 and closes: ioredis meets the answer, or
      // only the closed connection (EPIPE) if it was still writing.
      expect(await refused({ REDIS_URL: `redis://127.0.0.1:${notRedisPort}` })).to.match(
        new RegExp(
          `^rollcall: cannot start: cannot connect to REDIS_URL redis://127\\.0\\.0\\.1:${notRedisPort}: .*\\(the server (does not speak the Redis protocol: is that port another service, such as an HTTP server\\?|closed the connection at once: is that port another service, or one that wants TLS \\(rediss://\\)\\?)\\)$`,
        ),
      );
    });

    it("a database the server does not have: stops the start, naming the database", async () => {
      expect(await refused({ REDIS_URL: `redis://127.0.0.1:${open.port}/7` })).to.match(
        new RegExp(
          `^rollcall: cannot start: cannot connect to REDIS_URL redis://127\\.0\\.0\\.1:${open.port}/7: ERR DB index is out of range \\(the server has no database 7 `,
        ),
      );
    });

    it("a database the server has, with the right password: starts", async () => {
      const started = await startRollcallProcess({ REDIS_URL: `redis://:${password}@127.0.0.1:${guarded.port}/3` });
      try {
        expect(started.output()).to.contain(`store: Redis at redis://:***@127.0.0.1:${guarded.port}/3`);
      } finally {
        await stopProcess(started.child);
      }
    });
  });

  describe("a port in use", () => {
    let holder: net.Server;
    let held: number;
    before(async () => {
      holder = net.createServer();
      held = await new Promise<number>((resolve) =>
        holder.listen(0, "127.0.0.1", () => resolve((holder.address() as net.AddressInfo).port)),
      );
    });
    after(() => holder.close());

    for (const variable of Object.keys(settings).filter((name) => "port" in settings[name as keyof typeof settings])) {
      it(`${variable}: names the variable to change, and prints no secret`, async () => {
        const ports = { PORT: "0", GRPC_PORT: "0", [variable]: String(held) };
        expect(await refused(ports)).to.equal(
          `rollcall: cannot start: port ${held} on 127.0.0.1 is in use by another process: set ${variable} to a free port (0 picks one), or stop the process holding it`,
        );
      });
    }
  });
});

describe("rollcall --help and --version", function () {
  this.timeout(60_000);
  it("--version prints the package's version", async () => {
    const ended = await runRollcallOnce(["--version"], {});
    expect(ended).to.deep.equal({ code: 0, stdout: "rollcall 0.1.0\n", stderr: "" });
  });

  it("--help lists every environment variable with its default", async () => {
    const ended = await runRollcallOnce(["--help"], {});
    expect(ended.code).to.equal(0);
    for (const [name, setting] of Object.entries(settings)) {
      expect(ended.stdout).to.match(new RegExp(`^  ${name} +${(setting.default ?? "(unset)").replace(/[()]/g, "\\$&")} +\\S`, "m"));
    }
  });

  it("an unknown argument is refused, pointing at --help", async () => {
    const ended = await runRollcallOnce(["--port=9000"], {});
    expect(ended.code).to.equal(1);
    expect(ended.stderr).to.contain('unknown argument "--port=9000"').and.to.contain("--help");
  });
});
