// The embedded router: public face of server/router.
export { ManagementClient, ManagementError, queryManagement, expandEntityType, ENTITY_PREFIX, clearHeartbeats } from './management-client.js';
export type { ManagementClientOptions } from './management-client.js';
export { parseConfig, ConfigError } from './config.js';
export type { RouterConfig, ListenerConfig, ConnectorConfig, AddressConfig, Distribution, Role } from './config.js';
export { Router, PRODUCT } from './router.js';
export { runRouter } from './process.js';
export { qdstat, type QdstatView } from './qdstat.js';
export { ENTITY_ATTRIBUTES, addressKey } from './management-agent.js';
