// Recording files: JSON lines, a header first, then one LabEvent per line.
// The header's schema and the rule for a recording's name, for the server
// that writes and lists them and the browser that replays them.
import { z } from 'zod';
import { topologySchema } from './rules.js';
import type { RecordingHeader } from './wire.js';

/** The header the lab server writes, exactly (wire.ts RecordingHeader). */
export const recordingHeaderSchema = z.object({
  type: z.literal('recording'),
  version: z.literal(1),
  machine: z.object({ os: z.string(), arch: z.string(), cpu: z.string(), cores: z.number(), memoryGiB: z.number(), node: z.string() }),
  topology: topologySchema().nullable(),
  router: z.enum(['embedded', 'qdrouterd']).nullable(),
  startedAt: z.number(),
  scenario: z.string().optional(),
});

/**
 * What a replay accepts: a recording may come from anywhere (an older
 * server, a synthetic stream), so only what playing it needs is required —
 * the type, the version and the start time — and other fields may differ.
 */
export const replayHeaderSchema = recordingHeaderSchema.extend({
  machine: z.record(z.string(), z.unknown()).optional(),
  topology: z.string().nullable().optional(),
  router: z.string().nullable().optional(),
}).loose();
export type ReplayHeader = z.infer<typeof replayHeaderSchema>;

// Compile-time guard: the written header is what wire.ts promises.
const _headerFits = (x: z.infer<typeof recordingHeaderSchema>): RecordingHeader => x;
void _headerFits;

/** At most this many characters in a recording's name (without .jsonl). */
export const RECORDING_NAME_MAX = 80;
const NAME_RX = new RegExp(`^[A-Za-z0-9][A-Za-z0-9._-]{0,${RECORDING_NAME_MAX - 1}}$`);
const NAME_RULE = `letters, digits, ".", "_" and "-" only, starting with a letter or digit, up to ${RECORDING_NAME_MAX} characters`;

/** A recording's name: a plain file name (no path, no ".."), so it can be joined to a folder or a URL safely. */
export function isRecordingName(name: string): boolean {
  return NAME_RX.test(name) && !name.includes('..');
}

export const recordingNameSchema = z.string().refine(isRecordingName, { error: NAME_RULE });
