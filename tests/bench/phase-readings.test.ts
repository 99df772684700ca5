import { describe, expect, it } from "vitest";
import { phaseReadings } from "./phase-readings.ts";

describe("readings where measured phases start and end", () => {
  it("when phases are resumed and paused, then each gets its start and end reading in order, repeats ignored", async () => {
    let counter = 0;
    // Later reads answer sooner: the order of the calls decides, not the order they settle in.
    const readings = phaseReadings(
      () => new Promise<number>((resolve) => setTimeout(resolve, 50 - counter * 10, ++counter * 100)),
    );
    readings.pause();
    readings.resume();
    readings.resume();
    readings.pause();
    readings.resume();
    expect(await readings.phases()).toEqual([
      { from: 100, to: 200 },
      { from: 300, to: 400 },
    ]);
    expect(await readings.phases()).toEqual([]);
  });
});
