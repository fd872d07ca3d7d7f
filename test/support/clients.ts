import {
  create,
  fromBinary,
  toBinary,
  type DescMessage,
  type DescService,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
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
  return createClient(
    service,
    createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true, interceptors: [authorizing(authorization)] }),
  );
}

export function grpcWebHttp1<S extends DescService>(service: S, baseUrl: string, authorization = testAuthorization): Client<S> {
  return createClient(service, createGrpcWebTransport({ baseUrl, httpVersion: "1.1", interceptors: [authorizing(authorization)] }));
}

// A @grpc/grpc-js client built from the generated descriptors, with promise
// wrappers typed by the service's messages: unary methods resolve to the
// response, server-streaming methods to every message received. `raw` is the
// grpc-js client itself, for streams a test reads at its own pace;
// `metadata()` carries the client's authorization.
type MethodName<S extends DescService> = keyof S["method"] & string;
type Request<S extends DescService, M extends MethodName<S>> = S["method"][M] extends { input: infer I extends DescMessage }
  ? MessageInitShape<I>
  : never;
type Response<S extends DescService, M extends MethodName<S>> = S["method"][M] extends { output: infer O extends DescMessage }
  ? MessageShape<O>
  : never;
type StreamingMethodName<S extends DescService> = {
  [M in MethodName<S>]: S["method"][M] extends { methodKind: "server_streaming" } ? M : never;
}[MethodName<S>];

export type GrpcJsClient<S extends DescService> = {
  [M in MethodName<S>]: (
    request: Request<S, M>,
    metadata?: grpc.Metadata,
  ) => Promise<M extends StreamingMethodName<S> ? Response<S, M>[] : Response<S, M>>;
} & {
  raw: grpc.Client & {
    [M in StreamingMethodName<S>]: (request: Request<S, M>, metadata: grpc.Metadata) => grpc.ClientReadableStream<Response<S, M>>;
  };
  metadata(): grpc.Metadata;
  close(): void;
};

export function grpcJs<S extends DescService>(service: S, address: string, authorization = testAuthorization): GrpcJsClient<S> {
  const definition: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const method of service.methods) {
    definition[method.localName] = {
      path: `/${service.typeName}/${method.name}`,
      requestStream: false,
      responseStream: method.methodKind === "server_streaming",
      requestSerialize: (message: object) =>
        Buffer.from(toBinary(method.input, create(method.input, message as MessageShape<DescMessage>))),
      requestDeserialize: (bytes: Buffer) => fromBinary(method.input, bytes),
      responseSerialize: (message: object) => Buffer.from(toBinary(method.output, message as MessageShape<DescMessage>)),
      responseDeserialize: (bytes: Buffer) => fromBinary(method.output, bytes),
    };
  }
  const Constructor = grpc.makeGenericClientConstructor(definition, service.typeName);
  const raw = new Constructor(address, grpc.credentials.createInsecure());
  const metadata = () => {
    const made = new grpc.Metadata();
    if (authorization !== "") made.set("authorization", authorization);
    return made;
  };
  // The same calls the generated methods of `raw` make, through grpc.Client's typed API.
  const wrappers: Record<string, (request: object, metadata?: grpc.Metadata) => Promise<unknown>> = {};
  for (const [name, { path, requestSerialize, responseDeserialize, responseStream }] of Object.entries(definition)) {
    wrappers[name] = responseStream
      ? (request, sent = metadata()) =>
          new Promise((resolve, reject) => {
            const received: unknown[] = [];
            const stream = raw.makeServerStreamRequest(path, requestSerialize, responseDeserialize, request, sent);
            stream.on("data", (message: unknown) => received.push(message));
            stream.on("error", reject);
            stream.on("end", () => resolve(received));
          })
      : (request, sent = metadata()) =>
          new Promise((resolve, reject) =>
            raw.makeUnaryRequest(path, requestSerialize, responseDeserialize, request, sent, (error, response) =>
              error ? reject(error) : resolve(response),
            ),
          );
  }
  // The wrappers and `raw`'s methods are made at run time from the descriptors the types come from.
  return { ...wrappers, raw, metadata, close: () => raw.close() } as unknown as GrpcJsClient<S>;
}

// Every message of a server stream.
export async function collect<T>(messages: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const message of messages) all.push(message);
  return all;
}

// The message a stream's next() gave; fails the test if the stream ended instead.
export function yielded<T>(result: IteratorResult<T, unknown>): T {
  if (result.done) throw new Error("expected a message, but the stream ended");
  return result.value;
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
