import { fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, createClient, createRouterTransport } from "@connectrpc/connect";
import { expect } from "chai";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { ParticipantService } from "../../gen/rollcall/v1/participant_pb.js";
import { RoomService } from "../../gen/rollcall/v1/room_pb.js";
import { healthService } from "../../src/services/health.js";
import { collect, connectBinaryHttp2, connectJsonHttp1, rejection, yielded } from "../support/clients.js";
import { startRedis, type TestRedis } from "../support/redis-server.js";
import { startRollcall, testAccount } from "../support/rollcall.js";
import { settledFlag, waitFor } from "../support/wait.js";

const run = promisify(execFile);

const allServices = [
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
  "rollcall.v1.CallbackService",
  "rollcall.v1.EventService",
  "rollcall.v1.ParticipantService",
  "rollcall.v1.RoomService",
  "rollcall.v1.TrackService",
];

// buf curl with the schema from server reflection only. A failed call comes
// back as its JSON error, which buf prints to stderr. Body is the JSON the
// call is expected to answer (undefined for no output).
async function bufCurl<Body = unknown>(
  args: string[],
): Promise<{ ok: true; body: Body } | { ok: false; error: { code: string; message: string } }> {
  try {
    const { stdout } = await run("node_modules/.bin/buf", ["curl", ...args], { timeout: 15_000 });
    return { ok: true, body: (stdout.trim() === "" ? undefined : JSON.parse(stdout)) as Body };
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? "";
    if (!stderr.trimStart().startsWith("{")) throw error;
    return { ok: false, error: JSON.parse(stderr) as { code: string; message: string } };
  }
}

async function bufLines(args: string[]): Promise<string[]> {
  const { stdout } = await run("node_modules/.bin/buf", ["curl", ...args], { timeout: 15_000 });
  return stdout.trim().split("\n");
}

// Requests one at a time, as a bidi stream's input.
// eslint-disable-next-line @typescript-eslint/require-await -- the generator is async to be an AsyncIterable; it has nothing to await
async function* each<T>(items: T[]): AsyncIterable<T> {
  yield* items;
}

function fileNames(response: v1.ServerReflectionResponse | v1alpha.ServerReflectionResponse): string[] {
  if (response.messageResponse.case !== "fileDescriptorResponse") throw new Error(`expected files, got ${response.messageResponse.case}`);
  return response.messageResponse.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name);
}

function errorOf(response: v1.ServerReflectionResponse | v1alpha.ServerReflectionResponse): { errorCode: number; errorMessage: string } {
  if (response.messageResponse.case !== "errorResponse") throw new Error(`expected an error, got ${response.messageResponse.case}`);
  return response.messageResponse.value;
}

const protocols = [
  { name: "gRPC", flags: ["--protocol", "grpc", "--http2-prior-knowledge"] },
  { name: "Connect", flags: ["--protocol", "connect"] },
  { name: "gRPC-Web", flags: ["--protocol", "grpcweb"] },
];

