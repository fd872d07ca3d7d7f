import { create, type DescField, type DescMessage, ScalarType, toBinary } from "@bufbuild/protobuf";
import { Random } from "../../support/random.js";
import { basic, otherAuthorization, testAccount, testAuthorization } from "../../support/rollcall.js";
import { stringField } from "../../support/wire/protobuf.js";
import { refused, type RpcTarget, type World } from "./world.js";

// Random values: texts, fields, protobuf and JSON messages (well formed,
// mutated or poisoned), padding, credentials and headers.

export const brokenPercent = ["%", "%G1", "%C3%28", "%FF%FE", "%%", "%2", "%u0041", "%E2%82", "%ED%A0%80", "%C0%AF"];
export const invalidUtf8 = [
  [0x80],
  [0xff],
  [0xfe, 0xff],
  [0xc3, 0x28],
  [0xed, 0xa0, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xc0, 0xaf],
  [0xe2, 0x82],
].map((b) => Buffer.from(b));

export function fuzzText(rng: Random, world: World): string {
  switch (rng.int(10)) {
    case 0:
      return "";
    case 1:
      return rng.pick([world.room.name, world.room.sid, world.room.sid.toUpperCase(), ...world.participants]);
    case 2:
      return rng.pick(["RM", "PA", "AC"]) + rng.hex(rng.pick([31, 32, 33]));
    case 3:
      return rng.pick(["\u0000", "a\tb", "line\nbreak", "\u007f", "\u0085", "nul\u0000x"]);
    case 4:
      return rng.pick(["\ud800", "x\udfff", "\udbff\udfff", "\ufffe", "\u200b"]);
    case 5:
      return "😀".repeat(rng.int(200));
    case 6:
      return rng.pick(["x", "😀"]).repeat(rng.pick([128, 129, 1000, 10_000, 100_000]));
    case 7:
      return rng.pick(["..", "../..", "/", "%2F", "{RM00}:p:*", "*", "a b", "%00", "?", "#", ...brokenPercent]);
    default: {
      let text = "";
      for (let i = rng.size(); i > 0; i--)
        text += rng.chance(0.1) ? String.fromCharCode(0xd800 + rng.int(0x800)) : String.fromCodePoint(rng.int(0x11000));
      return text;
    }
  }
}

export const int32s = [0, 1, -1, 50, 51, 59, 61, 599, 600, 86_400, 86_401, 1000, 1001, 2 ** 31 - 1, -(2 ** 31)];
export const enums = [0, 1, 2, 3, 4, 99, -1, 2 ** 31 - 1];
export const timestampSeconds = [
  0n,
  -1n,
  1_767_225_600n,
  -62_135_596_800n,
  -62_135_596_801n,
  253_402_300_799n,
  253_402_300_800n,
  2n ** 62n,
  -(2n ** 62n),
];
export const timestampNanos = [0, 999_999_999, 1_000_000_000, -1, 2 ** 31 - 1];

export function fieldValue(rng: Random, field: DescField, world: World): unknown {
  switch (field.fieldKind) {
    case "scalar":
      return field.scalar === ScalarType.STRING ? fuzzText(rng, world) : rng.chance(0.8) ? rng.pick(int32s) : rng.int(2 ** 31);
    case "enum":
      return rng.pick(enums);
    case "message":
      return { seconds: rng.pick(timestampSeconds), nanos: rng.pick(timestampNanos) };
    default:
      return undefined;
  }
}

export function randomMessage(rng: Random, desc: DescMessage, world: World): Buffer {
  const init: Record<string, unknown> = {};
  for (const field of desc.fields) if (rng.chance(0.6)) init[field.localName] = fieldValue(rng, field, world);
  return Buffer.from(toBinary(desc, create(desc, init)));
}

