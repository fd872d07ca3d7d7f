import { Random } from "../../support/random.js";
import { testAuthorization } from "../../support/rollcall.js";
import type { WireRequest } from "../../support/wire/exchange.js";
import type { Case } from "./case.js";
import { maxRequestBytes } from "./settings.js";
import { badAuthorization, brokenPercent, fuzzText, giantHeaders, invalidUtf8 } from "./values.js";
import type { World } from "./world.js";

// REST cases: Twilio's routes with bad parameters, paths and framing.

export const restParams = [
  "Status",
  "Identity",
  "UniqueName",
  "DateCreatedAfter",
  "DateCreatedBefore",
  "PageSize",
  "Page",
  "PageToken",
  "Type",
  "MaxParticipants",
  "EmptyRoomTimeout",
  "UnusedRoomTimeout",
  "MaxParticipantDuration",
  "StatusCallback",
  "StatusCallbackMethod",
];
export const badPageSizes = ["0", "1001", "-1", "1e9", "NaN", "1000000000", "0x10", "abc", "1.5", "9".repeat(20), "+-1", "%FF"];
export const badPages = ["-1", "-5", "x", "1e3", "9".repeat(16)];
export const badPageTokens = [
  "x",
  "!!!",
  "%25%25",
  "=====",
  "Y29ubmVjdGVk",
  Buffer.from("connected..PA00").toString("base64url"),
  Buffer.from("gone.1.PA" + "0".repeat(32)).toString("base64url"),
  Buffer.from("connected.12345678901234.PA" + "0".repeat(32)).toString("base64url"),
  "A".repeat(10_000),
  "%G1",
];
export const badDates = [
  "2026-13-01",
  "2026-02-30",
  "2026-04-31",
  "2026-00-10",
  "yesterday",
  "2026-01-01T25:00:00Z",
  "2026-01-01T10:61Z",
  "1767225600",
  "2026-1-1",
  "2026-01-01T00:00:00%2B25:00",
  "2026-01-01%2000:00:00",
  "2026-01-01T00:00:00.1234567890Z",
  "%C3%28",
];

// One list parameter that makes any listing fail, rooms or participants.
export function listPoison(rng: Random): string {
  switch (rng.int(6)) {
    case 0:
      return `PageSize=${rng.pick(badPageSizes)}`;
    case 1:
      return `Page=${rng.pick(badPages)}`;
    case 2:
      return `PageToken=${rng.pick(badPageTokens)}`;
    case 3:
      return `${rng.pick(["DateCreatedAfter", "DateCreatedBefore"])}=${rng.pick(badDates)}`;
    case 4:
      return rng.pick([
        "Status=connected&Status=connected",
        "PageSize=5&PageSize=5",
        "Status=completed&Status=in-progress",
        "Status=%00",
        "Status=CONNECTED&Status=IN-PROGRESS",
      ]);
    default:
      return `Status=${rng.pick(["open", "done", "x", "connected&Status=completed"])}`;
  }
}

export const createPoisons = [
  "MaxParticipants=0",
  "MaxParticipants=51",
  "MaxParticipants=-1",
  "MaxParticipants=x",
  "MaxParticipants=1e1",
  "Type=huge",
  "Type=GROUP",
  "EmptyRoomTimeout=0",
  "UnusedRoomTimeout=61",
  "MaxParticipantDuration=1",
  "StatusCallbackMethod=PUT",
  "StatusCallback=ftp%3A%2F%2Fx",
  "StatusCallback=not%20a%20url",
  "UniqueName=%01",
  `UniqueName=${"x".repeat(129)}`,
  "UniqueName=a&UniqueName=b",
  "Type=group&Type=group",
];

export const completePoisons = [
  "Status=in-progress",
  "Status=failed",
  "Status=COMPLETED",
  "Status=done",
  "Status=",
  "Status=completed&Status=completed",
  "Status=%00completed",
];
export const kickPoisons = [
  "Status=connected",
  "Status=reconnecting",
  "Status=DISCONNECTED",
  "Status=gone",
  "Status=",
  "Status=disconnected&Status=disconnected",
  "Status=disconnected%00",
];

