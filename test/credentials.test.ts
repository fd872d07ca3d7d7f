import { expect } from "chai";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CredentialsError, loadCredentials, parseCredentials } from "../src/credentials.js";
import { basic } from "./support/rollcall.js";

// ROLLCALL_CREDENTIALS_FILE: its shape, the messages that name what is wrong
// with it, and a real process started with one.

// Secrets shaped like Twilio's: 32 hex digits; each starts with a letter, as
// most do, so a parser's "unexpected token" message would quote it.
const secretHex = () => "e" + randomBytes(16).toString("hex").slice(1);
const accountSid = "AC" + "a".repeat(32);
const otherAccountSid = "AC" + "b".repeat(32);
const apiKeySid = "SK" + "c".repeat(32);
const authToken = secretHex();
const otherAuthToken = secretHex();
const apiKeySecret = secretHex();
const secrets = [authToken, otherAuthToken, apiKeySecret];

const validJson = () => ({
  accounts: [
    { sid: accountSid, auth_token: authToken },
    { sid: otherAccountSid, auth_token: otherAuthToken },
  ],
  api_keys: [{ sid: apiKeySid, secret: apiKeySecret, account_sid: accountSid }],
});

const source = "test credentials";

// Credentials files that are not JSON, as hand editing makes them.
const notJsonWithSecrets = (): [string, string][] => [
  ["an unquoted auth token", `{"accounts": [{"sid": "${accountSid}", "auth_token": ${authToken}}]}`],
  ["a single-quoted auth token", `{"accounts": [{"sid": "${accountSid}", "auth_token": '${authToken}'}]}`],
  ["a file holding only an API key secret", apiKeySecret + "\n"],
];

function parseError(json: unknown): CredentialsError {
  try {
    parseCredentials(json, source);
  } catch (error) {
    expect(error).to.be.instanceOf(CredentialsError);
    return error as CredentialsError;
  }
  throw new Error(`expected ${JSON.stringify(json)} to be refused`);
}

function loadError(path: string): CredentialsError {
  try {
    loadCredentials(path);
  } catch (error) {
    expect(error).to.be.instanceOf(CredentialsError);
    return error as CredentialsError;
  }
  throw new Error(`expected ${path} to be refused`);
}

function expectNoSecrets(text: string, what: string): void {
  for (const secret of secrets) {
    // Any 8 characters in a row of a secret count as a leak.
    for (let i = 0; i + 8 <= secret.length; i++) expect(text, `${what} quotes part of a secret`).to.not.contain(secret.slice(i, i + 8));
  }
}

