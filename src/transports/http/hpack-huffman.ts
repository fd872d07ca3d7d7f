// HPACK's Huffman code (RFC 7541, Appendix B) for the printable ASCII
// characters, enough to read a content-type. The code is canonical: within
// each length, codes count up in the order of the symbols, so the symbols of
// each length give every code. Symbols of 19 bits and more (control and
// non-ASCII bytes) are left out: a string holding one is not decoded.
const symbolsByLength: Record<number, string> = {
  5: "012aceiost",
  6: " %-./3456789=A_bdfghlmnpru",
  7: ":BCDEFGHIJKLMNOPQRSTUVWYjkqvwxyz",
  8: "&*,;XZ",
  10: '!"()?',
  11: "'+|",
  12: "#>",
  13: "\0$@[]~",
  14: "^}",
  15: "<`{",
};

const longest = 15;
const firstCode: number[] = [];
const symbols: string[] = [];
{
  let code = 0;
  for (let length = 1; length <= longest; length++) {
    firstCode[length] = code;
    symbols[length] = symbolsByLength[length] ?? "";
    code = (code + symbols[length]!.length) << 1;
  }
}

// The decoded string, or undefined when the bytes hold a symbol this table
// leaves out or do not end in the padding the RFC requires (at most seven
// bits, all ones).
export function huffmanDecode(bytes: Uint8Array): string | undefined {
  let text = "";
  let code = 0;
  let length = 0;
  for (const byte of bytes) {
    for (let bit = 7; bit >= 0; bit--) {
      code = (code << 1) | ((byte >> bit) & 1);
      length++;
      const index = code - firstCode[length]!;
      if (index >= 0 && index < symbols[length]!.length) {
        text += symbols[length]![index];
        code = 0;
        length = 0;
      } else if (length === longest) {
        return undefined;
      }
    }
  }
  return length < 8 && code === (1 << length) - 1 ? text : undefined;
}
