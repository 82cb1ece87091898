// `dsu run`'s supervisor: what it sets before its own modules load.

/**
 * `dsu run` stays for months as a mostly idle supervisor: it spawns, forwards
 * control requests and journals, and the state itself goes from program to
 * program, not through it. Without V8's optimizing compiler it never maps and
 * touches TurboFan's code (pages of the node binary) nor keeps optimized code:
 * 3.5-4 MB less idle RSS, measured. Set before the supervisor's modules load,
 * the first place where functions get hot. Kept on when the supervisor
 * itself will parse and re-encode a state file (`--restore x.json`), the one
 * heavy JS work it does.
 */
export async function leanSupervisor(restore: string | undefined): Promise<void> {
  if (restore !== undefined && (await import('../runtime/supervisor/state-import.js')).isStateFileArg(restore)) return
  ;(await import('node:v8')).default.setFlagsFromString('--no-opt')
}
