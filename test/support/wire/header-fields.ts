// Header fields from "name: value" lines (HTTP/1.1 heads, chunked trailers,
// gRPC-Web trailers): names lower-cased, values trimmed.
export function headerFields(lines: string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) fields[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return fields;
}
