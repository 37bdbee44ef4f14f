// Kernel isolation shared by workshop seats and regions: network namespaces
// (netns.ts), Unix users (users.ts), cgroup limits (cgroups.ts) and
// Unix-socket bridges with WAN shaping (bridge.ts).
// Each is written once here and used by both.
export {
  NETNS_PREFIX, isolationAvailable, wrapInNamespace, listNamespaces, namespacePids, createNamespace, removeNamespace,
  type RunAs,
} from './netns.js';
export {
  runRelay, readRelayConfig, relayConfigSchema, bridgeHalves, relayReady,
  wanSettingsSchema, readWanSettings, writeWanSettings, defaultWan, parseDuration, parseRate, formatRate, DEFAULT_WAN_DELAY_MS,
  type Endpoint, type Forward, type RelayConfig, type RunningRelay, type WanSettings,
} from './bridge.js';
export { USER_PREFIX, createUser, removeUser, lookupUser, listUsers, userPids, type IsolatedUser } from './users.js';
export {
  createCgroup, removeCgroup, addToCgroup, wrapInCgroup, cgroupPids, cgroupUsage, cgroupLimits, cgroupExists, cgroupOf,
  type Cgroup, type CgroupLimits, type CgroupUsage,
} from './cgroups.js';
