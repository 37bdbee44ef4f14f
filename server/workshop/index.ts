// Workshop hosting: one machine, a room of attendees, each in an isolated
// seat. The seat lifecycle (seats.ts) sits behind SeatBackend; the workshop
// server (server.ts) hands out seats, proxies to them and serves the host's
// dashboard; its state lives in store.ts.
export { startWorkshopServer, DEFAULT_POLL_MS, WORKSHOP_SERVER_NICE, type WorkshopOptions, type WorkshopServer } from './server.js';
export {
  LocalSeats, DEFAULT_LIMITS, WORKSHOP_TRAFFIC_RATE, seatLabel, seatRequest, type SeatBackend, type SeatAddress, type SeatStart, type LocalSeatOptions,
} from './seats.js';
export { WorkshopStore, newJoinCode, cardKey, type SeatRecord } from './store.js';
export { Reaper, type ReaperTargets } from './reaper.js';
export { cookieName } from './guards.js';
export { capacityAdvice, type CapacityAdvice } from './capacity.js';
