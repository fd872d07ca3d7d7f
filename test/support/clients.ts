import { create, fromBinary, toBinary, type DescMessage, type DescService, type MessageShape } from "@bufbuild/protobuf";
import { ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { testAuthorization } from "./rollcall.js";

// Clients of every protocol the server speaks, each over a real socket, each
// sending the given authorization header (the test account's by default).

function authorizing(authorization: string): Interceptor {
  return (next) => (req) => {
    if (authorization !== "") req.header.set("authorization", authorization);
    return next(req);
  };
}

export function connectJsonHttp1<S extends DescService>(service: S, baseUrl: string, authorization = testAuthorization): Client<S> {
  return createClient(service, createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: [authorizing(authorization)] }));
}

export function connectBinaryHttp2<S extends DescService>(service: S, baseUrl: string, authorization = testAuthorization): Client<S> {
  return createClient(service, createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true, interceptors: [authorizing(authorization)] }));
}

export function grpcWebHttp1<S extends DescService>(service: S, baseUrl: string, authorization = testAuthorization): Client<S> {
  return createClient(service, createGrpcWebTransport({ baseUrl, httpVersion: "1.1", interceptors: [authorizing(authorization)] }));
}

// A @grpc/grpc-js client built from the generated descriptors, with promise
// wrappers: unary methods resolve to the response, streaming methods to every
// message received. `raw` is the grpc-js client itself, for streams a test
// reads at its own pace; `metadata()` carries the client's authorization.
export type GrpcJsClient = Record<string, (request: object, metadata?: grpc.Metadata) => Promise<any>> & {
  raw: grpc.Client & Record<string, (request: object, metadata: grpc.Metadata) => grpc.ClientReadableStream<any>>;
  metadata(): grpc.Metadata;
  close(): void;
};

export function grpcJs(service: DescService, address: string, authorization = testAuthorization): GrpcJsClient {
  const definition: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const method of service.methods) {
    definition[method.localName] = {
      path: `/${service.typeName}/${method.name}`,
      requestStream: false,
      responseStream: method.methodKind === "server_streaming",
      requestSerialize: (message: object) => Buffer.from(toBinary(method.input, create(method.input, message as MessageShape<DescMessage>))),
      requestDeserialize: (bytes: Buffer) => fromBinary(method.input, bytes),
      responseSerialize: (message: object) => Buffer.from(toBinary(method.output, message as MessageShape<DescMessage>)),
      responseDeserialize: (bytes: Buffer) => fromBinary(method.output, bytes),
    };
  }
  const Constructor = grpc.makeGenericClientConstructor(definition, service.typeName);
  const raw = new Constructor(address, grpc.credentials.createInsecure()) as unknown as GrpcJsClient["raw"] & Record<string, any>;
  const metadata = () => {
    const made = new grpc.Metadata();
    if (authorization !== "") made.set("authorization", authorization);
    return made;
  };
  const client = { raw, metadata, close: () => raw.close() } as GrpcJsClient;
  for (const method of service.methods) {
    const call = raw[method.localName].bind(raw);
    client[method.localName] =
      method.methodKind === "server_streaming"
        ? (request: object, sent = metadata()) =>
            new Promise((resolve, reject) => {
              const received: unknown[] = [];
              const stream = call(request, sent);
              stream.on("data", (message: unknown) => received.push(message));
              stream.on("error", reject);
              stream.on("end", () => resolve(received));
            })
        : (request: object, sent = metadata()) =>
            new Promise((resolve, reject) => call(request, sent, (error: unknown, response: unknown) => (error ? reject(error) : resolve(response))));
  }
  return client;
}

// Every message of a server stream.
export async function collect<T>(messages: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const message of messages) all.push(message);
  return all;
}

// The error a call fails with; fails the test if the call succeeds.
export async function rejection(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("expected the call to fail");
}
