import { huffmanDecode } from "./hpack-huffman.js";

// RFC 7541's static table (Appendix A): the names, and the values that matter
// to nobody here left out; index 1 is the first.
const staticNames = [
  ":authority",
  ":method",
  ":method",
  ":path",
  ":path",
  ":scheme",
  ":scheme",
  ":status",
  ":status",
  ":status",
  ":status",
  ":status",
  ":status",
  ":status",
  "accept-charset",
  "accept-encoding",
  "accept-language",
  "accept-ranges",
  "accept",
  "access-control-allow-origin",
  "age",
  "allow",
  "authorization",
  "cache-control",
  "content-disposition",
  "content-encoding",
  "content-language",
  "content-length",
  "content-location",
  "content-range",
  "content-type",
  "cookie",
  "date",
  "etag",
  "expect",
  "expires",
  "from",
  "host",
  "if-match",
  "if-modified-since",
  "if-none-match",
  "if-range",
  "if-unmodified-since",
  "last-modified",
  "link",
  "location",
  "max-forwards",
  "proxy-authenticate",
  "proxy-authorization",
  "range",
  "referer",
  "refresh",
  "retry-after",
  "server",
  "set-cookie",
  "strict-transport-security",
  "transfer-encoding",
  "user-agent",
  "vary",
  "via",
  "www-authenticate",
];
const staticValues: Record<number, string> = {
  2: "GET",
  3: "POST",
  4: "/",
  5: "/index.html",
  6: "http",
  7: "https",
  8: "200",
  9: "204",
  10: "206",
  11: "304",
  12: "400",
  13: "404",
  14: "500",
  16: "gzip, deflate",
};

// A field whose name or value is undefined held a Huffman symbol
// hpack-huffman.ts does not decode.
export interface HeaderField {
  name: string | undefined;
  value: string | undefined;
}

class Truncated extends Error {}

// Decodes the first header block of a connection, whose dynamic table starts
// empty (RFC 7541, section 6), up to the table size the server announced
// (4096, HTTP/2's default, which Node keeps). Returns undefined when the
// block is malformed or fills the dynamic table with a field it cannot
// measure; the caller then decides without it.
export function decodeFirstHeaderBlock(block: Uint8Array, maxTableSize = 4096): HeaderField[] | undefined {
  const fields: HeaderField[] = [];
  const table: HeaderField[] = [];
  let tableSize = 0;
  let tableLimit = maxTableSize;
  let offset = 0;
  const integer = (prefixBits: number): number => {
    if (offset >= block.length) throw new Truncated();
    const mask = (1 << prefixBits) - 1;
    let value = block[offset++]! & mask;
    if (value < mask) return value;
    for (let shift = 0; ; shift += 7) {
      if (offset >= block.length || shift > 21) throw new Truncated();
      const byte = block[offset++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
    }
  };
  const string = (): string | undefined => {
    if (offset >= block.length) throw new Truncated();
    const huffman = (block[offset]! & 0x80) !== 0;
    const length = integer(7);
    if (offset + length > block.length) throw new Truncated();
    const bytes = block.subarray(offset, offset + length);
    offset += length;
    return huffman ? huffmanDecode(bytes) : Buffer.from(bytes).toString("latin1");
  };
  const entry = (index: number): HeaderField => {
    if (index >= 1 && index <= staticNames.length) return { name: staticNames[index - 1], value: staticValues[index] ?? "" };
    const dynamic = table[index - staticNames.length - 1];
    if (dynamic === undefined) throw new Truncated();
    return dynamic;
  };
  const evict = () => {
    while (tableSize > tableLimit) {
      const dropped = table.pop()!;
      tableSize -= dropped.name!.length + dropped.value!.length + 32;
    }
  };
  try {
    while (offset < block.length) {
      const first = block[offset]!;
      if (first & 0x80) {
        fields.push(entry(integer(7)));
      } else if ((first & 0xe0) === 0x20) {
        tableLimit = integer(5);
        if (tableLimit > maxTableSize) return undefined;
        evict();
      } else {
        const indexed = (first & 0xc0) === 0x40;
        const index = integer(indexed ? 6 : 4);
        const name = index === 0 ? string() : entry(index).name;
        const field = { name, value: string() };
        fields.push(field);
        if (indexed) {
          if (field.name === undefined || field.value === undefined) return undefined;
          table.unshift(field);
          tableSize += field.name.length + field.value.length + 32;
          evict();
        }
      }
    }
  } catch (error) {
    if (error instanceof Truncated) return undefined;
    throw error;
  }
  return fields;
}
