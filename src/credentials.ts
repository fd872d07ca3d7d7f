import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { jsonSyntaxError } from "./json-syntax-error.js";
import { checkCallbackUrl } from "./operations/callback-url.js";
import type { AccountCallback } from "./operations/rooms.js";

// Who may call rollcall: accounts with their auth tokens, and API keys that
// each act for one account. Read from ROLLCALL_CREDENTIALS_FILE, whose keys
// other tools write, so their names are fixed:
//   {"accounts": [{"sid": "AC…", "auth_token": "…",
//                  "status_callback": "https://…", "status_callback_method": "POST"}],
//    "api_keys": [{"sid": "SK…", "secret": "…", "account_sid": "AC…"}]}
// An account's optional status_callback (method POST unless GET) is the
// callback of the ad-hoc rooms it creates by joining.
export interface Credentials {
  // username (account sid or API key sid) -> its secret and the account it acts for
  users: Map<string, { secret: string; accountSid: string }>;
  // account sid -> its auth token (which signs its status callbacks) and the
  // callback of its ad-hoc rooms, if any
  accounts: Map<string, { authToken: string; callback: AccountCallback | undefined }>;
}

export class CredentialsError extends Error {
  override readonly name = "CredentialsError";
}

export function loadCredentials(path: string): Credentials {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new CredentialsError(`cannot read ROLLCALL_CREDENTIALS_FILE ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // JSON.parse's message may quote the text around the fault, which may be a secret.
    const fault = jsonSyntaxError(text);
    const where = fault === undefined ? "" : `: line ${fault.line}, column ${fault.column}: expected ${fault.expected}`;
    throw new CredentialsError(`ROLLCALL_CREDENTIALS_FILE ${path} is not JSON${where}`);
  }
  return parseCredentials(json, `ROLLCALL_CREDENTIALS_FILE ${path}`);
}

export function parseCredentials(json: unknown, source: string): Credentials {
  const fail = (problem: string): never => {
    throw new CredentialsError(`${source}: ${problem}`);
  };
  if (!isObject(json)) fail('must be a JSON object with "accounts" and optionally "api_keys"');
  onlyKeys(json as Record<string, unknown>, ["accounts", "api_keys"], "the top level", fail);
  const { accounts, api_keys: apiKeys = [] } = json as Record<string, unknown>;
  if (!Array.isArray(accounts) || accounts.length === 0) fail('"accounts" must be a non-empty array');
  if (!Array.isArray(apiKeys)) fail('"api_keys" must be an array');
  const users: Credentials["users"] = new Map();
  const accountsBySid: Credentials["accounts"] = new Map();
  (accounts as unknown[]).forEach((entry, i) => {
    const at = `accounts[${i}]`;
    if (!isObject(entry)) fail(`${at} must be an object`);
    onlyKeys(entry as Record<string, unknown>, ["sid", "auth_token", "status_callback", "status_callback_method"], at, fail);
    const {
      sid,
      auth_token: token,
      status_callback: callbackUrl,
      status_callback_method: callbackMethod,
    } = entry as Record<string, unknown>;
    if (typeof sid !== "string" || !/^AC[0-9a-fA-F]{32}$/.test(sid)) fail(`${at}.sid must be "AC" and 32 hex digits`);
    if (typeof token !== "string" || token === "") fail(`${at}.auth_token must be a non-empty string`);
    if (users.has(sid as string)) fail(`${at}.sid ${sid as string} appears twice`);
    users.set(sid as string, { secret: token as string, accountSid: sid as string });
    accountsBySid.set(sid as string, { authToken: token as string, callback: accountCallback(callbackUrl, callbackMethod, at, fail) });
  });
  (apiKeys as unknown[]).forEach((entry, i) => {
    const at = `api_keys[${i}]`;
    if (!isObject(entry)) fail(`${at} must be an object`);
    onlyKeys(entry as Record<string, unknown>, ["sid", "secret", "account_sid"], at, fail);
    const { sid, secret, account_sid: accountSid } = entry as Record<string, unknown>;
    if (typeof sid !== "string" || !/^SK[0-9a-fA-F]{32}$/.test(sid)) fail(`${at}.sid must be "SK" and 32 hex digits`);
    if (typeof secret !== "string" || secret === "") fail(`${at}.secret must be a non-empty string`);
    if (typeof accountSid !== "string" || !users.has(accountSid)) fail(`${at}.account_sid must be the sid of one of the accounts`);
    if (users.has(sid as string)) fail(`${at}.sid ${sid as string} appears twice`);
    users.set(sid as string, { secret: secret as string, accountSid: accountSid as string });
  });
  return { users, accounts: accountsBySid };
}

// A misspelt key would otherwise be ignored, and what it meant to set silently
// missing (an "apiKeys" list leaves every API key refused).
function onlyKeys(object: Record<string, unknown>, known: string[], at: string, fail: (problem: string) => never): void {
  const unknown = Object.keys(object).find((key) => !known.includes(key));
  if (unknown === undefined) return;
  const folded = (key: string) => key.toLowerCase().replace(/[_-]/g, "");
  const meant = known.find((key) => folded(key) === folded(unknown));
  const hint = meant === undefined ? `the keys there are ${known.map((key) => `"${key}"`).join(", ")}` : `did you mean "${meant}"?`;
  fail(`unknown key ${JSON.stringify(unknown)} in ${at}: ${hint}`);
}

// An account's optional status_callback and status_callback_method, checked
// like a room's.
function accountCallback(url: unknown, method: unknown, at: string, fail: (problem: string) => never): AccountCallback | undefined {
  if (url === undefined || url === "") {
    if (method !== undefined) fail(`${at}.status_callback_method is set without status_callback`);
    return undefined;
  }
  if (typeof url !== "string") return fail(`${at}.status_callback must be a string`);
  try {
    checkCallbackUrl(url);
  } catch (error) {
    fail(`${at}.${(error as Error).message}`);
  }
  const upper = method === undefined ? "POST" : typeof method === "string" ? method.toUpperCase() : "";
  if (upper !== "GET" && upper !== "POST") fail(`${at}.status_callback_method must be GET or POST`);
  return { url, method: upper };
}

// For local use only: one account and one API key with random secrets, made
// at start when no credentials file is configured.
export function developmentCredentials(): {
  credentials: Credentials;
  accountSid: string;
  authToken: string;
  apiKeySid: string;
  apiKeySecret: string;
} {
  const accountSid = "AC" + randomBytes(16).toString("hex");
  const authToken = randomBytes(16).toString("hex");
  const apiKeySid = "SK" + randomBytes(16).toString("hex");
  const apiKeySecret = randomBytes(16).toString("hex");
  const credentials = parseCredentials(
    {
      accounts: [{ sid: accountSid, auth_token: authToken }],
      api_keys: [{ sid: apiKeySid, secret: apiKeySecret, account_sid: accountSid }],
    },
    "development credentials",
  );
  return { credentials, accountSid, authToken, apiKeySid, apiKeySecret };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
