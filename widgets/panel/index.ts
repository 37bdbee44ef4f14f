// Public face of the backend panel: mount it on an element with the lab's
// API client and event stream; dispose() takes it away again.
export { mountBackendPanel, type BackendPanel } from './panel.js';
