// ready() and deferReady(), apart from the successor's code (successor.ts):
// every program imports them, and only a new version during an upgrade needs
// the rest, which index.ts loads then.

let explicitReady = false
let readyCalled = false
let onReady: () => void = () => {}

/** The program says when it is ready itself (ready()), instead of at its listen() calls. */
export function deferReady(): void {
  explicitReady = true
}

export function ready(): void {
  readyCalled = true
  onReady()
}

/** Whether the program deferred readiness, and whether it called ready() since. */
export function readiness(): { explicit: boolean; called: boolean } {
  return { explicit: explicitReady, called: readyCalled }
}

/** Successor only: what ready() sets off. */
export function whenReady(fn: () => void): void {
  onReady = fn
}