export function mutate(rng: Random, bytes: Buffer): Buffer {
  let result = bytes;
  for (let n = 1 + rng.int(3); n > 0; n--) {
    const at = rng.int(result.length + 1);
    switch (rng.int(4)) {
      case 0:
        if (result.length > 0) result = Buffer.concat([result.subarray(0, at), Buffer.from([rng.int(256)]), result.subarray(at + 1)]);
        break;
      case 1:
        result = result.subarray(0, at);
        break;
      case 2:
        result = Buffer.concat([result.subarray(0, at), rng.bytes(1 + rng.int(4)), result.subarray(at)]);
        break;
      default:
        result = Buffer.concat([result.subarray(0, at), result.subarray(rng.int(at + 1))]);
        break;
    }
  }
  return result;
}

// A protobuf body the target must refuse: random bytes, a message with
// extreme field values, or one of those mangled.
export function protoPayload(rng: Random, target: RpcTarget, world: World): Buffer {
  for (;;) {
    const message = randomMessage(rng, target.method.input, world);
    let bytes = [
      () => rng.bytes(rng.size()),
      () => message,
      () => mutate(rng, message),
      () => Buffer.concat([message, rng.bytes(1 + rng.int(8))]),
    ][rng.int(4)]!();
    if (rng.chance(0.5)) bytes = Buffer.concat([bytes, target.poison.binary]);
    if (refused(target, bytes)) return bytes;
  }
}

// JSON for a field: well typed or not, nested, huge, badly escaped.
export function jsonValue(rng: Random, field: DescField | undefined, world: World): string {
  const nest = (depth: number) =>
    rng.chance(0.5) ? "[".repeat(depth) + "]".repeat(depth) : '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
  switch (rng.int(10)) {
    case 0:
    case 1:
    case 2:
    case 3:
      if (field?.fieldKind === "enum") {
        return rng.pick([
          '"PARTICIPANT_STATUS_DISCONNECTED"',
          '"ROOM_STATUS_COMPLETED"',
          '"PARTICIPANT_STATUS_GONE"',
          '"ROOM_STATUS_"',
          '""',
          '"room_status_completed"',
          "2",
          "99",
          "-1",
          "null",
          "2.5",
        ]);
      }
      if (field?.fieldKind === "message") {
        return rng.pick([
          '"2026-01-01T00:00:00Z"',
          '"10000-01-01T00:00:00Z"',
          '"0000-12-31T23:59:59Z"',
          '"2026-02-30T00:00:00Z"',
          '"yesterday"',
          '"2026-01-01T00:00:00.0000000001Z"',
          "0",
          '{"seconds":1}',
        ]);
      }
      if (field?.fieldKind === "scalar" && field.scalar !== ScalarType.STRING) {
        return rng.pick([
          "0",
          "1",
          "-1",
          "51",
          "1001",
          "2147483648",
          "-2147483649",
          "1e308",
          "1.5",
          "-0",
          '"12"',
          '"abc"',
          "9007199254740993",
          "1e-7",
          '"0x10"',
          '" 5"',
        ]);
      }
      return JSON.stringify(fuzzText(rng, world));
    case 4:
      return rng.pick(["true", "false", "null"]);
    case 5:
      return rng.pick(["[]", "{}", '["a"]', '{"a":1}', "[null]"]);
    case 6:
      return nest(rng.pick([10, 100, 1000, 5000]));
    case 7:
      return rng.pick(["1" + "0".repeat(400), "-" + "9".repeat(50), "1e999999", "-1e-999999", "NaN", "Infinity", "0x10", "01"]);
    case 8:
      return rng.pick(['"\\u0000"', '"\\ud800"', '"\\x41"', '"\\u12"', '"\u0001"', '"tab\there"', "'single'", '"unterminated']);
    default:
      return JSON.stringify(fuzzText(rng, world));
  }
}

export const unknownKeys = ["unknown", "__proto__", "constructor", "prototype", "", "x".repeat(1000), "room ", "ROOM", "@type"];

