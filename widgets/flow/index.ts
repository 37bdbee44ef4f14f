// Public face of the flow view: mount it on an element with a LabStream
// (live or replay); dispose() takes it away again.
export { mountFlowView, type FlowView, type FlowViewOptions, type FlowViewStats } from './view.js';
export { FlowModel } from './model.js';
export { syntheticRecording, type SyntheticOptions } from './synthetic.js';
