import * as grpc from "@grpc/grpc-js";
import { expect } from "chai";
import http2 from "node:http2";
import net from "node:net";
import { decodeFirstHeaderBlock } from "../../src/transports/http/hpack-header-block.js";
import { huffmanDecode } from "../../src/transports/http/hpack-huffman.js";
import { isGrpcContentType, readOpening, type FirstRequest } from "../../src/transports/http/http2-first-request.js";

const emptySettings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);

// The first bytes a client sends on a new connection, up to the end of its
// first request's header block and its acknowledgement of the server's
// SETTINGS, as the one port reads them (it sends an empty SETTINGS frame,
// which grpc-js clients wait for before their first request).
async function firstBytes(send: (url: string) => () => void): Promise<{ head: Buffer; verdict: FirstRequest }> {
  let stop = () => {};
  const server = net.createServer();
  try {
    const caught = new Promise<{ head: Buffer; verdict: FirstRequest }>((resolve) =>
      server.on("connection", (socket) => {
        let head = Buffer.alloc(0);
        socket.on("error", () => {});
        socket.on("data", (chunk: Buffer) => {
          const before = head.length;
          head = Buffer.concat([head, chunk]);
          if (before < 24 && head.length >= 24) socket.write(emptySettings);
          const opening = head.length < 24 ? "malformed" : readOpening(head);
          if (opening !== "malformed" && opening.request !== "undecided" && opening.settingsAck !== undefined) {
            socket.destroy();
            resolve({ head, verdict: opening.request });
          }
        });
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    stop = send(`127.0.0.1:${(server.address() as net.AddressInfo).port}`);
    return await caught;
  } finally {
    stop();
    server.close();
  }
}

function nodeRequest(headers: http2.OutgoingHttpHeaders) {
  return (address: string) => {
    const session = http2.connect(`http://${address}`);
    session.on("error", () => {});
    session.request({ ":method": "POST", ":path": "/rollcall.v1.ParticipantService/Get", ...headers }).on("error", () => {});
    return () => session.destroy();
  };
}

describe("the first request of an HTTP/2 connection, read from its bytes", () => {
  it("decodes every printable ASCII character but the backslash the way nghttp2 Huffman-encodes it", async () => {
    // The backslash's code has 19 bits, like those of control and non-ASCII bytes.
    const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).filter((c) => c !== "\\");
    // A run of 'a' makes nghttp2 choose the Huffman code for every value.
    const values = [...printable].map((c) => `aaaaaaaaaaaa${c}aaaa`);
    const headers = Object.fromEntries(values.map((value, i) => [`x-probe-${i}`, value]));
    const { head } = await firstBytes(nodeRequest({ "content-type": "application/json", ...headers }));
    let offset = 24;
    while (head[offset + 3] !== 0x01) offset += 9 + head.readUIntBE(offset, 3);
    const fields = decodeFirstHeaderBlock(head.subarray(offset + 9, offset + 9 + head.readUIntBE(offset, 3)));
    expect(fields, "the block decodes").to.not.equal(undefined);
    const probes = fields!.filter((field) => field.name?.startsWith("x-probe-"));
    expect(probes.map((field) => field.value)).to.deep.equal(values);
    const { verdict } = await firstBytes(nodeRequest({ "content-type": "application/grpc", "x-probe": "aaaaaaaaaaaa\\aaaa" }));
    expect(verdict, "a block with a field it cannot decode").to.equal("unreadable");
  });

  it("reads the content-type of Node's and grpc-js's first requests", async () => {
    const cases: [http2.OutgoingHttpHeaders, string | undefined][] = [
      [{ "content-type": "application/grpc" }, "application/grpc"],
      [{ "content-type": "application/grpc+proto" }, "application/grpc+proto"],
      [{ "content-type": "application/grpc-web+proto" }, "application/grpc-web+proto"],
      [{ "content-type": "application/grpc-web-text" }, "application/grpc-web-text"],
      [{ "content-type": "application/proto", authorization: "Basic QUM6dG9rZW4=" }, "application/proto"],
      [{ "content-type": "application/json; charset=utf-8" }, "application/json; charset=utf-8"],
      [{}, undefined],
    ];
    for (const [headers, contentType] of cases) {
      const { verdict } = await firstBytes(nodeRequest(headers));
      expect(verdict, JSON.stringify(headers)).to.deep.equal({ contentType });
    }
    const { verdict } = await firstBytes((address) => {
      const client = new grpc.Client(address, grpc.credentials.createInsecure());
      client.makeUnaryRequest(
        "/rollcall.v1.ParticipantService/Get",
        (x: Buffer) => x,
        (x: Buffer) => x,
        Buffer.alloc(0),
        () => {},
      );
      return () => client.close();
    });
    expect(verdict).to.deep.equal({ contentType: "application/grpc" });
  });

  it("is undecided until the header block ends, CONTINUATION frames included", () => {
    const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
    const frame = (type: number, flags: number, id: number, payload: Buffer) => {
      const header = Buffer.alloc(9);
      header.writeUIntBE(payload.length, 0, 3);
      header[3] = type;
      header[4] = flags;
      header.writeUInt32BE(id, 5);
      return Buffer.concat([header, payload]);
    };
    // :method POST, :scheme http, then content-type (static name 31) with a literal value.
    const value = Buffer.from("application/grpc", "latin1");
    const part1 = Buffer.from([0x83, 0x86]);
    const part2 = Buffer.concat([Buffer.from([0x0f, 0x10, value.length]), value]);
    const bytes = Buffer.concat([
      preface,
      frame(0x4, 0, 0, Buffer.alloc(0)),
      frame(0x8, 0, 0, Buffer.from([0, 0, 1, 0])),
      frame(0x1, 0, 1, part1),
      frame(0x9, 0x4, 1, part2),
    ]);
    const request = (head: Buffer) => {
      const opening = readOpening(head);
      return opening === "malformed" ? opening : opening.request;
    };
    for (let length = 24; length < bytes.length; length++) {
      expect(request(bytes.subarray(0, length)), `${length} bytes`).to.equal("undecided");
    }
    expect(request(bytes)).to.deep.equal({ contentType: "application/grpc" });
    // Anything but CONTINUATION inside a header block, or DATA first, is not read.
    const interrupted = Buffer.concat([preface, frame(0x1, 0, 1, part1), frame(0x6, 0, 0, Buffer.alloc(8))]);
    expect(request(interrupted)).to.equal("unreadable");
    expect(request(Buffer.concat([preface, frame(0x0, 0, 1, Buffer.from("x"))]))).to.equal("unreadable");
    // A frame longer than HTTP/2 lets a client send first is no HTTP/2.
    expect(request(Buffer.concat([preface, Buffer.from([0, 0x40, 1, 0, 0, 0, 0, 0, 1])]))).to.equal("malformed");
  });

  it("finds the acknowledgement of the server's SETTINGS before or after the first request", () => {
    const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
    const ack = Buffer.from([0, 0, 0, 4, 1, 0, 0, 0, 0]);
    const headers = Buffer.from([0, 0, 2, 1, 4, 0, 0, 0, 1, 0x83, 0x86]);
    expect(readOpening(Buffer.concat([preface, emptySettings, ack, headers]))).to.deep.equal({
      request: { contentType: undefined },
      settingsAck: { start: 33, end: 42 },
    });
    expect(readOpening(Buffer.concat([preface, emptySettings, headers]))).to.deep.equal({
      request: { contentType: undefined },
      settingsAck: undefined,
    });
    expect(readOpening(Buffer.concat([preface, emptySettings, headers, ack]))).to.deep.equal({
      request: { contentType: undefined },
      settingsAck: { start: 44, end: 53 },
    });
  });

  it("refuses Huffman strings it cannot decode or that end in wrong padding", () => {
    // 'a' is 00011: then 111 pads the byte.
    expect(huffmanDecode(Buffer.from([0b00011111]))).to.equal("a");
    expect(huffmanDecode(Buffer.from([0b00011011]))).to.equal(undefined);
    // Sixteen ones start a code of 19 bits or more (a byte outside printable ASCII).
    expect(huffmanDecode(Buffer.from([0xff, 0xff, 0x00]))).to.equal(undefined);
  });

  it("takes gRPC proper for grpc-js, not gRPC-Web nor other types", () => {
    for (const type of ["application/grpc", "application/grpc+proto", "application/grpc+json", "application/grpc;charset=utf-8"]) {
      expect(isGrpcContentType(type), type).to.equal(true);
    }
    for (const type of [undefined, "application/grpc-web", "application/grpc-web+proto", "application/grpcx", "application/proto", ""]) {
      expect(isGrpcContentType(type), String(type)).to.equal(false);
    }
  });
});