// Parameters that may or may not be wrong, mixed in with the poison.
export function noise(rng: Random, world: World): Buffer[] {
  const parts: Buffer[] = [];
  for (let n = rng.int(4); n > 0; n--) {
    const key = rng.chance(0.7)
      ? Buffer.from(rng.pick(restParams))
      : rng.chance(0.5)
        ? Buffer.from(rng.pick(["", "x", "a[b]", ...brokenPercent]))
        : rng.bytes(1 + rng.int(6));
    const value = [
      () => Buffer.from(rng.pick(brokenPercent)),
      () => rng.bytes(rng.size()),
      () =>
        Buffer.from(rng.pick(["", "5", "0", "-1", "1001", "connected", "completed", "disconnected", "2026-01-01", "😀", "%F0%9F%98%80"])),
      () => Buffer.from(encodeURIComponent(wellFormed(fuzzText(rng, world).slice(0, 3000)))),
      () => Buffer.from("x".repeat(rng.pick([1000, 5000]))),
    ][rng.int(5)]!();
    parts.push(rng.chance(0.9) ? Buffer.concat([key, Buffer.from("="), value]) : key);
  }
  return parts;
}

// A query string or form: the poison and the noise, in any order.
export function paramsOf(rng: Random, poison: string[], extra: Buffer[]): Buffer {
  const parts = [...poison.map((p) => Buffer.from(p)), ...extra];
  for (let i = parts.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [parts[i], parts[j]] = [parts[j]!, parts[i]!];
  }
  return Buffer.concat(parts.flatMap((part, i) => (i === 0 ? [part] : [Buffer.from("&"), part])));
}

// Bytes as they may stand in a request target: what would end the target
// or the URL is escaped; raw bytes above 0x7f stay only in HTTP/1.1.
export function inTarget(bytes: Buffer, http: 1 | 2): string {
  let text = "";
  for (const byte of bytes) {
    const escape = byte <= 0x20 || byte === 0x7f || byte === 0x23 || (http === 2 && byte >= 0x80);
    text += escape ? `%${byte.toString(16).padStart(2, "0").toUpperCase()}` : String.fromCharCode(byte);
  }
  return text;
}

// Lone surrogates replaced, as percent-encoding needs.
export function wellFormed(text: string): string {
  return Buffer.from(text).toString();
}

export function absentRoom(rng: Random, world: World): string {
  for (;;) {
    const name = rng.pick([
      () => `absent-${rng.int(1e6)}`,
      () => "RM" + rng.hex(32),
      () => rng.pick(brokenPercent),
      () => rng.pick(["%00", "%2F", "a%2Fb", "%5C", "%3F"]),
      () => "x".repeat(rng.pick([129, 1000, 10_000])),
      () => encodeURIComponent(wellFormed(fuzzText(rng, world).slice(0, 200))),
    ])();
    if (safeSegment(name, world)) return name;
  }
}

export function absentParticipant(rng: Random, world: World): string {
  for (;;) {
    const name = rng.pick([
      () => "PA" + rng.hex(32),
      () => "nobody",
      () => rng.pick([...brokenPercent, "%00", "%2F"]),
      () => encodeURIComponent(wellFormed(fuzzText(rng, world).slice(0, 200))),
    ])();
    if (safeSegment(name, world)) return name;
  }
}

// A path segment that cannot name the seeded room or a seeded participant,
// however the server decodes it, nor be a dot segment that leads elsewhere.
export function safeSegment(segment: string, world: World): boolean {
  if (/^(\.|%2e){1,2}$/i.test(segment)) return false;
  let decoded = segment;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    // The server reads an undecodable segment as no name at all.
  }
  const seededNames = [world.room.name, world.room.sid, ...world.participants].map((name) => name.toLowerCase());
  return decoded !== "" && !seededNames.includes(decoded.toLowerCase());
}

export const tricks = [
  "..",
  ".",
  "%2e%2e",
  "%2E%2e",
  ".%2e",
  "",
  "%2F",
  "a%2Fb",
  "%00",
  "%",
  "%G1",
  "%C3%28",
  "%FF%FE",
  "%5C",
  "\\",
  ";",
  "%3B",
];

