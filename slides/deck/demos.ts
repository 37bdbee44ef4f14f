// The live demos of the talk: which recording replays them when no lab
// is reachable, and the steps the presenter clicks through. Each step is a
// real command typed into the shared terminal, so the room sees what runs.
export type DemoName = 'dual-backends' | 'failover' | 'regions';

export interface DemoStep {
  label: string;
  command: string;
}

export interface DemoDef {
  name: DemoName;
  recording: string; // public/recordings/<recording>.jsonl
  caption: string; // what the static picture shows
  steps: DemoStep[];
}

export const DEMOS: Record<DemoName, DemoDef> = {
  'dual-backends': {
    name: 'dual-backends',
    recording: 'dual-backends',
    caption: 'Dual backends: RPC over the router mesh, notifications into the broker',
    steps: [
      // Whatever ran before, the demo starts from a clean hybrid mesh with no
      // traffic yet: step 3 is where the room sees the messages start.
      { label: 'Start the mesh', command: 'hmlab down; hmlab up --topology hybrid-mesh --rate 0' },
      { label: 'Show transports', command: 'hmlab config' },
      { label: 'Start traffic', command: 'hmlab traffic 10' },
    ],
  },
  failover: {
    name: 'failover',
    recording: 'failover',
    caption: 'Failover: router-b is killed, services move to the next router of their URL',
    steps: [
      // Traffic from the first demo keeps running; this makes sure of it after a skipped slide.
      { label: 'Traffic on', command: 'hmlab traffic 10' },
      { label: 'Kill router-b', command: 'hmlab kill router-b' },
      { label: 'Restart router-b', command: 'hmlab start router-b' },
    ],
  },
  regions: {
    name: 'regions',
    recording: 'regions',
    caption: 'Across regions: the WAN between region 1 and region 2 is cut; calls to region 2 time out, region 1 keeps working',
    steps: [
      // A modest rate: calls waiting on the cut WAN must not take every conductor worker.
      { label: 'Bring up two regions', command: 'hmlab down; hmlab up --topology multi-region --rate 3' },
      { label: 'Add 80 ms', command: 'hmlab wan --delay 80ms' },
      { label: 'Cut the WAN', command: 'hmlab wan cut' },
      { label: 'Heal', command: 'hmlab wan heal' },
    ],
  },
};

export function isDemoName(s: string | undefined): s is DemoName {
  return s !== undefined && Object.hasOwn(DEMOS, s);
}

/** The terminal session every demo slide shares: one shell for the whole talk. */
export const PRESENTER_TERMINAL = 'presenter';
