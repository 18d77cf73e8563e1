// What the fetcher reports, and the stderr renderer the CLI uses: a redrawn bar on a TTY, plain lines otherwise.

export type FetchEvent =
  /** verified: the file is pinned and its sha256 was checked (else it is only known to exist). */
  | { kind: 'present'; file: string; verified: boolean }
  | { kind: 'start'; file: string; offset: number; total: number | undefined }
  | { kind: 'data'; file: string; received: number; total: number | undefined }
  | { kind: 'done'; file: string; bytes: number; verified: boolean }
  | { kind: 'retry'; file: string; attempt: number; error: Error };

export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

const MB = 1e6;
const BAR_WIDTH = 24;
const REDRAW_MS = 100;
/** Without a known total, a plain line every this many bytes. */
const PLAIN_STEP_BYTES = 10 * MB;

/** Renders FetchEvents to `stream`; `now` (ms) is injectable so tests need no clock. */
export function createProgressReporter(stream: ProgressStream, now: () => number = Date.now): (event: FetchEvent) => void {
  const tty = stream.isTTY === true;
  let startedAt = 0;
  let startOffset = 0;
  let lastDraw = 0;
  let lastStep = 0;
  let barShown = false;
  /** A line printed while the bar is on screen must first end the bar's line. */
  const endBar = (): string => {
    const prefix = barShown ? '\n' : '';
    barShown = false;
    return prefix;
  };
  const rate = (received: number) => ((received - startOffset) / MB / Math.max((now() - startedAt) / 1000, 1e-3)).toFixed(1);
  return (event) => {
    switch (event.kind) {
      case 'present':
        stream.write(`${event.file}: already present${event.verified ? ', sha256 verified' : ' (not pinned)'}\n`);
        return;
      case 'retry':
        stream.write(`${endBar()}${event.file}: attempt ${event.attempt} failed (${event.error.message}); retrying\n`);
        return;
      case 'start':
        startedAt = now();
        startOffset = event.offset;
        lastDraw = 0;
        lastStep = step(event.offset, event.total);
        stream.write(
          `${event.file}: ${event.offset > 0 ? `resuming at ${mb(event.offset)}` : 'downloading'}${event.total === undefined ? '' : ` of ${mb(event.total)}`}\n`,
        );
        return;
      case 'data': {
        if (tty) {
          if (now() - lastDraw < REDRAW_MS) return;
          lastDraw = now();
          const fraction = event.total ? Math.min(event.received / event.total, 1) : 0;
          const filled = Math.round(fraction * BAR_WIDTH);
          const pct = event.total ? `${(fraction * 100).toFixed(0).padStart(3)}%` : mb(event.received);
          barShown = true;
          stream.write(
            `\r\x1b[K${event.file} [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${pct} ${rate(event.received)} MB/s`,
          );
          return;
        }
        const current = step(event.received, event.total);
        if (current === lastStep) return;
        lastStep = current;
        const where = event.total ? `${current * 10}% (${mb(event.received)} of ${mb(event.total)})` : mb(event.received);
        stream.write(`${event.file}: ${where}, ${rate(event.received)} MB/s\n`);
        return;
      }
      case 'done':
        barShown = false;
        stream.write(
          `${tty ? '\r\x1b[K' : ''}${event.file}: done, ${mb(event.bytes)}${event.verified ? ', sha256 verified' : ' (not pinned)'}\n`,
        );
    }
  };
}

/** Which 10 % step (or, without a total, which PLAIN_STEP_BYTES block) `received` is in. */
function step(received: number, total: number | undefined): number {
  return total ? Math.floor((received / total) * 10) : Math.floor(received / PLAIN_STEP_BYTES);
}

function mb(bytes: number): string {
  return `${(bytes / MB).toFixed(1)} MB`;
}
