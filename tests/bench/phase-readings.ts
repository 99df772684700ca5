// Readings of a counter where the measured phases start and end. The runner calls resume() and
// pause() synchronously around each phase; each reading starts at once, is kept in order, and
// is settled at the end, so the counter's own latency never shifts a phase's bounds.

export interface PhaseReadings<T> {
  resume(): void;
  pause(): void;
  /** Each measured phase's readings at its start and end (pausing first); then forgets them. */
  phases(): Promise<Array<{ from: T; to: T }>>;
}

export function phaseReadings<T>(read: () => Promise<T>): PhaseReadings<T> {
  const marks: Array<{ phase: "from" | "to"; value: Promise<T> }> = [];
  let running = false;
  const pause = () => {
    if (!running) return;
    running = false;
    marks.push({ phase: "to", value: read() });
  };
  return {
    resume() {
      if (running) return;
      running = true;
      marks.push({ phase: "from", value: read() });
    },
    pause,
    async phases() {
      pause();
      const phases: Array<{ from: T; to: T }> = [];
      let from: T | undefined;
      for (const mark of marks) {
        const value = await mark.value;
        if (mark.phase === "from") from = value;
        else phases.push({ from: from!, to: value });
      }
      marks.length = 0;
      return phases;
    },
  };
}
