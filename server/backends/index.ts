// Lab environments on real backends: the public face of server/backends.
// A lab is a home folder plus a block of loopback ports, running a RabbitMQ
// broker, routers (qdrouterd or the embedded router) and OpenStack services
// on oslo.messaging, each a real process.
export type { ComponentName, LabEnvironmentApi, LabPaths, PortPlan, Progress, UpOptions } from './types.js';
export {
  LabEnvironment, openLab, backendNice, defaultTrafficRate, DEFAULT_TRAFFIC_RATE, UNEXPECTED_EXIT, wanChangeSchema,
  type WanChange, type LabConfigDescription, type TransportDescription,
} from './environment.js';
export { regionNamespaces, callsSince, answeredRegion, firstCrossRegionSuccess, wanFile } from './regions.js';
export { LabError, type LabErrorCode } from './errors.js';
export { readState } from './state.js';
export { defaultHome, labPaths } from './paths.js';
export { DEFAULT_BASE_PORT, PORT_BLOCK, ROUTER_NAMES, planPorts, portFree, findFreePortBlock, freePort, ephemeralRange } from './ports.js';
export {
  readOpenstackConf, parseOpenstackConf, effectiveTransports, redactUrl,
  type OpenstackConf, type ConfEntry, type EffectiveTransports,
} from './openstack-conf.js';
export {
  renderOpenstackConf, renderRouterConf, renderRabbitConf, routersOf, servicesOf, brokersOf, regionOf, REGIONS, DEFAULT_WAN_COST,
  OPENSTACK_ADDRESSES, HOME_ROUTER, type ServiceName,
} from './templates.js';
export {
  processesOfHome, signalGroup, pidAlive, isComponentOf, tailLog, readyTimeout, raiseSessionPriority, sessionNice, COMPONENT_MARK,
} from './processes.js';
export { amqpProduct, embeddedRouterAvailable, findOnPath, nodeName, OSLO_INSTALL, RABBITMQ_INSTALL } from './components.js';
