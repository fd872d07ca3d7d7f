import { expect } from "chai";
import { join } from "node:path";
import { mkdirSync } from "node:fs";
import { CredentialsError, loadCredentials, parseCredentials } from "../../src/credentials.js";
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

// ROLLCALL_CREDENTIALS_FILE: its shape and the messages that name what is
// wrong with it (the process started with one: test/integration/credentials.test.ts).

const source = "test credentials";

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

describe("credentials", () => {
  const files = credentialFiles();
  const writeFile = files.write;

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
      [
        "a misspelt api_keys",
        (j) => ({ accounts: j.accounts, apiKeys: j.api_keys }),
        /^test credentials: unknown key "apiKeys" in the top level: did you mean "api_keys"\?$/,
      ],
      [
        "an unknown top-level key",
        (j) => ({ ...j, users: [] }),
        /^test credentials: unknown key "users" in the top level: the keys there are "accounts", "api_keys"$/,
      ],
      [
        "a misspelt key of an account",
        (j) => ({ accounts: [j.accounts[0], { sid: otherAccountSid, authToken: otherAuthToken }] }),
        /^test credentials: unknown key "authToken" in accounts\[1\]: did you mean "auth_token"\?$/,
      ],
      [
        "an unknown key of an API key",
        (j) => ({ ...j, api_keys: [{ ...j.api_keys[0], account: accountSid }] }),
        /^test credentials: unknown key "account" in api_keys\[0\]: the keys there are "sid", "secret", "account_sid"$/,
      ],
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
      [
        "an account sid too short",
        () => ({ accounts: [{ sid: "AC123", auth_token: authToken }] }),
        /accounts\[0\]\.sid must be "AC" and 32 hex digits/,
      ],
      [
        "an account sid not hex",
        () => ({ accounts: [{ sid: "AC" + "g".repeat(32), auth_token: authToken }] }),
        /accounts\[0\]\.sid must be "AC" and 32 hex digits/,
      ],
      [
        "an account sid with a lower-case prefix",
        () => ({ accounts: [{ sid: "ac" + "a".repeat(32), auth_token: authToken }] }),
        /accounts\[0\]\.sid must be "AC" and 32 hex digits/,
      ],
      [
        "an API key sid as account sid",
        () => ({ accounts: [{ sid: apiKeySid, auth_token: authToken }] }),
        /accounts\[0\]\.sid must be "AC" and 32 hex digits/,
      ],
      ["an account sid missing", () => ({ accounts: [{ auth_token: authToken }] }), /accounts\[0\]\.sid must be "AC" and 32 hex digits/],
      [
        "an account sid that is a number",
        () => ({ accounts: [{ sid: 1, auth_token: authToken }] }),
        /accounts\[0\]\.sid must be "AC" and 32 hex digits/,
      ],
      [
        "an empty auth_token",
        (j) => ({ accounts: [j.accounts[0], { sid: otherAccountSid, auth_token: "" }] }),
        /accounts\[1\]\.auth_token must be a non-empty string/,
      ],
      ["a missing auth_token", () => ({ accounts: [{ sid: accountSid }] }), /accounts\[0\]\.auth_token must be a non-empty string/],
      [
        "an auth_token that is a number",
        () => ({ accounts: [{ sid: accountSid, auth_token: 12345 }] }),
        /accounts\[0\]\.auth_token must be a non-empty string/,
      ],
      [
        "a duplicated account sid",
        (j) => ({ accounts: [j.accounts[0], { sid: accountSid, auth_token: otherAuthToken }] }),
        new RegExp(`accounts\\[1\\]\\.sid ${accountSid} appears twice`),
      ],
      ["api_keys an object", (j) => ({ accounts: j.accounts, api_keys: j.api_keys[0] }), /"api_keys" must be an array/],
      ["api_keys a string", (j) => ({ accounts: j.accounts, api_keys: apiKeySid }), /"api_keys" must be an array/],
      ["api_keys null", (j) => ({ accounts: j.accounts, api_keys: null }), /"api_keys" must be an array/],
      ["an API key that is a string", (j) => ({ accounts: j.accounts, api_keys: [apiKeySid] }), /api_keys\[0\] must be an object/],
      [
        "an API key sid too short",
        (j) => ({ ...j, api_keys: [{ ...j.api_keys[0], sid: "SK12" }] }),
        /api_keys\[0\]\.sid must be "SK" and 32 hex digits/,
      ],
      [
        "an account sid as API key sid",
        (j) => ({ ...j, api_keys: [{ ...j.api_keys[0], sid: otherAccountSid }] }),
        /api_keys\[0\]\.sid must be "SK" and 32 hex digits/,
      ],
      [
        "an API key sid missing",
        (j) => ({ ...j, api_keys: [{ secret: apiKeySecret, account_sid: accountSid }] }),
        /api_keys\[0\]\.sid must be "SK" and 32 hex digits/,
      ],
      [
        "an empty API key secret",
        (j) => ({ ...j, api_keys: [{ ...j.api_keys[0], secret: "" }] }),
        /api_keys\[0\]\.secret must be a non-empty string/,
      ],
      [
        "a missing API key secret",
        (j) => ({ ...j, api_keys: [{ sid: apiKeySid, account_sid: accountSid }] }),
        /api_keys\[0\]\.secret must be a non-empty string/,
      ],
      [
        "an API key for an unknown account",
        (j) => ({ ...j, api_keys: [{ ...j.api_keys[0], account_sid: "AC" + "f".repeat(32) }] }),
        /api_keys\[0\]\.account_sid must be the sid of one of the accounts/,
      ],
      [
        "an API key without account_sid",
        (j) => ({ ...j, api_keys: [{ sid: apiKeySid, secret: apiKeySecret }] }),
        /api_keys\[0\]\.account_sid must be the sid of one of the accounts/,
      ],
      [
        "an API key whose account_sid is itself",
        (j) => ({ ...j, api_keys: [{ ...j.api_keys[0], account_sid: apiKeySid }] }),
        /api_keys\[0\]\.account_sid must be the sid of one of the accounts/,
      ],
      [
        "a duplicated API key sid",
        (j) => ({ ...j, api_keys: [j.api_keys[0], { ...j.api_keys[0], secret: "another" }] }),
        new RegExp(`api_keys\\[1\\]\\.sid ${apiKeySid} appears twice`),
      ],
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
      const path = join(files.dir(), "does-not-exist.json");
      const error = loadError(path);
      expect(error.message).to.contain("ROLLCALL_CREDENTIALS_FILE");
      expect(error.message).to.contain(path);
      expect(error.message).to.match(/cannot read/);
    });

    it("a directory instead of a file: the message names ROLLCALL_CREDENTIALS_FILE and the path", () => {
      const path = join(files.dir(), "a-directory");
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

    it("invalid JSON names the line and column of the fault and what was expected there", () => {
      const cases: [string, string][] = [
        ['{\n  "accounts": [\n    {"sid": "AC1", "auth_token": "t",}\n  ]\n}\n', "line 3, column 38: expected a double-quoted string"],
        ['{\n  "accounts": []\n  "api_keys": []\n}', 'line 3, column 3: expected "," or "}" after the value'],
        ['{"accounts": [tru]}', "line 1, column 15: expected true"],
        ['{"accounts": "a\tb"}', "line 1, column 16: expected no control character inside a string"],
        ["", "line 1, column 1: expected a value"],
        ['{"accounts": []} x', "line 1, column 18: expected the end of the text after the value"],
        ['{"accounts": [1, 2', 'line 1, column 19: expected "," or "]" after the element'],
      ];
      for (const [content, where] of cases) {
        const path = writeFile(content);
        expect(loadError(path).message, JSON.stringify(content)).to.contain(`ROLLCALL_CREDENTIALS_FILE ${path} is not JSON: ${where}`);
      }
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
});
