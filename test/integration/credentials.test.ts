import { expect } from "chai";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  accountSid,
  apiKeySecret,
  apiKeySid,
  authToken,
  credentialFiles,
  expectNoSecrets,
  notJsonWithSecrets,
  otherAccountSid,
  otherAuthToken,
  validJson,
} from "../support/credential-files.js";
import { basic } from "../support/rollcall.js";

// The checkout these tests belong to, whatever directory mocha runs in.
const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

// A real rollcall process started with ROLLCALL_CREDENTIALS_FILE (the file's
// shape and messages: test/unit/credentials.test.ts).
describe("credentials", () => {
  const files = credentialFiles();
  const writeFile = files.write;

  describe("the rollcall process with ROLLCALL_CREDENTIALS_FILE", () => {
    interface Started {
      child: ChildProcessWithoutNullStreams;
      stdout: () => string;
      stderr: () => string;
      exited: Promise<number | null>;
    }

    const children: ChildProcessWithoutNullStreams[] = [];

    function start(credentialsFile: string): Started {
      const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
        cwd: repoRoot,
        env: { ...process.env, PORT: "0", GRPC_PORT: "0", REDIS_URL: "", ROLLCALL_CREDENTIALS_FILE: credentialsFile },
        stdio: ["pipe", "pipe", "pipe"],
      });
      children.push(child);
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = once(child, "exit").then(([code]) => code as number | null);
      return { child, stdout: () => stdout, stderr: () => stderr, exited };
    }

    // The URL from the "serving … on" line, or a failure with what the process said.
    function serving(started: Started, timeoutMs = 15_000): Promise<string> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => finish(new Error(`no "serving" line in ${timeoutMs} ms; stdout: ${started.stdout()} stderr: ${started.stderr()}`)),
          timeoutMs,
        );
        const check = () => {
          const match = /serving .* on (http:\/\/[^\s"]+)/.exec(started.stdout());
          if (match) finish(undefined, match[1]);
        };
        const onExit = (code: number | null) =>
          finish(new Error(`exited with ${code} before serving; stdout: ${started.stdout()} stderr: ${started.stderr()}`));
        function finish(error: Error | undefined, url?: string) {
          clearTimeout(timer);
          started.child.stdout.off("data", check);
          started.child.off("exit", onExit);
          if (error) reject(error);
          else resolve(url!);
        }
        started.child.stdout.on("data", check);
        started.child.once("exit", onExit);
        check();
      });
    }

    async function stop(started: Started): Promise<number | null> {
      if (started.child.exitCode === null && started.child.signalCode === null) started.child.kill("SIGTERM");
      return started.exited;
    }

    // Whatever a test left running.
    afterEach(async () => {
      for (const child of children.splice(0)) {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill("SIGKILL");
          await once(child, "exit");
        }
      }
    });

    it("exits with code 1 and says why when the file is malformed, without quoting a secret", async () => {
      const json = validJson();
      json.api_keys[0]!.account_sid = "AC" + "f".repeat(32);
      const path = writeFile(JSON.stringify(json));
      const started = start(path);
      try {
        expect(await started.exited).to.equal(1);
        expect(started.stderr()).to.contain("cannot start");
        expect(started.stderr()).to.contain(`ROLLCALL_CREDENTIALS_FILE ${path}`);
        expect(started.stderr()).to.contain("api_keys[0].account_sid must be the sid of one of the accounts");
        expectNoSecrets(started.stdout() + started.stderr(), "the output of a refused start");
        expect(started.stdout()).to.not.match(/serving/);
      } finally {
        await stop(started);
      }
    });

    it("exits with code 1 and names the path when the file is missing or not JSON", async () => {
      for (const [path, problem] of [
        [join(files.dir(), "missing.json"), /cannot read ROLLCALL_CREDENTIALS_FILE/],
        [writeFile("accounts: []\n"), /is not JSON/],
      ] as const) {
        const started = start(path);
        try {
          expect(await started.exited, path).to.equal(1);
          expect(started.stderr()).to.contain("cannot start");
          expect(started.stderr()).to.contain(path);
          expect(started.stderr()).to.match(problem);
        } finally {
          await stop(started);
        }
      }
    });

    it("does not print part of a secret when the file is not JSON", async () => {
      for (const [label, content] of notJsonWithSecrets()) {
        const started = start(writeFile(content));
        try {
          expect(await started.exited, label).to.equal(1);
          expect(started.stderr(), label).to.contain("cannot start");
          expect(started.stderr(), label).to.match(/is not JSON/);
          expectNoSecrets(started.stdout() + started.stderr(), `the output for ${label}`);
        } finally {
          await stop(started);
        }
      }
    });

    it("serves with a valid file: its credentials get 200 on REST, wrong ones 401, and no secret is printed", async () => {
      const path = writeFile(JSON.stringify(validJson()));
      const started = start(path);
      try {
        const url = await serving(started);
        const rooms = (authorization: string) => fetch(`${url}/v1/Rooms`, { headers: { authorization } });

        const byAccount = await rooms(basic(accountSid, authToken));
        expect(byAccount.status).to.equal(200);
        expect(await byAccount.json())
          .to.have.property("rooms")
          .that.deep.equals([]);
        expect((await rooms(basic(otherAccountSid, otherAuthToken))).status).to.equal(200);
        expect((await rooms(basic(apiKeySid, apiKeySecret))).status).to.equal(200);

        const created = await fetch(`${url}/v1/Rooms`, {
          method: "POST",
          headers: { authorization: basic(apiKeySid, apiKeySecret), "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ UniqueName: "from-the-key" }).toString(),
        });
        expect(created.status).to.equal(201);
        expect(((await created.json()) as { account_sid: string }).account_sid).to.equal(accountSid);

        for (const wrong of [
          basic(accountSid, "wrong"),
          basic(accountSid, otherAuthToken),
          basic(apiKeySid, authToken),
          basic("AC" + "1".repeat(32), authToken),
        ]) {
          const answer = await rooms(wrong);
          expect(answer.status).to.equal(401);
          expect(answer.headers.get("www-authenticate")).to.match(/^Basic\b/i);
          expect(((await answer.json()) as { code: number }).code).to.equal(20003);
        }
        const none = await fetch(`${url}/v1/Rooms`);
        expect(none.status).to.equal(401);
        await none.text();

        expect(await stop(started)).to.equal(0);
        expect(started.stdout()).to.contain(path);
        expectNoSecrets(started.stdout(), "stdout");
        expectNoSecrets(started.stderr(), "stderr");
      } finally {
        await stop(started);
      }
    });
  });
});
