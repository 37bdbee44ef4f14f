// Browser side of workshop hosting: the host's dashboard, and the attendee's
// seat bar (seat name, warnings, "Ask for help") shown in the workbook.
export { mountHostDashboard } from './host.js';
export { mountSeatBar } from './attendee.js';
