import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-node";
import { expect } from "chai";
import { execFile } from "node:child_process";
import http2 from "node:http2";
import { promisify } from "node:util";
import {
  ParticipantService,
  ParticipantServiceGetRequestSchema,
  ParticipantServiceGetResponseSchema,
} from "../../gen/rollcall/v1/participant_pb.js";
import { connectBinaryHttp2, grpcJs } from "../support/clients.js";
import { startRollcall, testAccount, testAuthorization } from "../support/rollcall.js";

const run = promisify(execFile);

interface Answer {
  status: number;
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  body: Buffer;
}

// One request on an HTTP/2 session the test holds, so that several requests
// of different protocols can share its connection.
function exchange(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":method": "POST", authorization: testAuthorization, ...headers });
    let head: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on("response", (received) => (head = received));
    stream.on("trailers", (received: http2.IncomingHttpHeaders) => (trailers = received));
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("error", reject);
    stream.on("end", () => resolve({ status: Number(head[":status"]), headers: head, trailers, body: Buffer.concat(chunks) }));
    stream.end(body);
  });
}

const enveloped = (message: Uint8Array) => {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
};

// The one port gives each HTTP/2 connection whose first request is gRPC to
// @grpc/grpc-js, any other to connect-node; every protocol is answered
// right whichever took the connection.
describe("gRPC on the main port through @grpc/grpc-js", () => {
  let server: Awaited<ReturnType<typeof startRollcall>>;
  let room: string;
  let sid: string;
  const path = "/rollcall.v1.ParticipantService/Get";
  const getRequest = () => create(ParticipantServiceGetRequestSchema, { room, participant: "alice" });

  // Who answered a gRPC request: grpc-js offers deflate, connect-node does not.
  const servedBy = (answer: Answer) => (String(answer.headers["grpc-accept-encoding"]).includes("deflate") ? "grpc-js" : "connect-node");
  const grpcGet = async (session: http2.ClientHttp2Session) => {
    const answer = await exchange(
      session,
      { ":path": path, "content-type": "application/grpc", te: "trailers" },
      enveloped(toBinary(ParticipantServiceGetRequestSchema, getRequest())),
    );
    expect(answer.status).to.equal(200);
    expect(answer.trailers["grpc-status"] ?? answer.headers["grpc-status"]).to.equal("0");
    expect(fromBinary(ParticipantServiceGetResponseSchema, answer.body.subarray(5)).participant!.sid).to.equal(sid);
    return servedBy(answer);
  };
  const connectGet = async (session: http2.ClientHttp2Session) => {
    const answer = await exchange(
      session,
      { ":path": path, "content-type": "application/json" },
      Buffer.from(JSON.stringify({ room, participant: "alice" })),
    );
    expect(answer.status).to.equal(200);
    expect((JSON.parse(answer.body.toString()) as { participant: { sid: string } }).participant.sid).to.equal(sid);
  };
  const grpcWebGet = async (session: http2.ClientHttp2Session) => {
    const answer = await exchange(
      session,
      { ":path": path, "content-type": "application/grpc-web+proto" },
      enveloped(toBinary(ParticipantServiceGetRequestSchema, getRequest())),
    );
    expect(answer.status).to.equal(200);
    expect(answer.headers["content-type"]).to.equal("application/grpc-web+proto");
    const length = answer.body.readUInt32BE(1);
    expect(fromBinary(ParticipantServiceGetResponseSchema, answer.body.subarray(5, 5 + length)).participant!.sid).to.equal(sid);
    // The trailers ride in the body, in a frame flagged 0x80.
    expect(answer.body[5 + length]).to.equal(0x80);
    expect(answer.body.subarray(10 + length).toString()).to.match(/grpc-status: ?0/);
  };

  before(async () => {
    server = await startRollcall({ grpcPort: undefined });
    room = `hand-off-${Date.now()}`;
    const participants = connectBinaryHttp2(ParticipantService, server.url);
    sid = (await participants.join({ room, identity: "alice" })).participant!.sid;
  });
  after(() => server.close());

  it("serves grpc-js clients, buf curl --protocol grpc, gRPC-Web and Connect over HTTP/2 concurrently", async () => {
    const address = server.url.replace("http://", "");
    const grpcClients = Array.from({ length: 3 }, () => grpcJs(ParticipantService, address));
    const connect = connectBinaryHttp2(ParticipantService, server.url);
    const grpcWeb = createClient(
      ParticipantService,
      createGrpcWebTransport({
        baseUrl: server.url,
        httpVersion: "2",
        interceptors: [(next) => (req) => (req.header.set("authorization", testAuthorization), next(req))],
      }),
    );
    const buf = () =>
      run("node_modules/.bin/buf", [
        "curl",
        "--protocol",
        "grpc",
        "--http2-prior-knowledge",
        "--schema",
        "proto",
        "-u",
        `${testAccount.sid}:${testAccount.token}`,
        "-d",
        JSON.stringify({ room, participant: "alice" }),
        `${server.url}${path}`,
      ]).then((out) => (JSON.parse(out.stdout) as { participant: { sid: string } }).participant.sid);
    try {
      const calls: Promise<string>[] = [];
      for (let round = 0; round < 20; round++) {
        for (const client of grpcClients) calls.push(client.get({ room, participant: "alice" }).then((r) => r.participant!.sid));
        calls.push(connect.get({ room, participant: "alice" }).then((r) => r.participant!.sid));
        calls.push(grpcWeb.get({ room, participant: "alice" }).then((r) => r.participant!.sid));
        if (round % 5 === 0) calls.push(buf());
      }
      const sids = await Promise.all(calls);
      expect(sids).to.have.length(20 * 5 + 4);
      expect(new Set(sids)).to.deep.equal(new Set([sid]));
    } finally {
      for (const client of grpcClients) client.close();
    }
  });

  it("gives a connection whose first request is gRPC to grpc-js, any other to connect-node", async () => {
    const grpcFirst = http2.connect(server.url);
    const connectFirst = http2.connect(server.url);
    try {
      expect(await grpcGet(grpcFirst)).to.equal("grpc-js");
      await connectGet(connectFirst);
      expect(await grpcGet(connectFirst)).to.equal("connect-node");
    } finally {
      grpcFirst.close();
      connectFirst.close();
    }
  });

  it("answers every protocol right on a connection that mixes them, whichever server took it", async () => {
    for (const first of [grpcGet, connectGet, grpcWebGet]) {
      const session = http2.connect(server.url);
      try {
        await first(session);
        await Promise.all([grpcGet(session), connectGet(session), grpcWebGet(session), grpcGet(session), connectGet(session)]);
        await grpcWebGet(session);
      } finally {
        session.close();
      }
    }
  });
});
