import { expect } from "chai";
import { http2Preface, prefaceVerdict } from "../../src/transports/http/http2-preface.js";

describe("the HTTP/2 preface check of the one port", () => {
  it("is undecided while the bytes are a beginning of the preface, nothing included", () => {
    for (let length = 0; length < http2Preface.length; length++) {
      expect(prefaceVerdict(http2Preface.subarray(0, length)), `${length} bytes`).to.equal("undecided");
    }
  });

  it("says HTTP/2 once the whole preface arrived, whatever follows it", () => {
    expect(prefaceVerdict(Buffer.from(http2Preface))).to.equal("http2");
    const withSettings = Buffer.concat([http2Preface, Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);
    expect(prefaceVerdict(withSettings)).to.equal("http2");
  });

  it("says HTTP/1 as soon as a byte differs", () => {
    expect(prefaceVerdict(Buffer.from("GET / HTTP/1.1\r\n", "latin1"))).to.equal("http1");
    expect(prefaceVerdict(Buffer.from("POST /v1/Rooms HTTP/1.1\r\n", "latin1"))).to.equal("http1");
    // PRI is also the start of "PRINT": the first differing byte decides.
    expect(prefaceVerdict(Buffer.from("PRIN", "latin1"))).to.equal("http1");
    expect(prefaceVerdict(Buffer.from("P", "latin1"))).to.equal("undecided");
    const lastByteWrong = Buffer.from(http2Preface);
    lastByteWrong[lastByteWrong.length - 1] = 0x00;
    expect(prefaceVerdict(lastByteWrong)).to.equal("http1");
  });
});
