// Test-only entry: the embedded router as main.ts runs it, plus an IPC
// question "how much heap is live after a full collection?". RSS keeps
// a process's high-water mark, so only the live heap tells a leak from
// a busy moment.
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('router-heap-probe needs node --expose-gc');
process.on('message', (m) => {
  if (m !== 'heap') return;
  gc();
  process.send?.({ heapUsed: process.memoryUsage().heapUsed });
});
await import('../../server/router/main.js');
