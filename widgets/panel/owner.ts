// What the backend panel's parts share: the one owner that acts through the
// API and says how it went.
import type { LabClient } from '../api/client.js';

/** Run an API call with its button disabled; say what it did or why it failed. */
export type Act = (btn: HTMLButtonElement, what: string, fn: () => Promise<unknown>) => Promise<void>;

export interface PanelOwner {
  readonly client: LabClient;
  /** A replay: every control is off. */
  readonly readOnly: boolean;
  readonly act: Act;
}
