// Errors a lab user can act on. The CLI prints the message as it is; the lab
// server maps `code` to an HTTP status. The message always says what is wrong
// and how to fix it.
export type LabErrorCode =
  | 'bad-input' // an option or argument is wrong
  | 'unknown-topology'
  | 'unknown-component'
  | 'port-in-use'
  | 'not-installed' // RabbitMQ, oslo.messaging or a router is missing
  | 'bad-config' // etc/openstack.conf cannot be read
  | 'already-running' // a second `up` on a running home
  | 'not-running' // a command that needs a lab, before `up`
  | 'not-permitted' // needs root (network namespaces)
  | 'component-failed'; // a component did not become ready

export class LabError extends Error {
  constructor(readonly code: LabErrorCode, message: string, readonly field?: string) {
    super(message);
    this.name = 'LabError';
  }
}
