// Ends the helper when its provider has been silent too long. A connection that dies
// without a FIN (a network path gone, a laptop closed) never closes the helper's stdin,
// so EOF alone would leave the helper, and its locks' holder records, on the host for
// good. The provider pings more often than the limit; silence means it is gone.
//
// The helper is synchronous: while an op runs (a lock wait, a long batch) no input is
// read, and time spent so is not silence. Activity is therefore noted both when input
// arrives and when the helper finishes handling it.
export class IdleWatchdog {
  private last = Date.now();
  private limitMs?: number;
  private timer?: NodeJS.Timeout;

  constructor(private readonly onIdle: (silentMs: number) => void) {}

  touch(): void {
    this.last = Date.now();
  }

  /** Arms (or re-arms with a new limit) the watchdog. */
  arm(limitMs: number): void {
    this.limitMs = limitMs;
    this.touch();
    if (this.timer) clearInterval(this.timer);
    this.timer = setInterval(() => this.check(), Math.max(100, Math.min(1000, Math.floor(limitMs / 4))));
    this.timer.unref();
  }

  get armedMs(): number | undefined {
    return this.limitMs;
  }

  private check(): void {
    if (this.limitMs === undefined) return;
    const silent = Date.now() - this.last;
    if (silent > this.limitMs) {
      clearInterval(this.timer);
      this.onIdle(silent);
    }
  }
}

/** The bounds of idleExitMs a provider may ask for. */
export const MIN_IDLE_EXIT_MS = 500;
export const MAX_IDLE_EXIT_MS = 24 * 3600_000;
