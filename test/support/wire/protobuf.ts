// Protobuf fields written by hand: a tag, then a varint or a length-delimited value.

export function stringField(number: number, text: string): Buffer {
  const bytes = Buffer.from(text);
  return Buffer.concat([varint((number << 3) | 2), varint(bytes.length), bytes]);
}

export function varintField(number: number, value: number): Buffer {
  return Buffer.concat([varint(number << 3), varint(value)]);
}

export function varint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = BigInt.asUintN(64, BigInt(value));
  do {
    const low = Number(rest & 0x7fn);
    rest >>= 7n;
    bytes.push(rest === 0n ? low : low | 0x80);
  } while (rest !== 0n);
  return Buffer.from(bytes);
}
