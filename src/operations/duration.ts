// Whole seconds from start to end (milliseconds), once there is an end.
export function durationSeconds(start: number, end: number | undefined): number | undefined {
  return end === undefined ? undefined : Math.floor((end - start) / 1000);
}
