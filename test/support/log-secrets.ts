import { basic, otherAccount, testAccount, testApiKey } from "./rollcall.js";

// The test credentials in every form a log line could leak them: the
// secrets, and the Basic headers that carry them (whole and base64 alone).
function credentialForms(): string[] {
  const headers = [
    basic(testAccount.sid, testAccount.token),
    basic(otherAccount.sid, otherAccount.token),
    basic(testApiKey.sid, testApiKey.secret),
  ];
  return [testAccount.token, otherAccount.token, testApiKey.secret, ...headers, ...headers.map((header) => header.slice("Basic ".length))];
}

// The lines that contain a test credential or one of `more` (page tokens),
// each with what it contains.
export function secretsIn(lines: readonly string[], more: readonly string[] = []): string[] {
  const secrets = [...credentialForms(), ...more];
  return lines.flatMap((line) => secrets.filter((secret) => line.includes(secret)).map((secret) => `${JSON.stringify(secret)} in ${line}`));
}
