// SQL statements the database ran while a run was measured, from MariaDB's own count
// (the `Questions` status: every statement a client sent, whatever the database). Divided by
// the requests of the run it is the path's statements per request, the figure the write path is
// optimised on. Counted between the same resume() and pause() as the CPU.
import { createConnection, type Connection, type RowDataPacket } from "mysql2/promise";

export interface StatementCounter {
  resume(): void;
  pause(): void;
  /** Statements counted over the measured phases, less the counter's own reads. */
  total(): Promise<number>;
  close(): Promise<void>;
}

export async function countStatements(mysqlUrl: string): Promise<StatementCounter> {
  const connection: Connection = await createConnection(mysqlUrl);
  const questions = async () => {
    const [rows] = await connection.query<RowDataPacket[]>("SHOW GLOBAL STATUS LIKE 'Questions'");
    return Number(rows[0]!.Value);
  };
  // resume() and pause() are called synchronously by the runner: the reads they start are kept
  // in order and settled at the end.
  const marks: Array<{ phase: "from" | "to"; value: Promise<number> }> = [];
  let running = false;
  const pause = () => {
    if (!running) return;
    running = false;
    marks.push({ phase: "to", value: questions() });
  };
  return {
    resume() {
      if (running) return;
      running = true;
      marks.push({ phase: "from", value: questions() });
    },
    pause,
    async total() {
      pause();
      let sum = 0;
      let from = 0;
      for (const mark of marks) {
        const value = await mark.value;
        // Each SHOW STATUS counts itself: the one that closes a phase is not the path's.
        if (mark.phase === "from") from = value;
        else sum += value - from - 1;
      }
      marks.length = 0;
      return Math.max(0, sum);
    },
    close: () => connection.end(),
  };
}
