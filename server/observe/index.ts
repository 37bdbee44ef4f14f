// Observers and the event stream: public face of server/observe.
export { EventBus, type LabEventListener } from './bus.js';
export { LabObserver, type LabObserverOptions } from './observer.js';
export { ServiceEventObserver, parseServiceEvent, FailoverTracker } from './service-events.js';
export { MessageSampler, RateCounter, summarize } from './sampler.js';
export { RouterPoller, buildRouterSnapshot, addressOf, OBSERVER_CONTAINER, type ManagementConnect, type ManagementLike } from './routers.js';
export { BrokerPoller, buildBrokerSnapshot } from './broker.js';
export { DirectoryTail } from './tail.js';
export { Recorder, RecordingExists, RECORDING_LIMITS, readRecording, listRecordings, describeMachine, type RecorderOptions } from './recording.js';
