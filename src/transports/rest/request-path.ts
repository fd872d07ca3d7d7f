// Where a REST request is addressed: its path without trailing slashes, the
// part of it below /v1 (what a 404 names), and the percent-decoded segments
// below /v1 that routes match (none for a path elsewhere; a segment that does
// not decode is empty, which no route matches). Dot segments are resolved
// before (URL parsing does), so /v1/../x/Rooms is /x/Rooms: no route is there.
export interface RequestPath {
  path: string;
  resource: string;
  segments: string[];
}

export function requestPathOf(pathname: string): RequestPath {
  const path = pathname.replace(/\/+$/, "");
  const underV1 = path === "/v1" || path.startsWith("/v1/");
  const resource = underV1 ? path.slice("/v1".length) : path;
  const segments = underV1
    ? resource
        .split("/")
        .slice(1)
        .map((segment) => decodeSegment(segment) ?? "")
    : [];
  return { path, resource, segments };
}

function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
