/**
 * Deterministic fuzz inputs for parser tests: from real captures, `count` mutated texts (truncated at any
 * byte, lines dropped, duplicated or swapped, bytes flipped, random garbage spliced in) and pure random text.
 * The same seed gives the same cases, so a failure can be replayed by its index.
 */
export function* fuzzCases(
  seeds: readonly string[],
  count: number,
  seed = 1,
): Generator<{ index: number; text: string }> {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 4_294_967_296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const garbage = (n: number) =>
    Array.from({ length: n }, () => String.fromCharCode(int(4) === 0 ? int(0x3000) : 32 + int(95))).join('');

  for (let index = 0; index < count; index++) {
    const base = seeds.length > 0 ? (seeds[int(seeds.length)] as string) : '';
    let text: string;
    switch (int(7)) {
      case 0:
        text = base.slice(0, int(base.length + 1));
        break;
      case 1: {
        const lines = base.split('\n');
        lines.splice(int(lines.length), 1 + int(3));
        text = lines.join('\n');
        break;
      }
      case 2: {
        const lines = base.split('\n');
        const at = int(lines.length);
        lines.splice(at, 0, ...lines.slice(at, at + 1 + int(3)));
        text = lines.join('\n');
        break;
      }
      case 3: {
        const chars = [...base];
        for (let k = 0; k < 1 + int(20); k++) chars[int(chars.length)] = garbage(1);
        text = chars.join('');
        break;
      }
      case 4: {
        const at = int(base.length + 1);
        text = base.slice(0, at) + garbage(1 + int(200)) + base.slice(at);
        break;
      }
      case 5: {
        const lines = base.split('\n');
        const a = int(lines.length);
        const b = int(lines.length);
        [lines[a], lines[b]] = [lines[b] as string, lines[a] as string];
        text = lines.join('\n');
        break;
      }
      default:
        text = garbage(int(2000));
    }
    yield { index, text };
  }
}