export function jsonObject(rng: Random, target: RpcTarget, world: World, poisoned: boolean): string {
  const pairs: [string, string][] = [];
  for (const field of target.method.input.fields) {
    if (rng.chance(0.6))
      pairs.push([rng.pick([field.jsonName, field.name, field.name.toUpperCase(), `${field.jsonName} `]), jsonValue(rng, field, world)]);
  }
  if (rng.chance(0.3)) pairs.push([rng.pick(unknownKeys), jsonValue(rng, undefined, world)]);
  if (poisoned) for (const [key, value] of Object.entries(target.poison.json)) pairs.push([key, JSON.stringify(value)]);
  return `{${pairs.map(([key, value]) => `${JSON.stringify(key)}:${value}`).join(",")}}`;
}

export function mutateJson(rng: Random, text: string): Buffer {
  let bytes = Buffer.from(text);
  for (let n = rng.int(3); n > 0; n--) {
    const at = rng.int(bytes.length + 1);
    switch (rng.int(6)) {
      case 0:
        bytes = bytes.subarray(0, at);
        break;
      case 1:
        bytes = Buffer.concat([
          bytes.subarray(0, at),
          Buffer.from(rng.pick(["{", "}", "[", "]", ":", ",", '"', "\\", " ", "\u0000", "x"])),
          bytes.subarray(at),
        ]);
        break;
      case 2:
        bytes = Buffer.concat([bytes.subarray(0, at), rng.pick(invalidUtf8), bytes.subarray(at)]);
        break;
      case 3:
        bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]);
        break;
      case 4:
        bytes = Buffer.concat([bytes, Buffer.from(rng.pick(["x", "}", " {}", "\n\n", ","]))]);
        break;
      default:
        bytes = Buffer.from(rng.pick(["[]", "null", "1", '"x"', "", " ", "true", "[{}]"]));
        break;
    }
  }
  return bytes;
}

// A JSON body the target must refuse.
export function jsonPayload(rng: Random, target: RpcTarget, world: World): Buffer {
  for (;;) {
    const bytes = mutateJson(rng, jsonObject(rng, target, world, rng.chance(0.5)));
    if (refused(target, bytes)) return bytes;
    const poisoned = Buffer.from(jsonObject(rng, target, world, true));
    if (refused(target, poisoned)) return poisoned;
  }
}

// A body well past ROLLCALL_MAX_REQUEST_BYTES, or a 100 kB one within it,
// made of a refused request and an unknown field.
export function padded(target: RpcTarget, json: boolean, bytes: number): Buffer {
  if (json) return Buffer.from(`{"padding":"${"x".repeat(bytes)}",${JSON.stringify(target.poison.json).slice(1)}`);
  return Buffer.concat([target.poison.binary, stringField(1000, "x".repeat(bytes))]);
}

// Credentials that are missing, malformed, wrong, or another account's
// (which sees none of the seeded data).
export function badAuthorization(rng: Random): string | undefined {
  return rng.pick([
    undefined,
    "",
    "Basic",
    "Basic !!!",
    "Basic " + Buffer.from("no colon").toString("base64"),
    basic(testAccount.sid, "wrong token"),
    basic("AC" + "0".repeat(32), "x"),
    basic(testAccount.sid.toLowerCase(), testAccount.token),
    "Bearer " + testAccount.token,
    testAuthorization + " trailing",
    "Basic " + "QUFB".repeat(5000),
    otherAuthorization,
  ]);
}

export function withAuthorization(rng: Random, headers: [string, string][]): [string, string][] {
  const value = rng.chance(0.9) ? testAuthorization : badAuthorization(rng);
  return value === undefined ? headers : [...headers, ["authorization", value]];
}

// Header values a server may refuse for their size: 60 kB in one, or many small ones.
export function giantHeaders(rng: Random): [string, string][] {
  if (rng.chance(0.5)) return [[rng.pick(["x-fuzz", "cookie", "user-agent"]), "v".repeat(rng.pick([8_000, 60_000]))]];
  return Array.from({ length: rng.pick([100, 500, 3000]) }, (_, i): [string, string] => [`x-fuzz-${i}`, "v".repeat(10)]);
}
