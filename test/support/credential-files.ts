import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// Credentials files for the tests of ROLLCALL_CREDENTIALS_FILE: secrets
// shaped like Twilio's, a valid file, files that are not JSON, and a check
// that a text quotes no part of a secret.

// Secrets shaped like Twilio's: 32 hex digits; each starts with a letter, as
// most do, so a parser's "unexpected token" message would quote it.
const secretHex = () => "e" + randomBytes(16).toString("hex").slice(1);
export const accountSid = "AC" + "a".repeat(32);
export const otherAccountSid = "AC" + "b".repeat(32);
export const apiKeySid = "SK" + "c".repeat(32);
export const authToken = secretHex();
export const otherAuthToken = secretHex();
export const apiKeySecret = secretHex();
const secrets = [authToken, otherAuthToken, apiKeySecret];

export const validJson = () => ({
  accounts: [
    { sid: accountSid, auth_token: authToken },
    { sid: otherAccountSid, auth_token: otherAuthToken },
  ],
  api_keys: [{ sid: apiKeySid, secret: apiKeySecret, account_sid: accountSid }],
});

// Credentials files that are not JSON, as hand editing makes them.
export const notJsonWithSecrets = (): [string, string][] => [
  ["an unquoted auth token", `{"accounts": [{"sid": "${accountSid}", "auth_token": ${authToken}}]}`],
  ["a single-quoted auth token", `{"accounts": [{"sid": "${accountSid}", "auth_token": '${authToken}'}]}`],
  ["a file holding only an API key secret", apiKeySecret + "\n"],
];

export function expectNoSecrets(text: string, what: string): void {
  for (const secret of secrets) {
    // Any 8 characters in a row of a secret count as a leak.
    for (let i = 0; i + 8 <= secret.length; i++) expect(text, `${what} quotes part of a secret`).to.not.contain(secret.slice(i, i + 8));
  }
}

// A temporary directory for the suite (made in a before hook, removed in an
// after hook) and a writer of numbered files in it.
export function credentialFiles(): { dir: () => string; write: (content: string) => string } {
  let dir: string | undefined;
  let files = 0;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "rollcall-credentials-"));
  });
  after(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir: () => dir!,
    write: (content) => {
      const path = join(dir!, `credentials-${++files}.json`);
      writeFileSync(path, content);
      return path;
    },
  };
}