export function restCase(rng: Random, world: World, http: 1 | 2): Case {
  const real = encodeURIComponent(world.room.name);
  const someRoom = () => (rng.chance(0.5) ? rng.pick([real, world.room.sid]) : absentRoom(rng, world));
  let name: string;
  let method = "GET";
  let path: string;
  let query: Buffer | undefined;
  let form: Buffer | undefined;
  let status: number | undefined;
  switch (rng.int(12)) {
    case 0:
      name = "list rooms with a bad parameter";
      path = "/v1/Rooms";
      query = paramsOf(rng, [listPoison(rng)], noise(rng, world));
      break;
    case 1:
      name = "list participants with a bad parameter";
      path = `/v1/Rooms/${someRoom()}/Participants`;
      query = paramsOf(
        rng,
        [
          rng.chance(0.8)
            ? listPoison(rng)
            : rng.pick(["Identity=%00", `Identity=${"x".repeat(129)}`, "Identity=%01a", "Status=completed", "Status=in-progress"]),
        ],
        noise(rng, world),
      );
      break;
    case 2:
      name = "create a room with a bad parameter";
      method = "POST";
      path = "/v1/Rooms";
      form = paramsOf(rng, [rng.pick(createPoisons)], noise(rng, world));
      break;
    case 3:
      name = "complete a room with a bad status";
      method = "POST";
      path = `/v1/Rooms/${someRoom()}`;
      form = paramsOf(rng, [rng.pick(completePoisons)], noise(rng, world));
      break;
    case 4:
      name = "fetch a missing room";
      path = `/v1/Rooms/${absentRoom(rng, world)}`;
      query = paramsOf(rng, [], noise(rng, world));
      break;
    case 5:
      name = "fetch a missing participant";
      path = `/v1/Rooms/${someRoom()}/Participants/${absentParticipant(rng, world)}`;
      query = paramsOf(rng, [], noise(rng, world));
      break;
    case 6:
      name = "kick with a bad status";
      method = "POST";
      path = `/v1/Rooms/${someRoom()}/Participants/${rng.chance(0.5) ? rng.pick(world.participants) : absentParticipant(rng, world)}`;
      form = paramsOf(rng, [rng.pick(kickPoisons)], noise(rng, world));
      break;
    case 7:
      name = "anonymize a missing participant";
      method = "POST";
      path = `/v1/Rooms/${someRoom()}/Participants/${absentParticipant(rng, world)}/Anonymize`;
      form = paramsOf(rng, [], noise(rng, world));
      break;
    case 8:
      name = "a method the route does not take";
      // HTTP/1.1's parser refuses methods it does not know; HTTP/2 passes any token on.
      method = rng.pick([
        "PUT",
        "DELETE",
        "PATCH",
        "OPTIONS",
        "TRACE",
        "HEAD",
        "PROPFIND",
        "FOO",
        ...(http === 1 ? ["get", "post"] : ["QUERY"]),
      ]);
      path = rng.pick([
        "/v1/Rooms",
        `/v1/Rooms/${someRoom()}`,
        `/v1/Rooms/${someRoom()}/Participants`,
        `/v1/Rooms/${real}/Participants/${rng.pick(world.participants)}`,
        `/v1/Rooms/${real}/Participants/ann/Anonymize`,
      ]);
      break;
    case 9:
      name = "an unknown path";
      method = rng.pick(["GET", "POST"]);
      path = rng.pick([
        "/v1/Foo",
        "/v1/rooms",
        `/v1/Rooms/${real}/Recordings`,
        `/v1/Rooms/${real}/participants`,
        `/v1/Rooms/${real}/Participants/ann/publishedtracks`,
        `/v1/Rooms/${real}/Participants/ann/Anonymize/x`,
        "/v1/Rooms/a/b/c/d/e/f",
        "/v1/",
        "/v1",
      ]);
      query = paramsOf(rng, [listPoison(rng)], []);
      form = paramsOf(rng, [rng.pick(createPoisons), rng.pick(completePoisons)], []);
      break;
    case 10: {
      name = "a path trick";
      method = rng.pick(["GET", "POST"]);
      const segments = [
        "Rooms",
        rng.chance(0.5) ? rng.pick(tricks) : absentRoom(rng, world),
        rng.chance(0.5) ? "Participants" : rng.pick(tricks),
      ];
      if (rng.chance(0.6)) segments.push(rng.chance(0.5) ? rng.pick(tricks) : absentParticipant(rng, world));
      if (rng.chance(0.3)) segments.splice(rng.int(segments.length + 1), 0, rng.pick(tricks));
      path = "/v1/" + segments.join(rng.chance(0.2) ? "//" : "/") + rng.pick(["", "", "/", "//", "/."]);
      if (rng.chance(0.1)) path = "/v1/" + "x".repeat(rng.pick([10_000, 20_000, 70_000]));
      // Wherever the path leads, the poisons make the call fail.
      query = paramsOf(rng, [listPoison(rng)], noise(rng, world));
      form = paramsOf(rng, [rng.pick(createPoisons), rng.pick(completePoisons)], noise(rng, world));
      break;
    }
    default:
      name = "a path that leaves /v1 when resolved";
      method = rng.pick(["GET", "POST"]);
      path = rng.pick([
        "/v1/../abc/Rooms",
        "/v1/../xyz/Rooms/absent",
        "/v1/%2e%2e/abc/Rooms",
        "/v1/./../qq/Rooms",
        "/v1/Rooms/../../abc/Rooms",
      ]);
      query = paramsOf(rng, [listPoison(rng)], []);
      form = paramsOf(rng, [rng.pick(createPoisons)], []);
      status = 404;
      break;
  }

  let headers: [string, string][] = [];
  let body: Buffer = Buffer.alloc(0);
  if (method !== "GET" && method !== "HEAD") {
    body = form ?? Buffer.alloc(0);
    headers.push(["content-type", "application/x-www-form-urlencoded"]);
    // At most one change to the body: each chance is drawn in turn, and the
    // first that comes up is the change.
    const changes = [
      [0.1, "content type"],
      [0.08, "large field"],
      [0.05, "over the limit"],
      [0.1, "invalid UTF-8"],
    ] as const;
    switch (changes.find(([p]) => rng.chance(p))?.[1]) {
      case "content type":
        name += ", a wrong content type";
        headers = [
          [
            "content-type",
            rng.pick([
              "multipart/form-data; boundary=x",
              "application/json",
              "text/plain",
              "",
              "application/x-www-form-urlencoded, text/plain",
              "form",
            ]),
          ],
        ];
        break;
      case "large field":
        name += ", a 100 kB field within the limit";
        body = Buffer.concat([body, Buffer.from(`&${rng.pick(restParams)}=${"x".repeat(100 * 1024)}`)]);
        break;
      case "over the limit":
        name += ", a body over the limit";
        body = Buffer.concat([body, Buffer.from(`&Padding=${"x".repeat(maxRequestBytes + rng.int(100_000))}`)]);
        break;
      case "invalid UTF-8":
        name += ", invalid UTF-8 in the body";
        body = Buffer.concat([
          body,
          Buffer.from("&"),
          rng.pick(invalidUtf8),
          Buffer.from("="),
          rng.pick(invalidUtf8),
          Buffer.from("&UniqueName="),
          rng.pick(invalidUtf8),
        ]);
        break;
    }
  }
  if (query !== undefined && query.length > 0) {
    if (rng.chance(0.05)) {
      name += ", a 100 kB query";
      query = Buffer.concat([query, Buffer.from(`&Identity=${"x".repeat(100 * 1024)}`)]);
      status = undefined;
    }
    path += "?" + inTarget(query, http);
  }
  if (rng.chance(0.05)) {
    name += ", giant headers";
    headers.push(...giantHeaders(rng));
    status = undefined;
  }
  if (rng.chance(0.92)) headers.push(["authorization", testAuthorization]);
  else {
    name += ", bad credentials";
    const value = badAuthorization(rng);
    if (value !== undefined) headers.push(["authorization", value]);
    // Authentication comes first: no route is looked at.
    status = undefined;
  }
  const request: WireRequest = { http, port: "main", method, path, headers, body };
  if (http === 1 && rng.chance(0.04)) return http1FramingCase(rng, request);
  return { name, protocol: "rest", request, status };
}

