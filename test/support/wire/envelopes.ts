// The envelopes of gRPC, gRPC-Web and Connect streams: a flags byte, a 32-bit
// big-endian length, the data.

export function* envelopes(body: Buffer): Generator<{ flags: number; data: Buffer }> {
  for (let at = 0; at + 5 <= body.length;) {
    const length = body.readUInt32BE(at + 1);
    yield { flags: body[at]!, data: body.subarray(at + 5, at + 5 + length) };
    at += 5 + length;
  }
}

export function frame(flags: number, payload: Buffer, length = payload.length): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = flags;
  prefix.writeUInt32BE(length >>> 0, 1);
  return Buffer.concat([prefix, payload]);
}
