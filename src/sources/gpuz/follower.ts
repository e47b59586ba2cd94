import { open } from 'node:fs/promises';

/** What a poll of a followed file found. */
export interface FollowPoll {
  /** Complete lines appended since the last poll, without their `\n`, each decoded on its own. */
  lines: { text: string; line: number }[];
  /** The file was cut shorter (`truncated`) or is another file (`replaced`, log rotation): read from its start. */
  reset: 'truncated' | 'replaced' | null;
  /** The file does not exist (yet). */
  missing: boolean;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const cp1252 = new TextDecoder('windows-1252');
const NEWLINE = 0x0a;

/**
 * Follows a file that another program appends to (`tail -F`): each poll returns the complete lines added since
 * the last one and holds back a partial last line until its line break arrives. A file that got shorter, or whose
 * inode changed, is read again from its start. Each line is decoded as UTF-8 when valid, else Windows-1252.
 */
export class LogFollower {
  private offset = 0;
  private inode: number | null = null;
  private pending: Buffer = Buffer.alloc(0);
  private lineNo = 0;

  constructor(
    readonly path: string,
    /** Most bytes read per poll; the rest comes with the next polls. */
    private readonly maxChunk = 16 * 1024 * 1024,
    /** A line longer than this is given out without waiting for its line break (bounded memory). */
    private readonly maxLine = 4 * 1024 * 1024,
  ) {}

  async poll(): Promise<FollowPoll> {
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(this.path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { lines: [], reset: null, missing: true };
      throw err;
    }
    try {
      const stat = await handle.stat();
      let reset: FollowPoll['reset'] = null;
      if (this.inode !== null && stat.ino !== this.inode) reset = 'replaced';
      else if (stat.size < this.offset) reset = 'truncated';
      this.inode = stat.ino;
      if (reset) {
        this.offset = 0;
        this.pending = Buffer.alloc(0);
        this.lineNo = 0;
      }
      const length = Math.min(stat.size - this.offset, this.maxChunk);
      if (length <= 0) return { lines: [], reset, missing: false };
      const chunk = Buffer.alloc(length);
      const { bytesRead } = await handle.read(chunk, 0, length, this.offset);
      this.offset += bytesRead;
      return { lines: this.split(chunk.subarray(0, bytesRead)), reset, missing: false };
    } finally {
      await handle.close();
    }
  }

  private split(chunk: Buffer): FollowPoll['lines'] {
    const data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    const lines: FollowPoll['lines'] = [];
    let start = 0;
    for (let i = data.indexOf(NEWLINE); i !== -1; i = data.indexOf(NEWLINE, start)) {
      lines.push({ text: decodeLine(data.subarray(start, i)), line: ++this.lineNo });
      start = i + 1;
    }
    this.pending = Buffer.from(data.subarray(start));
    if (this.pending.length > this.maxLine) {
      lines.push({ text: decodeLine(this.pending), line: ++this.lineNo });
      this.pending = Buffer.alloc(0);
    }
    return lines;
  }
}

function decodeLine(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return cp1252.decode(bytes);
  }
}