describe("reflection and health", () => {
  describe("on the memory store", () => {
    let server: Awaited<ReturnType<typeof startRollcall>>;
    before(async () => {
      server = await startRollcall();
    });
    after(async () => server.close());

    it("buf curl --list-services lists every service through reflection, over gRPC, with either reflection version", async () => {
      expect(await bufLines(["--protocol", "grpc", "--list-services", server.url])).to.deep.equal(allServices);
      expect(await bufLines(["--protocol", "grpc", "--reflect-protocol", "grpc-v1alpha", "--list-services", server.url])).to.deep.equal(
        allServices,
      );
    });

    it("buf curl --list-methods lists ParticipantService's methods among all others", async () => {
      const methods = await bufLines(["--protocol", "grpc", "--list-methods", server.url]);
      expect(methods.filter((m) => m.startsWith("rollcall.v1.ParticipantService/"))).to.deep.equal(
        ["Get", "Join", "Leave", "List", "Update"].map((m) => `rollcall.v1.ParticipantService/${m}`),
      );
      expect(methods).to.include.members([
        "grpc.health.v1.Health/Watch",
        "rollcall.v1.RoomService/Create",
        "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
      ]);
    });

    for (const protocol of protocols) {
      it(`buf curl calls Get and the streamed List without --schema over ${protocol.name}`, async () => {
        const room = `reflected-${protocol.name}-${Date.now()}`;
        const joined = (await connectJsonHttp1(ParticipantService, server.url).join({ room, identity: "buf" })).participant!;
        const common = [...protocol.flags, "--reflect-protocol", "grpc-v1", "-u", `${testAccount.sid}:${testAccount.token}`];
        const get = await bufCurl<{ participant: { sid: string } }>([
          ...common,
          "-d",
          JSON.stringify({ room, participant: "buf" }),
          `${server.url}/rollcall.v1.ParticipantService/Get`,
        ]);
        expect(get.ok && get.body.participant.sid).to.equal(joined.sid);
        const list = await bufCurl<{ participants: { sid: string }[] }>([
          ...common,
          "-d",
          JSON.stringify({ room }),
          `${server.url}/rollcall.v1.ParticipantService/List`,
        ]);
        expect(list.ok && list.body.participants.map((p) => p.sid)).to.deep.equal([joined.sid]);
      });

      it(`health Check through buf curl over ${protocol.name}: SERVING for the server and a service, NotFound for an unknown one`, async () => {
        const check = (request: object) =>
          bufCurl([...protocol.flags, "-d", JSON.stringify(request), `${server.url}/grpc.health.v1.Health/Check`]);
        expect(await check({})).to.deep.equal({ ok: true, body: { status: "SERVING" } });
        expect(await check({ service: "rollcall.v1.ParticipantService" })).to.deep.equal({ ok: true, body: { status: "SERVING" } });
        const unknown = await check({ service: "no.such.Service" });
        expect(unknown.ok || unknown.error.code).to.equal("not_found");
      });
    }

    it("health List reports the server and each of rollcall's services", async () => {
      const list = await connectBinaryHttp2(Health, server.url, "").list({});
      expect(Object.keys(list.statuses).sort()).to.deep.equal([
        "",
        "rollcall.v1.CallbackService",
        "rollcall.v1.EventService",
        "rollcall.v1.ParticipantService",
        "rollcall.v1.RoomService",
        "rollcall.v1.TrackService",
      ]);
      expect(Object.values(list.statuses).map((s) => s.status)).to.deep.equal(Array(6).fill(ServingStatus.SERVING));
    });

    it("v1alpha reflection lists services and sends each import once per stream, the requested file always", async () => {
      const client = connectBinaryHttp2(v1alpha.ServerReflection, server.url, "");
      const requests: MessageInitShape<typeof v1alpha.ServerReflectionRequestSchema>[] = [
        { host: "rollcall.test", messageRequest: { case: "listServices", value: "" } },
        { messageRequest: { case: "fileContainingSymbol", value: "rollcall.v1.ParticipantService.Get" } },
        { messageRequest: { case: "fileContainingSymbol", value: "rollcall.v1.Room" } },
        { messageRequest: { case: "fileContainingSymbol", value: "rollcall.v1.ParticipantStatus" } },
        { messageRequest: { case: "fileContainingSymbol", value: "rollcall.v1.NoSuchThing" } },
        { messageRequest: { case: "fileByFilename", value: "rollcall/v1/nothing.proto" } },
        { messageRequest: { case: "allExtensionNumbersOfType", value: "rollcall.v1.Room" } },
        { messageRequest: { case: "fileContainingExtension", value: { containingType: "rollcall.v1.Room", extensionNumber: 100 } } },
      ];
      const responses = await collect(client.serverReflectionInfo(each(requests)));
      expect(responses).to.have.length(requests.length);
      const [list, participant, room, participantAgain, noSymbol, noFile, extensionNumbers, extension] = responses;
      expect(list!.validHost).to.equal("rollcall.test");
      expect(list!.originalRequest!.messageRequest).to.deep.equal({ case: "listServices", value: "" });
      expect(
        list!.messageResponse.case === "listServicesResponse" && list!.messageResponse.value.service.map((s) => s.name).sort(),
      ).to.deep.equal(allServices);
      expect(fileNames(participant!)).to.deep.equal(["rollcall/v1/participant.proto", "google/protobuf/timestamp.proto"]);
      expect(participant!.originalRequest!.messageRequest.value).to.equal("rollcall.v1.ParticipantService.Get");
      expect(fileNames(room!)).to.deep.equal(["rollcall/v1/room.proto"]);
      expect(fileNames(participantAgain!)).to.deep.equal(["rollcall/v1/participant.proto"]);
      expect(errorOf(noSymbol!).errorCode).to.equal(Code.NotFound);
      expect(errorOf(noSymbol!).errorMessage).to.contain("rollcall.v1.NoSuchThing");
      expect(errorOf(noFile!).errorCode).to.equal(Code.NotFound);
      expect(errorOf(extensionNumbers!).errorCode).to.equal(Code.Unimplemented);
      expect(errorOf(extension!).errorCode).to.equal(Code.Unimplemented);

      const fresh = await collect(
        client.serverReflectionInfo(each([{ messageRequest: { case: "fileByFilename" as const, value: "rollcall/v1/room.proto" } }])),
      );
      expect(fileNames(fresh[0]!)).to.deep.equal(["rollcall/v1/room.proto", "google/protobuf/timestamp.proto"]);
    });

    it("v1 reflection finds the file of a message, enum, service, method, field, oneof member, enum value and import", async () => {
      const client = connectBinaryHttp2(v1.ServerReflection, server.url, "");
      const symbols: [string, string][] = [
        ["rollcall.v1.Participant", "rollcall/v1/participant.proto"],
        ["rollcall.v1.Participant.identity", "rollcall/v1/participant.proto"],
        ["rollcall.v1.PARTICIPANT_STATUS_CONNECTED", "rollcall/v1/participant.proto"],
        ["rollcall.v1.RoomService", "rollcall/v1/room.proto"],
        ["rollcall.v1.RoomService.Create", "rollcall/v1/room.proto"],
        ["rollcall.v1.RoomStatus", "rollcall/v1/room.proto"],
        ["rollcall.v1.EventService.Watch", "rollcall/v1/event.proto"],
        ["rollcall.v1.EVENT_TYPE_ROOM_ENDED", "rollcall/v1/event.proto"],
        ["grpc.health.v1.HealthCheckResponse.ServingStatus", "grpc/health/v1/health.proto"],
        ["grpc.health.v1.HealthCheckResponse.SERVICE_UNKNOWN", "grpc/health/v1/health.proto"],
        ["grpc.reflection.v1.ServerReflectionRequest.file_by_filename", "grpc/reflection/v1/reflection.proto"],
        ["grpc.reflection.v1alpha.ServerReflectionRequest.message_request", "grpc/reflection/v1alpha/reflection.proto"],
        ["google.protobuf.Timestamp", "google/protobuf/timestamp.proto"],
      ];
      const requests = symbols.map(([symbol]) => ({ messageRequest: { case: "fileContainingSymbol" as const, value: symbol } }));
      const responses = await collect(client.serverReflectionInfo(each(requests)));
      expect(responses.map((r) => fileNames(r)[0])).to.deep.equal(symbols.map(([, file]) => file));
      const unknownMember = await collect(
        client.serverReflectionInfo(
          each([{ messageRequest: { case: "fileContainingSymbol" as const, value: "rollcall.v1.Participant.nope" } }]),
        ),
      );
      expect(errorOf(unknownMember[0]!).errorCode).to.equal(Code.NotFound);
    });

    it("rollcall's services still need credentials; health and reflection need none", async () => {
      const err = await rejection(connectJsonHttp1(RoomService, server.url, "").list({}));
      expect(err.code).to.equal(Code.Unauthenticated);
      const curl = await bufCurl(["--protocol", "grpc", "-d", "{}", `${server.url}/rollcall.v1.RoomService/List`]);
      expect(curl.ok || curl.error.code).to.equal("unauthenticated");
      expect((await connectJsonHttp1(Health, server.url, "").check({})).status).to.equal(ServingStatus.SERVING);
    });
  });

  it("Watch keeps an unknown service's stream open, and every Watch ends with the shutdown", async () => {
    const server = await startRollcall();
    // Each Watch poll pings the store: counting pings tells when one happened.
    let pings = 0;
    const ping = server.store.ping.bind(server.store);
    server.store.ping = () => {
      pings++;
      return ping();
    };
    let closing: Promise<void> | undefined;
    try {
      const client = connectBinaryHttp2(Health, server.url, "");
      const whole = client.watch({})[Symbol.asyncIterator]();
      const unknown = client.watch({ service: "no.such.Service" })[Symbol.asyncIterator]();
      expect(yielded(await whole.next()).status).to.equal(ServingStatus.SERVING);
      expect(yielded(await unknown.next()).status).to.equal(ServingStatus.SERVICE_UNKNOWN);
      // Past the next poll: neither stream has anything more to say, nor ends.
      const nextWhole = whole.next();
      const nextUnknown = unknown.next();
      const settled = [settledFlag(nextWhole), settledFlag(nextUnknown)];
      const polled = pings;
      await waitFor(() => pings > polled, { what: "the Watch stream's next poll of the store" });
      // A round trip on the same connection, after the poll: anything the
      // poll made the server send on a Watch stream would have come first.
      expect((await client.check({})).status).to.equal(ServingStatus.SERVING);
      expect(
        settled.map((flag) => flag()),
        "the streams settled",
      ).to.deep.equal([false, false]);

      const started = Date.now();
      closing = server.close();
      expect(yielded(await nextWhole).status).to.equal(ServingStatus.NOT_SERVING);
      expect((await whole.next()).done).to.equal(true);
      expect((await nextUnknown).done).to.equal(true);
      // Well inside the 2 s grace: no Watch stream held the shutdown up.
      await closing;
      expect(Date.now() - started).to.be.below(1500);
    } finally {
      await (closing ?? server.close());
    }
  });

  it("health counts a ping unanswered in time as NOT_SERVING, one ping for all callers waiting at once", async () => {
    let pings = 0;
    const hung = () => {
      pings++;
      return new Promise<void>(() => {});
    };
    const service = healthService(hung, ["rollcall.v1.RoomService"], new AbortController().signal, {
      pollIntervalMs: 20,
      pingTimeoutMs: 100,
    });
    const client = createClient(
      Health,
      createRouterTransport((router) => router.service(Health, service)),
    );
    const started = Date.now();
    const [whole, room, list] = await Promise.all([
      client.check({}),
      client.check({ service: "rollcall.v1.RoomService" }),
      client.list({}),
    ]);
    expect(Date.now() - started).to.be.within(90, 1000);
    expect([whole.status, room.status]).to.deep.equal([ServingStatus.NOT_SERVING, ServingStatus.NOT_SERVING]);
    expect(Object.values(list.statuses).map((s) => s.status)).to.deep.equal([ServingStatus.NOT_SERVING, ServingStatus.NOT_SERVING]);
    expect(pings).to.equal(1);
  });

  describe("on a Redis store that hangs", () => {
    let redis: TestRedis;
    let server: Awaited<ReturnType<typeof startRollcall>>;
    before(async () => {
      redis = await startRedis();
      server = await startRollcall({ redisUrl: redis.url, redisCommandTimeoutMs: 300 });
    });
    afterEach(() => redis.signal("SIGCONT"));
    after(async () => {
      await server?.close();
      await redis?.stop();
    });

    const check = async () => {
      const result = await bufCurl<{ status: string }>(["--protocol", "grpc", "-d", "{}", `${server.url}/grpc.health.v1.Health/Check`]);
      return result.ok ? result.body.status : result.error.code;
    };
    const eventually = async (expected: string) => {
      const deadline = Date.now() + 5000;
      let status = await check();
      while (status !== expected && Date.now() < deadline) status = await check();
      return status;
    };

    it("Check is NOT_SERVING while redis is stopped and SERVING again once it resumes", async () => {
      expect(await check()).to.equal("SERVING");
      redis.signal("SIGSTOP");
      expect(await eventually("NOT_SERVING")).to.equal("NOT_SERVING");
      redis.signal("SIGCONT");
      expect(await eventually("SERVING")).to.equal("SERVING");
    });

    it("a Watch stream sees SERVING, then NOT_SERVING, then SERVING", async () => {
      const abort = new AbortController();
      const watch = connectBinaryHttp2(Health, server.url, "").watch({ service: "rollcall.v1.RoomService" }, { signal: abort.signal });
      const seen: ServingStatus[] = [];
      try {
        for await (const update of watch) {
          seen.push(update.status);
          if (seen.length === 1) redis.signal("SIGSTOP");
          if (seen.length === 2) redis.signal("SIGCONT");
          if (seen.length === 3) break;
        }
      } finally {
        abort.abort();
      }
      expect(seen).to.deep.equal([ServingStatus.SERVING, ServingStatus.NOT_SERVING, ServingStatus.SERVING]);
    });
  });
});