describe("credentials", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "rollcall-credentials-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  let files = 0;
  const writeFile = (content: string) => {
    const path = join(dir, `credentials-${++files}.json`);
    writeFileSync(path, content);
    return path;
  };

  describe("parseCredentials", () => {
    it("reads accounts and API keys: each user maps to its secret and the account it acts for", () => {
      const { users } = parseCredentials(validJson(), source);
      expect([...users.keys()]).to.have.members([accountSid, otherAccountSid, apiKeySid]);
      expect(users.get(accountSid)).to.deep.equal({ secret: authToken, accountSid });
      expect(users.get(otherAccountSid)).to.deep.equal({ secret: otherAuthToken, accountSid: otherAccountSid });
      expect(users.get(apiKeySid)).to.deep.equal({ secret: apiKeySecret, accountSid });
    });

    it("api_keys is optional, and sids may use upper-case hex", () => {
      const upper = "AC" + "ABCDEF0123456789".repeat(2);
      const { users } = parseCredentials({ accounts: [{ sid: upper, auth_token: "t" }] }, source);
      expect([...users.entries()]).to.deep.equal([[upper, { secret: "t", accountSid: upper }]]);
      const withEmptyKeys = parseCredentials({ accounts: [{ sid: accountSid, auth_token: "t" }], api_keys: [] }, source);
      expect(withEmptyKeys.users.size).to.equal(1);
    });

    const malformed: [string, (json: ReturnType<typeof validJson>) => unknown, RegExp][] = [
      ["null", () => null, /must be a JSON object with "accounts"/],
      ["an array", () => [validJson()], /must be a JSON object with "accounts"/],
      ["a string", () => "accounts", /must be a JSON object with "accounts"/],
      ["a number", () => 42, /must be a JSON object with "accounts"/],
      ["accounts missing", (j) => ({ api_keys: j.api_keys }), /"accounts" must be a non-empty array/],
      ["accounts empty", () => ({ accounts: [] }), /"accounts" must be a non-empty array/],
      ["accounts an object", (j) => ({ accounts: j.accounts[0] }), /"accounts" must be a non-empty array/],
      ["accounts a string", () => ({ accounts: accountSid }), /"accounts" must be a non-empty array/],
      ["an account that is a string", (j) => ({ accounts: [j.accounts[0], accountSid] }), /accounts\[1\] must be an object/],
      ["an account that is null", () => ({ accounts: [null] }), /accounts\[0\] must be an object/],
      ["an account sid too short", () => ({ accounts: [{ sid: "AC123", auth_token: authToken }] }), /accounts\[0\]\.sid must be "AC" and 32 hex digits/],
      ["an account sid not hex", () => ({ accounts: [{ sid: "AC" + "g".repeat(32), auth_token: authToken }] }), /accounts\[0\]\.sid must be "AC" and 32 hex digits/],
      ["an account sid with a lower-case prefix", () => ({ accounts: [{ sid: "ac" + "a".repeat(32), auth_token: authToken }] }), /accounts\[0\]\.sid must be "AC" and 32 hex digits/],
      ["an API key sid as account sid", () => ({ accounts: [{ sid: apiKeySid, auth_token: authToken }] }), /accounts\[0\]\.sid must be "AC" and 32 hex digits/],
      ["an account sid missing", () => ({ accounts: [{ auth_token: authToken }] }), /accounts\[0\]\.sid must be "AC" and 32 hex digits/],
      ["an account sid that is a number", () => ({ accounts: [{ sid: 1, auth_token: authToken }] }), /accounts\[0\]\.sid must be "AC" and 32 hex digits/],
      ["an empty auth_token", (j) => ({ accounts: [j.accounts[0], { sid: otherAccountSid, auth_token: "" }] }), /accounts\[1\]\.auth_token must be a non-empty string/],
      ["a missing auth_token", () => ({ accounts: [{ sid: accountSid }] }), /accounts\[0\]\.auth_token must be a non-empty string/],
      ["an auth_token that is a number", () => ({ accounts: [{ sid: accountSid, auth_token: 12345 }] }), /accounts\[0\]\.auth_token must be a non-empty string/],
      ["a duplicated account sid", (j) => ({ accounts: [j.accounts[0], { sid: accountSid, auth_token: otherAuthToken }] }), new RegExp(`accounts\\[1\\]\\.sid ${accountSid} appears twice`)],
      ["api_keys an object", (j) => ({ accounts: j.accounts, api_keys: j.api_keys[0] }), /"api_keys" must be an array/],
      ["api_keys a string", (j) => ({ accounts: j.accounts, api_keys: apiKeySid }), /"api_keys" must be an array/],
      ["api_keys null", (j) => ({ accounts: j.accounts, api_keys: null }), /"api_keys" must be an array/],
      ["an API key that is a string", (j) => ({ accounts: j.accounts, api_keys: [apiKeySid] }), /api_keys\[0\] must be an object/],
      ["an API key sid too short", (j) => ({ ...j, api_keys: [{ ...j.api_keys[0], sid: "SK12" }] }), /api_keys\[0\]\.sid must be "SK" and 32 hex digits/],
      ["an account sid as API key sid", (j) => ({ ...j, api_keys: [{ ...j.api_keys[0], sid: otherAccountSid }] }), /api_keys\[0\]\.sid must be "SK" and 32 hex digits/],
      ["an API key sid missing", (j) => ({ ...j, api_keys: [{ secret: apiKeySecret, account_sid: accountSid }] }), /api_keys\[0\]\.sid must be "SK" and 32 hex digits/],
      ["an empty API key secret", (j) => ({ ...j, api_keys: [{ ...j.api_keys[0], secret: "" }] }), /api_keys\[0\]\.secret must be a non-empty string/],
      ["a missing API key secret", (j) => ({ ...j, api_keys: [{ sid: apiKeySid, account_sid: accountSid }] }), /api_keys\[0\]\.secret must be a non-empty string/],
      ["an API key for an unknown account", (j) => ({ ...j, api_keys: [{ ...j.api_keys[0], account_sid: "AC" + "f".repeat(32) }] }), /api_keys\[0\]\.account_sid must be the sid of one of the accounts/],
      ["an API key without account_sid", (j) => ({ ...j, api_keys: [{ sid: apiKeySid, secret: apiKeySecret }] }), /api_keys\[0\]\.account_sid must be the sid of one of the accounts/],
      ["an API key whose account_sid is itself", (j) => ({ ...j, api_keys: [{ ...j.api_keys[0], account_sid: apiKeySid }] }), /api_keys\[0\]\.account_sid must be the sid of one of the accounts/],
      ["a duplicated API key sid", (j) => ({ ...j, api_keys: [j.api_keys[0], { ...j.api_keys[0], secret: "another" }] }), new RegExp(`api_keys\\[1\\]\\.sid ${apiKeySid} appears twice`)],
    ];

    for (const [label, make, message] of malformed) {
      it(`refuses ${label}, naming the problem and never quoting a secret`, () => {
        const error = parseError(make(validJson()));
        expect(error.name).to.equal("CredentialsError");
        expect(error.message).to.match(new RegExp(`^${source}: `));
        expect(error.message).to.match(message);
        expectNoSecrets(error.message, label);
      });
    }
  });

  describe("loadCredentials", () => {
    it("loads a valid file", () => {
      const { users } = loadCredentials(writeFile(JSON.stringify(validJson())));
      expect(users.size).to.equal(3);
      expect(users.get(apiKeySid)).to.deep.equal({ secret: apiKeySecret, accountSid });
    });

    it("a missing file: the message names ROLLCALL_CREDENTIALS_FILE and the path", () => {
      const path = join(dir, "does-not-exist.json");
      const error = loadError(path);
      expect(error.message).to.contain("ROLLCALL_CREDENTIALS_FILE");
      expect(error.message).to.contain(path);
      expect(error.message).to.match(/cannot read/);
    });

    it("a directory instead of a file: the message names ROLLCALL_CREDENTIALS_FILE and the path", () => {
      const path = join(dir, "a-directory");
      mkdirSync(path);
      const error = loadError(path);
      expect(error.message).to.contain("ROLLCALL_CREDENTIALS_FILE");
      expect(error.message).to.contain(path);
    });

    for (const [label, content] of [
      ["an empty file", ""],
      ["YAML", `accounts:\n  - sid: ${accountSid}\n`],
      ["JSON with a trailing comma", JSON.stringify(validJson()).replace(/}$/, ",}")],
    ] as const) {
      it(`${label}: the message names ROLLCALL_CREDENTIALS_FILE, the path, and that it is not JSON`, () => {
        const path = writeFile(content);
        const error = loadError(path);
        expect(error.message).to.contain("ROLLCALL_CREDENTIALS_FILE");
        expect(error.message).to.contain(path);
        expect(error.message).to.match(/is not JSON/);
      });
    }

    it("a JSON file of the wrong shape: the message names ROLLCALL_CREDENTIALS_FILE, the path and the problem", () => {
      const path = writeFile(JSON.stringify({ accounts: [] }));
      const error = loadError(path);
      expect(error.message).to.equal(`ROLLCALL_CREDENTIALS_FILE ${path}: "accounts" must be a non-empty array`);
    });

    it("a file that is not JSON is reported without quoting its text, which holds secrets", () => {
      // A hand-edited file with unquoted secrets: V8's JSON.parse message
      // quotes the text around the error, and loadCredentials passes it on.
      for (const [label, content] of notJsonWithSecrets()) {
        const error = loadError(writeFile(content));
        expect(error.message, label).to.match(/is not JSON/);
        expectNoSecrets(error.message, `the not-JSON message for ${label}`);
      }
    });
  });

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
        cwd: "/work/main",
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
        const timer = setTimeout(() => finish(new Error(`no "serving" line in ${timeoutMs} ms; stdout: ${started.stdout()} stderr: ${started.stderr()}`)), timeoutMs);
        const check = () => {
          const match = /serving .* on (http:\/\/\S+)/.exec(started.stdout());
          if (match) finish(undefined, match[1]!);
        };
        const onExit = (code: number | null) => finish(new Error(`exited with ${code} before serving; stdout: ${started.stdout()} stderr: ${started.stderr()}`));
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
        [join(dir, "missing.json"), /cannot read ROLLCALL_CREDENTIALS_FILE/],
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
        expect(await byAccount.json()).to.have.property("rooms").that.deep.equals([]);
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
