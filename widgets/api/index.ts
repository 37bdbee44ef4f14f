// Public face of the browser API: the HTTP client, live and replayed event
// streams, the schemas that guard them, and the wire types.
export * from './client.js';
export { parseLabEvent, labEventSchema, labStatusSchema } from './schema.js';
export type * from '../../common/wire.js';