// HTTP/1.1 framing the parser must refuse: broken chunks, a bad or doubled length.
export function http1FramingCase(rng: Random, request: WireRequest): Case {
  const framings: [string, [string, string][], Buffer][] = [
    ["a chunk size that is not hex", [["transfer-encoding", "chunked"]], Buffer.from("zz\r\nabc\r\n0\r\n\r\n")],
    ["a chunk longer than its size", [["transfer-encoding", "chunked"]], Buffer.from("2\r\nabcdef\r\n0\r\n\r\n")],
    ["a content-length that is not a number", [["content-length", "abc"]], Buffer.from("Status=x")],
    ["a negative content-length", [["content-length", "-1"]], Buffer.from("Status=x")],
    [
      "two different content-lengths",
      [
        ["content-length", "3"],
        ["content-length", "5"],
      ],
      Buffer.from("Status"),
    ],
    [
      "both content-length and chunked",
      [
        ["content-length", "3"],
        ["transfer-encoding", "chunked"],
      ],
      Buffer.from("3\r\nabc\r\n0\r\n\r\n"),
    ],
    ["an unknown transfer-encoding", [["transfer-encoding", "gzip, fuzz"]], Buffer.from("abc")],
  ];
  const [name, headers, body] = rng.pick(framings);
  return {
    name: `HTTP/1.1 framing: ${name}`,
    protocol: "rest",
    request: {
      ...request,
      method: "POST",
      headers: [...request.headers.filter(([key]) => key !== "content-length"), ...headers],
      body,
      ownFraming: true,
    },
  };
}
