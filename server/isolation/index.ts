// Kernel isolation shared by workshop seats and regions: network namespaces
// (netns.ts), and, as they arrive, users, cgroups and Unix-socket bridges.
// Each is written once here and used by both.
export {
  NETNS_PREFIX, isolationAvailable, wrapInNamespace, listNamespaces, namespacePids, createNamespace, removeNamespace,
  type RunAs,
} from './netns.js';
