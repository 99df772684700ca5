// The mesh's processes under fuzzing: which ones exited when nobody asked them to.

export interface ProcessExit {
  name: string;
  code: number | null;
}

export class ProcessWatch {
  readonly #unexpected: ProcessExit[] = [];
  readonly #expected = new Set<string>();

  /** For launchMesh's onExit. */
  readonly onExit = (name: string, code: number | null): void => {
    if (this.#expected.delete(name)) return;
    this.#unexpected.push({ name, code });
  };

  /** The next exit of `name` is a deliberate restart, not a crash. */
  expectExit(name: string): void {
    this.#expected.add(name);
  }

  /** Exits nobody asked for, since the last call. */
  takeCrashes(): ProcessExit[] {
    return this.#unexpected.splice(0);
  }
}
