// The embedded router: public face of server/router.
export { ManagementClient, ManagementError, queryManagement, expandEntityType, ENTITY_PREFIX } from './management-client.js';
export type { ManagementClientOptions } from './management-client.js';
