// A separate process that renders one service with the real writer, for the lock and crash tests.
// argv[2] is a JSON RenderChildJob; it prints JSON lines (events with timestamps), never any content.
import { setTimeout as sleep } from 'node:timers/promises';
import { writeTargetsAtomically, type TargetWrite } from '../../src/render/atomic-write.js';

/** What the child does. */
export interface RenderChildJob {
  root: string;
  service: string;
  writes: TargetWrite[];
  /** Wall-clock ms to wait for before starting, so two children contend for the lock. */
  startAt?: number;
  /** Fixed pause before each swap (ms). */
  swapDelayMs?: number;
  /** Random pause of 0..jitterMs before each temp write and each swap, to be killed mid-way. */
  jitterMs?: number;
  lockTimeoutMs?: number;
}

/** The child's last line on success. */
export interface RenderChildReport {
  event: 'done';
  attemptAt: number;
  firstHookAt: number;
  lastHookAt: number;
  outcomes: string[];
}

const job = JSON.parse(process.argv[2] ?? '{}') as RenderChildJob;
const jitter = async (): Promise<void> => {
  if (job.jitterMs) await sleep(Math.random() * job.jitterMs);
};
if (job.startAt) await sleep(Math.max(0, job.startAt - Date.now()));
let firstHookAt = 0;
let lastHookAt = 0;
const mark = (): void => {
  lastHookAt = Date.now();
  // The first hook runs under the lock, as the first temp file is created: tell the crash test.
  if (firstHookAt === 0) process.stdout.write(`${JSON.stringify({ event: 'writing', at: lastHookAt })}\n`);
  firstHookAt ||= lastHookAt;
};
const attemptAt = Date.now();
process.stdout.write(`${JSON.stringify({ event: 'ready', attemptAt })}\n`);
const results = await writeTargetsAtomically(job.root, job.service, job.writes, {
  lockTimeoutMs: job.lockTimeoutMs ?? 20_000,
  hooks: {
    tempCreated: async () => {
      mark();
      await jitter();
    },
    beforeSwap: async () => {
      mark();
      if (job.swapDelayMs) await sleep(job.swapDelayMs);
      await jitter();
      mark();
    },
  },
});
const report: RenderChildReport = { event: 'done', attemptAt, firstHookAt, lastHookAt, outcomes: results.map((result) => result.outcome) };
process.stdout.write(`${JSON.stringify(report)}\n`);
