// Long-running commands (serve, workshop serve) stop the same way: the first
// SIGINT or SIGTERM runs their shutdown once, and the returned promise
// settles when it is done. Install it before printing a URL: whoever reads
// the URL may stop the server at once.
export function untilStopped(shutdown: (signal: string) => Promise<void>): { done: Promise<void>; closing: () => boolean } {
  let closing = false;
  const done = new Promise<void>((resolveDone) => {
    const stop = async (signal: string) => {
      if (closing) return;
      closing = true;
      try { await shutdown(signal); } finally { resolveDone(); }
    };
    process.once('SIGINT', () => void stop('SIGINT'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
  });
  return { done, closing: () => closing };
}
