// The order test files start in. Vitest runs the longest files first when it has timings from a
// previous run, but a clean clone (CI) has none and it falls back to file size: the chaos run, a
// short file that takes the longest (~155 s), started last and ran alone while the other worker
// idled. It starts first now, and the fuzz campaign (~80 s, also a short file) beside it: it ran
// last, alone for its last ~30 s, once the other worker had run out of small files. Both are
// time-boxed, so running them together makes neither longer. The other long files are not moved
// up beside chaos (scale-out and the Chromium stories load the machine as much, and two at once
// push calls past their deadlines). The rest keep vitest's order.
import { BaseSequencer, type TestSpecification } from "vitest/node";

const longestFirst = ["tests/chaos/chaos.test.ts", "tests/fuzz/fuzz.test.ts"];

export class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (file: TestSpecification) => {
      const known = longestFirst.findIndex((path) => file.moduleId.endsWith(`/${path}`));
      return known === -1 ? longestFirst.length : known;
    };
    // Array.prototype.sort is stable: within the rest, vitest's order stands.
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}
