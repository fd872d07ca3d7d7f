// The seeded random generator of the randomized tests (the model-based test
// and the fuzz): mulberry32, 32 bits of state, enough to make every run
// replayable from its seed and to spread test inputs well. Not for secrets.
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  // A number in [0, 1).
  float(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  }

  // An integer in [0, below).
  int(below: number): number {
    return Math.floor(this.float() * below);
  }

  between(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("pick from nothing");
    return items[this.int(items.length)]!;
  }

  // One of the choices, each as likely as its weight.
  weighted<T>(choices: readonly (readonly [number, T])[]): T {
    let left = this.float() * choices.reduce((sum, [weight]) => sum + weight, 0);
    for (const [weight, value] of choices) {
      left -= weight;
      if (left < 0) return value;
    }
    return choices.at(-1)![1];
  }

  shuffle<T>(items: readonly T[]): T[] {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [copy[i], copy[j]] = [copy[j]!, copy[i]!];
    }
    return copy;
  }

  // A sid of this prefix with 32 random hex digits.
  sid(prefix: string): string {
    return prefix + this.hex(32);
  }

  hex(digits: number): string {
    let text = "";
    for (let i = 0; i < digits; i++) text += "0123456789abcdef"[this.int(16)];
    return text;
  }

  bytes(length: number): Buffer {
    const bytes = Buffer.alloc(length);
    for (let i = 0; i < length; i++) bytes[i] = this.int(256);
    return bytes;
  }

  // Mostly small, now and then large: most parsing bugs show at small sizes.
  size(): number {
    return this.chance(0.85) ? this.int(48) : this.int(4096);
  }
}
