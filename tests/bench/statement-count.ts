// SQL statements the database ran while a run was measured, from MariaDB's own count
// (the `Questions` status: every statement a client sent, whatever the database). Divided by
// the requests of the run it is the path's statements per request, the figure the write path is
// optimised on. Counted between the same resume() and pause() as the CPU.
import { createConnection, type Connection, type RowDataPacket } from "mysql2/promise";
import { phaseReadings } from "./phase-readings.ts";

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
  const readings = phaseReadings(questions);
  return {
    resume: readings.resume,
    pause: readings.pause,
    async total() {
      let sum = 0;
      // Each SHOW STATUS counts itself: the one that closes a phase is not the path's.
      for (const { from, to } of await readings.phases()) sum += to - from - 1;
      return Math.max(0, sum);
    },
    close: () => connection.end(),
  };
}
